"""The trigger_crash_dump server action (2.17) through the whole in-process
stack (tests/unit/test_console.py's cloud: the API, nova-compute c1 with the
fake driver and nova-conductor on a fake:// transport): the cast reaches
the driver, the action and its event are recorded."""

import time

from nova_runtime.states import power_state
from nova_runtime.objects import instance_actions
from tests.unit.test_console import cloud, db_url  # noqa: F401  (fixtures)
from tests.unit.test_service import quick_rpc_server_stop  # noqa: F401

OWNER = {"user": "alice", "project": "demo"}
BODY = {"trigger_crash_dump": None}


def crash_dump(cloud, server_uuid, version="2.17", body=BODY, **who):
    return cloud.client("POST", f"/v2.1/servers/{server_uuid}/action", body,
                        version=version, **(who or OWNER))


def _wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_guest_gets_an_nmi_and_the_action_is_recorded(cloud):
    server = cloud.server()
    response = crash_dump(cloud, server["uuid"])
    assert response.status_int == 202, response.data
    fake = cloud.compute.manager.driver._get(server)
    _wait_for(lambda: fake.nmi_count == 1)

    def finished():
        actions = instance_actions.actions_for(cloud.cell_url, server["uuid"])
        return actions and actions[-1]["events"] and actions[-1]["events"][-1]["result"]
    _wait_for(finished)
    [action] = instance_actions.actions_for(cloud.cell_url, server["uuid"])
    assert action["action"] == "trigger_crash_dump"
    assert [(e["event"], e["result"]) for e in action["events"]] == [
        ("compute_trigger_crash_dump", "Success")]


def test_refusals(cloud):
    server = cloud.server()
    # No such action before 2.17; the body is null.
    assert crash_dump(cloud, server["uuid"], version="2.16").status_int == 404
    assert crash_dump(cloud, server["uuid"], body={"trigger_crash_dump": {}}).status_int == 400
    stopped = cloud.server(vm_state="stopped")
    conflict = crash_dump(cloud, stopped["uuid"])
    assert conflict.status_int == 409
    assert conflict.data["conflictingRequest"]["message"] == (
        f"Cannot 'trigger_crash_dump' instance {stopped['uuid']} while it is in vm_state "
        "stopped")
    busy = cloud.server(task_state="rebooting")
    assert crash_dump(cloud, busy["uuid"]).status_int == 409
    assert crash_dump(cloud, server["uuid"], user="bob", project="other").status_int == 404


def test_a_refused_nmi_is_the_servers_fault(cloud):
    server = cloud.server(vm_state="paused")
    fake = cloud.compute.manager.driver._get(server)
    fake.state = power_state.PAUSED  # the fake driver takes NMIs only when running
    assert crash_dump(cloud, server["uuid"]).status_int == 202
    _wait_for(lambda: instance_actions.faults_for(cloud.cell_url, server["uuid"]))
    [fault] = instance_actions.faults_for(cloud.cell_url, server["uuid"])
    assert "cannot inject an NMI" in fault["message"]
    _wait_for(lambda: instance_actions.actions_for(cloud.cell_url, server["uuid"])[-1][
        "message"] == "Error")
    assert fake.nmi_count == 0
