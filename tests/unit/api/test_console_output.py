"""The os-getConsoleOutput server action through the whole in-process stack:
the API, nova-compute c1 with the fake driver (its guest's console log) and
nova-conductor on a fake:// transport (tests/unit/test_console.py's cloud)."""

import types
import uuid

import pytest

from nova_runtime import policies
from nova_runtime.api.handlers import console_output
from nova_runtime.virt import driver as virt_driver
from tests.unit.test_console import cloud, db_url  # noqa: F401  (fixtures)
from tests.unit.test_service import quick_rpc_server_stop  # noqa: F401

MEMBER = {"user": "alice", "project": "demo"}


def get_output(cloud, server_uuid, action=None, version=None, **who):
    body = {"os-getConsoleOutput": {} if action is None else action}
    return cloud.client("POST", f"/v2.1/servers/{server_uuid}/action", body,
                        version=version, **(who or MEMBER))


def output(response):
    assert response.status_int == 200, response.data
    assert set(response.data) == {"output"}
    return response.data["output"]


def fault(response, status):
    assert response.status_int == status, response.data
    return next(iter(response.data.values()))["message"]


def guest_log(cloud, server):
    """What the fake guest wrote: the driver's own answer, for comparison."""
    return cloud.compute.manager.driver.get_console_output(None, server)


def test_the_whole_log_or_its_last_lines(cloud):
    server = cloud.server()
    log = guest_log(cloud, server)
    assert f"fake-guest: ready uuid={server['uuid']}" in log and log.endswith("\n")
    pieces = log.split("\n")  # upstream counts the pieces between newlines
    for unlimited in ({}, {"length": None}, {"length": -1}, {"length": "-1"}):
        assert output(get_output(cloud, server["uuid"], unlimited)) == log
    assert output(get_output(cloud, server["uuid"], {"length": 3})) == "\n".join(pieces[-3:])
    assert output(get_output(cloud, server["uuid"], {"length": "2"})) == "\n".join(pieces[-2:])
    assert output(get_output(cloud, server["uuid"], {"length": 0})) == ""
    assert output(get_output(cloud, server["uuid"], {"length": 10 ** 6})) == log
    # As Tempest counts them: three pieces for length 3.
    assert len(output(get_output(cloud, server["uuid"], {"length": 3})).split("\n")) == 3


def test_in_any_state_on_a_host_and_in_every_microversion(cloud):
    stopped = cloud.server(vm_state="stopped")
    cloud.compute.manager.driver.power_off(stopped)
    text = output(get_output(cloud, stopped["uuid"]))
    assert text.endswith("fake-guest: powered off\n")
    for version in ("2.1", "2.6", "2.100"):
        assert output(get_output(cloud, stopped["uuid"], version=version)) == text


def test_control_characters_are_removed_as_upstream_does(cloud):
    server = cloud.server()
    guest = cloud.compute.manager.driver._instances[server["uuid"]]
    guest.console_log.append("\x1b[1mbold\x1b[0m\ttab\r\x07")
    assert output(get_output(cloud, server["uuid"], {"length": 2})) == "[1mbold[0m\ttab\n"


@pytest.mark.parametrize("length", [2.5, True, "NaN", "1.5", " 1", "", -2, [1], {}])
def test_bad_lengths_are_refused(cloud, length):
    server = cloud.server()
    assert "length" in fault(get_output(cloud, server["uuid"], {"length": length}), 400)


def test_bad_bodies_are_refused(cloud):
    server = cloud.server()
    assert "lines" in fault(get_output(cloud, server["uuid"], {"lines": 3}), 400)
    for body in ("3", None, []):
        fault(cloud.client("POST", f"/v2.1/servers/{server['uuid']}/action",
                           {"os-getConsoleOutput": body}, **MEMBER), 400)


def test_policy_project_member_or_admin(cloud):
    [rule] = [r for r in policies.list_rules() if r.name == "os_compute_api:os-console-output"]
    assert rule.check_str == "rule:project_member_or_admin"
    assert rule.operations == [{"method": "POST",
                                "path": "/servers/{server_id}/action (os-getConsoleOutput)"}]
    server = cloud.server()
    assert output(get_output(cloud, server["uuid"], user="admin", project="admin"))
    reader = {"user": "carol", "project": "demo", "headers": {"X-Roles": "reader"}}
    assert "os_compute_api:os-console-output" in fault(
        get_output(cloud, server["uuid"], **reader), 403)
    # Another project's server is not found rather than forbidden, as for every action.
    fault(get_output(cloud, server["uuid"], user="mallory", project="other"), 404)


def test_errors(cloud):
    assert fault(get_output(cloud, str(uuid.uuid4())), 404).endswith("could not be found.")
    # Known to the database only: the hypervisor has no such instance.
    lost = cloud.server(spawned=False)
    assert fault(get_output(cloud, lost["uuid"]), 404) == (
        f"Instance {lost['uuid']} could not be found.")
    # Never placed on a host (as in cell1 after a failed build): not ready.
    homeless = cloud.server(host=None, spawned=False)
    assert fault(get_output(cloud, homeless["uuid"]), 409) == (
        f"Instance {homeless['uuid']} is not ready")
    # A driver without a console log (the contract's base class): 501.
    server = cloud.server()
    driver = cloud.compute.manager.driver
    driver.get_console_output = types.MethodType(virt_driver.ComputeDriver.get_console_output,
                                                 driver)
    assert fault(get_output(cloud, server["uuid"]), 501) == (
        "The requested functionality is not supported.")


@pytest.mark.parametrize("length, lines", [(None, None), (-1, None), ("-1", None), (0, 0),
                                           ("7", 7), (3, 3)])
def test_tail_length(length, lines):
    assert console_output.tail_length(length) == lines
