"""Placement allocations across resize, cold migration and local delete, with
the real services: upstream Placement and Keystone (harness/placement.py),
RabbitMQ, MariaDB, and the real daemons (nova-conductor, nova-scheduler, two
fake nova-computes; harness/cloud.py's Cloud, every nova.conf with [placement]).

After each step, Placement itself is asked what each consumer holds (GET
/allocations/{consumer}) and what each provider has in use (GET
/resource_providers/{uuid}/usages): during a move the migration record's
uuid holds the source's allocations and the instance's uuid the
destination's; confirm leaves the destination's, revert the source's.

The computes (fake driver, reserved_host_memory_mb = 256, RAM weigher):

    mv1  8 GiB RAM   mv2  6 GiB RAM

so a new server lands on mv1, and a resize or migration goes to mv2 unless
the source host is allowed (the last tests).
"""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import time

import pytest

from nova_runtime.objects import migrations
from harness.cloud import MEDIUM, REFRESH, RESERVED_MB, Cloud, Compute, context
from harness.databases import module_databases
from harness.processes import wait_until

pytestmark = pytest.mark.mysql

COMPUTES = {"mv1": Compute(RESERVED_MB + 8192), "mv2": Compute(RESERVED_MB + 6144)}
LARGE = dict(MEDIUM, id=3, flavorid="3", name="m1.large", memory_mb=3072)
OLD = {"VCPU": 1, "MEMORY_MB": 1024, "DISK_GB": 1}
NEW = {"VCPU": 2, "MEMORY_MB": 2048, "DISK_GB": 2}
SERVICE_DOWN_TIME = 5  # the test API's: a stopped compute is down after this

databases = module_databases("mov")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, databases, rabbitmq, placement):
    started = Cloud(tmp_path_factory.mktemp("moves"), databases, rabbitmq, placement)
    with started.running(COMPUTES, forbidden=("Cannot give the allocations",)) as running:
        running.compute_api.conf.set_override("service_down_time", SERVICE_DOWN_TIME)
        yield running


# --- what Placement says -------------------------------------------------------------------

def assert_placement(cloud, expected_used, expected_held):
    """Usages per host and allocations per consumer, as Placement has them."""
    assert {host: cloud.usages(host) for host in COMPUTES} == expected_used
    assert {consumer: cloud.allocations(consumer) for consumer in expected_held} == expected_held


# --- the steps -----------------------------------------------------------------------------

def resized(cloud, server):
    return cloud.wait_for(server, lambda i: i["vm_state"] == "resized"
                          and i["task_state"] is None, "resized")


def settled(cloud, server):
    return cloud.wait_for(server, lambda i: i["vm_state"] == "active"
                          and i["task_state"] is None, "active")


def migration_of(cloud, server):
    return migrations.for_instance(cloud.urls["main"], server)[0]


def test_resize_and_confirm(cloud):
    server = cloud.boot()["uuid"]
    assert_placement(cloud, {"mv1": OLD, "mv2": {}}, {server: {"mv1": OLD}})
    cloud.compute_api.resize(context(), server, MEDIUM)
    assert resized(cloud, server)["host"] == "mv2"
    migration = migration_of(cloud, server)
    assert (migration["source_compute"], migration["dest_compute"]) == ("mv1", "mv2")
    # The source's allocations belong to the migration until the user decides.
    assert_placement(cloud, {"mv1": OLD, "mv2": NEW},
                     {server: {"mv2": NEW}, migration["uuid"]: {"mv1": OLD}})
    consumer = cloud.placement.get(f"/allocations/{migration['uuid']}")
    assert (consumer["project_id"], consumer["user_id"]) == ("p1", "u1")

    cloud.compute_api.confirm_resize(context(), server)
    settled(cloud, server)
    wait_until(lambda: not cloud.allocations(migration["uuid"]), 15, "the migration still holds")
    assert_placement(cloud, {"mv1": {}, "mv2": NEW},
                     {server: {"mv2": NEW}, migration["uuid"]: {}})
    cloud.delete_all([server])


def test_resize_and_revert(cloud):
    server = cloud.boot()["uuid"]
    cloud.compute_api.resize(context(), server, MEDIUM)
    resized(cloud, server)
    migration = migration_of(cloud, server)["uuid"]
    assert_placement(cloud, {"mv1": OLD, "mv2": NEW},
                     {server: {"mv2": NEW}, migration: {"mv1": OLD}})
    cloud.compute_api.revert_resize(context(), server)
    assert settled(cloud, server)["host"] == "mv1"
    # The instance holds the source's again; the destination's are gone.
    assert_placement(cloud, {"mv1": OLD, "mv2": {}}, {server: {"mv1": OLD}, migration: {}})
    cloud.delete_all([server])


