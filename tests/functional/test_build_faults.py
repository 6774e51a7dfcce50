"""Builds end ACTIVE or ERROR with a fault, whatever happens on the way:
real nova-conductor, nova-scheduler and nova-compute processes on the
tests' MariaDB and RabbitMQ, with Placement (harness/cloud.py's Cloud).

- A value the cell database cannot hold (an accessIPv6 longer than its
  column: MariaDB's DataError) ends the server in cell0, in ERROR, with a
  fault; nothing stays in BUILD.
- nova-compute killed (SIGKILL) while it spawns servers (one of them being
  deleted), then started again with the same command line: its start-up
  recovery (compute.recovery) puts the interrupted builds in ERROR with a
  fault and finishes the delete; everything can be deleted, with no
  allocation left in Placement.

c1 is the only compute; its fake driver takes SPAWN_DELAY seconds per spawn.
"""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import pytest

from nova_runtime import cells
from nova_runtime.objects import build_requests, exceptions, instance_actions
from harness.cloud import Cloud, Compute, context, flavor
from harness.databases import module_databases
from harness.processes import wait_until

pytestmark = pytest.mark.mysql

SPAWN_DELAY = 4
COMPUTES = {"c1": Compute(8192, options={"fake_driver": {"spawn_delay": SPAWN_DELAY}})}

databases = module_databases("bfault")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, databases, rabbitmq, placement):
    started = Cloud(tmp_path_factory.mktemp("bfault"), databases, rabbitmq, placement)
    with started.running(COMPUTES) as running:
        yield running


def fault_of(cloud, server):
    """The server's newest fault, from its cell (cell1 or cell0)."""
    found = cloud.get(server)
    key = "cell0" if found["cell_uuid"] == cells.CELL0_UUID else "main"
    return instance_actions.faults_for(cloud.urls[key], server)[0]


def test_a_value_the_database_cannot_hold_ends_in_error_with_a_fault(cloud):
    [server] = cloud.create(flavor(), access_ip_v6="2001:db8::" + "1" * 300)
    [found] = cloud.wait_settled([server], timeout=30)
    assert (found["vm_state"], found["cell_uuid"]) == ("error", cells.CELL0_UUID)
    fault = fault_of(cloud, server)
    assert fault["message"] == "Build failed: DBDataError"
    assert "Data too long" in fault["details"]
    with pytest.raises(exceptions.BuildRequestNotFound):
        build_requests.get(cloud.urls["api"], server)
    cloud.delete_all([server])


def test_compute_killed_mid_build_and_restarted(cloud):
    servers = cloud.create(flavor(), count=3)
    # Every one claimed on c1 and spawning when the process dies.
    wait_until(lambda: all((cloud.get(s) or {}).get("task_state") == "spawning"
                           for s in servers), 30, "not spawning")
    # One is deleted meanwhile: task_state deleting; its terminate waits for the spawn.
    deleted, servers = servers[0], servers[1:]
    cloud.compute_api.delete(context(), deleted)
    assert cloud.get(deleted)["task_state"] == "deleting"
    daemon = cloud.computes["c1"]
    daemon.process.kill()
    daemon.process.wait()
    cloud.daemons.remove(daemon)  # its exit code is -9, on purpose
    restarted = cloud.start("nova-compute", cloud.compute_conf("c1", COMPUTES["c1"]))
    cloud.computes["c1"] = restarted
    # The log file is the killed process's too: its second start line.
    wait_until(lambda: restarted.log().count("nova-compute on host c1 started") == 2, 60,
               "not restarted")

    wait_until(lambda: cloud.get(deleted) is None, 60, "the deleting server not deleted")
    found = cloud.wait_settled(servers, timeout=60)
    for instance in found:
        assert instance["vm_state"] in ("active", "error"), instance
        if instance["vm_state"] == "error":
            assert fault_of(cloud, instance["uuid"])["message"].startswith(
                "Instance failed to spawn: nova-compute restarted"), instance
    assert {i["vm_state"] for i in found} == {"error"}  # both were spawning
    # The restarted compute builds again.
    [after] = cloud.create(flavor())
    [instance] = cloud.wait_settled([after], timeout=30)
    assert (instance["vm_state"], instance["host"]) == ("active", "c1")
    cloud.delete_all(servers + [after])
