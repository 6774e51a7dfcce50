"""Resize with confirm and revert, and cold migration, with real processes:
nova-conductor (super-conductor and cell1's conductor), nova-scheduler and
two nova-computes on the tests' private RabbitMQ and MariaDB, cells set up
with nova-manage (harness/cloud.py's Cloud, periodic tasks every second); the
actions go through nova_runtime.compute.api from the test process.

The computes (fake driver, [DEFAULT] reserved_host_memory_mb = 256, RAM
allocation ratio 1.0, the scheduler weighs by free RAM only, the source
host is never a destination):

    c1  8 GiB RAM     c2  6 GiB RAM

so a new server lands on c1 and a resize or migration goes to c2. Each test
deletes its servers and waits until both computes report them gone.
"""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import time

import pytest

from nova_runtime.compute import api as compute_api
from nova_runtime.states import power_state
from nova_runtime.objects import instances, migrations
from harness.cloud import MEDIUM, REFRESH, RESERVED_MB, Cloud, Compute, context, events
from harness.databases import module_databases
from harness.processes import wait_until

pytestmark = pytest.mark.mysql

COMPUTES = {"c1": Compute(8192), "c2": Compute(6144)}

databases = module_databases("life")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, databases, rabbitmq):
    started = Cloud(tmp_path_factory.mktemp("lifecycle"), databases, rabbitmq,
                    DEFAULT={"periodic_interval": 1})
    with started.running(COMPUTES) as running:
        yield running


def used(cloud):
    """{host: (memory_mb_used without the reserved RAM, vcpus_used, local_gb_used)}."""
    return {host: (node["memory_mb_used"] - RESERVED_MB, node["vcpus_used"],
                   node["local_gb_used"]) for host, node in cloud.nodes().items()}


def wait_used(cloud, expected, timeout=30):
    wait_until(lambda: used(cloud) == expected, timeout,
               f"usage {used(cloud)} is not {expected}")


def action_events(cloud, server, action):
    """(event, result, host) of the server's ``action``, once none is in progress."""
    return [(event, result, host)
            for _, event, result, host in events(cloud.urls["main"], server, action)]


def test_resize_and_confirm(cloud):
    server = cloud.boot()["uuid"]
    cloud.compute_api.resize(context(), server, MEDIUM)
    resized = cloud.wait_for(server, lambda i: i["vm_state"] == "resized", "resized")
    assert (resized["host"], resized["task_state"], resized["power_state"]) == (
        "c2", None, power_state.RUNNING)
    assert (resized["memory_mb"], resized["vcpus"], resized["root_gb"]) == (2048, 2, 2)
    [migration] = migrations.for_instance(cloud.urls["main"], server)
    assert (migration["status"], migration["migration_type"], migration["source_compute"],
            migration["dest_compute"]) == ("finished", "resize", "c1", "c2")
    # Until the user decides, c1 keeps the old flavor and c2 holds the new one.
    wait_used(cloud, {"c1": (1024, 1, 1), "c2": (2048, 2, 2)})
    assert action_events(cloud, server, "resize") == [
        ("conductor_migrate_server", "Success", None),
        ("compute_prep_resize", "Success", "c2"),
        ("compute_resize_instance", "Success", "c1"),
        ("compute_finish_resize", "Success", "c2")]

    cloud.compute_api.confirm_resize(context(), server)
    confirmed = cloud.wait_for(server, lambda i: i["vm_state"] == "active", "confirmed")
    assert (confirmed["host"], confirmed["memory_mb"]) == ("c2", 2048)
    assert migrations.for_instance(cloud.urls["main"], server)[0]["status"] == "confirmed"
    wait_used(cloud, {"c1": (0, 0, 0), "c2": (2048, 2, 2)})
    assert action_events(cloud, server, "confirmResize") == [
        ("compute_confirm_resize", "Success", "c1")]
    with pytest.raises(compute_api.InstanceInvalidState):
        cloud.compute_api.revert_resize(context(), server)
    cloud.delete_all([server])


def test_resize_and_revert(cloud):
    server = cloud.boot()["uuid"]
    cloud.compute_api.resize(context(), server, MEDIUM)
    cloud.wait_for(server, lambda i: i["vm_state"] == "resized", "resized")
    wait_used(cloud, {"c1": (1024, 1, 1), "c2": (2048, 2, 2)})
    cloud.compute_api.revert_resize(context(), server)
    reverted = cloud.wait_for(server, lambda i: i["vm_state"] == "active"
                              and i["task_state"] is None, "reverted")
    assert (reverted["host"], reverted["memory_mb"], reverted["vcpus"],
            reverted["power_state"]) == ("c1", 1024, 1, power_state.RUNNING)
    assert migrations.for_instance(cloud.urls["main"], server)[0]["status"] == "reverted"
    assert instances.get_flavor(cloud.urls["main"], server)["name"] == "m1.small"
    wait_used(cloud, {"c1": (1024, 1, 1), "c2": (0, 0, 0)})
    assert action_events(cloud, server, "revertResize") == [
        ("compute_revert_resize", "Success", "c2"),
        ("compute_finish_revert_resize", "Success", "c1")]
    cloud.delete_all([server])


def test_cold_migration_there_and_back(cloud):
    server = cloud.boot()["uuid"]
    cloud.compute_api.migrate(context(), server)
    migrated = cloud.wait_for(server, lambda i: i["vm_state"] == "resized", "migrated")
    assert (migrated["host"], migrated["memory_mb"]) == ("c2", 1024)
    wait_used(cloud, {"c1": (1024, 1, 1), "c2": (1024, 1, 1)})
    cloud.compute_api.confirm_resize(context(), server)
    cloud.wait_for(server, lambda i: i["vm_state"] == "active", "confirmed")
    wait_used(cloud, {"c1": (0, 0, 0), "c2": (1024, 1, 1)})
    time.sleep(REFRESH + 0.2)  # the scheduler's next read sees c1 free again

    cloud.compute_api.migrate(context(), server, host="c1")
    back = cloud.wait_for(server, lambda i: i["vm_state"] == "resized", "migrated back")
    assert back["host"] == "c1"
    cloud.compute_api.confirm_resize(context(), server)
    cloud.wait_for(server, lambda i: i["vm_state"] == "active", "confirmed")
    wait_used(cloud, {"c1": (1024, 1, 1), "c2": (0, 0, 0)})
    assert [(m["migration_type"], m["source_compute"], m["dest_compute"], m["status"])
            for m in migrations.for_instance(cloud.urls["main"], server)] == [
        ("migration", "c2", "c1", "confirmed"), ("migration", "c1", "c2", "confirmed")]
    cloud.delete_all([server])