def test_cold_migration_there_and_back(cloud):
    server = cloud.boot()["uuid"]
    cloud.compute_api.migrate(context(), server)
    assert resized(cloud, server)["host"] == "mv2"
    first = migration_of(cloud, server)["uuid"]
    assert_placement(cloud, {"mv1": OLD, "mv2": OLD},
                     {server: {"mv2": OLD}, first: {"mv1": OLD}})
    cloud.compute_api.confirm_resize(context(), server)
    settled(cloud, server)
    wait_until(lambda: not cloud.allocations(first), 15, "the first migration still holds")
    assert_placement(cloud, {"mv1": {}, "mv2": OLD}, {server: {"mv2": OLD}})
    time.sleep(REFRESH + 0.2)

    cloud.compute_api.migrate(context(), server, host="mv1")
    assert resized(cloud, server)["host"] == "mv1"
    second = migration_of(cloud, server)["uuid"]
    assert_placement(cloud, {"mv1": OLD, "mv2": OLD},
                     {server: {"mv1": OLD}, second: {"mv2": OLD}})
    cloud.compute_api.confirm_resize(context(), server)
    settled(cloud, server)
    wait_until(lambda: not cloud.allocations(second), 15, "the second migration still holds")
    assert_placement(cloud, {"mv1": OLD, "mv2": {}}, {server: {"mv1": OLD}})
    cloud.delete_all([server])


def test_no_valid_host_gives_the_allocations_back(cloud):
    server = cloud.boot()["uuid"]
    cloud.compute_api.resize(context(), server, dict(MEDIUM, memory_mb=65536))
    after = settled(cloud, server)
    assert after["memory_mb"] == 1024
    migration = migration_of(cloud, server)
    assert migration["status"] == "error"
    assert_placement(cloud, {"mv1": OLD, "mv2": {}},
                     {server: {"mv1": OLD}, migration["uuid"]: {}})
    cloud.delete_all([server])


def restart_conductor(cloud, extra):
    """The conductor again, with ``extra`` in its nova.conf."""
    cloud.conductor.terminate()
    assert cloud.conductor.wait_stopped(30)[0] == 0
    conf = cloud.workdir / "conductor-again.conf"
    conf.write_text(cloud.controller_conf.read_text() + extra)
    cloud.conductor = cloud.start("nova-conductor", conf)
    cloud.conductor.wait_for_log(r"nova-conductor on host controller started", 60)


def test_resize_on_the_same_host_holds_both_on_one_provider(cloud):
    """With allow_resize_to_same_host and mv2 disabled, mv1 takes the
    resize: Placement offers it because it has room for both flavors, and
    its usages are their sum until confirm or revert."""
    restart_conductor(cloud, "[DEFAULT]\nallow_resize_to_same_host = true\n")
    cloud.set_enabled("mv2", False)
    time.sleep(REFRESH + 0.2)
    try:
        same_host_resizes(cloud)
    finally:
        cloud.set_enabled("mv2", True)
        time.sleep(REFRESH + 0.2)


def same_host_resizes(cloud):
    server = cloud.boot()["uuid"]
    cloud.compute_api.resize(context(), server, MEDIUM)
    assert resized(cloud, server)["host"] == "mv1"
    migration = migration_of(cloud, server)["uuid"]
    both = {key: OLD[key] + NEW[key] for key in OLD}
    assert_placement(cloud, {"mv1": both, "mv2": {}},
                     {server: {"mv1": NEW}, migration: {"mv1": OLD}})
    cloud.compute_api.confirm_resize(context(), server)
    settled(cloud, server)
    wait_until(lambda: not cloud.allocations(migration), 15, "the migration still holds")
    assert_placement(cloud, {"mv1": NEW, "mv2": {}}, {server: {"mv1": NEW}})

    cloud.compute_api.resize(context(), server, LARGE)
    assert resized(cloud, server)["host"] == "mv1"
    migration = migration_of(cloud, server)["uuid"]
    larger = dict(NEW, MEMORY_MB=3072)
    assert_placement(cloud, {"mv1": {key: NEW[key] + larger[key] for key in NEW}, "mv2": {}},
                     {server: {"mv1": larger}, migration: {"mv1": NEW}})
    cloud.compute_api.revert_resize(context(), server)
    settled(cloud, server)
    assert_placement(cloud, {"mv1": NEW, "mv2": {}}, {server: {"mv1": NEW}, migration: {}})
    cloud.delete_all([server])


def test_local_delete_with_the_compute_down_releases_the_allocations(cloud):
    """A server in VERIFY_RESIZE on mv2 (the migration holding mv1's) whose
    compute is down is deleted by the API itself: both its allocations and
    the migration's go. (mv2 stays stopped: the module's last test.)"""
    server = cloud.boot()["uuid"]
    cloud.compute_api.migrate(context(), server, host="mv2")
    resized(cloud, server)
    migration = migration_of(cloud, server)["uuid"]
    assert_placement(cloud, {"mv1": OLD, "mv2": OLD},
                     {server: {"mv2": OLD}, migration: {"mv1": OLD}})
    compute = cloud.computes["mv2"]
    compute.terminate()
    assert compute.wait_stopped(30)[0] == 0
    time.sleep(SERVICE_DOWN_TIME + 1)
    cloud.compute_api.delete(context(), server)
    assert cloud.get(server) is None  # at once: no compute took part
    assert_placement(cloud, {"mv1": {}, "mv2": {}}, {server: {}, migration: {}})
