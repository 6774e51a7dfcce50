"""Placement allocations across resize, cold migration and local delete, with
the real services: upstream Placement and Keystone (tests/placement.py),
RabbitMQ, MariaDB, and the real daemons (nova-conductor, nova-scheduler, two
fake nova-computes; test_build's Cloud, every nova.conf with [placement]).

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

import os
import time

import pytest

from nova_runtime import rpc
from nova_runtime.db import engines
from nova_runtime.objects import migrations
from tests import cli
from tests.functional import test_build
from tests.functional.test_build import context, get
from tests.functional.test_services import wait_until

pytestmark = pytest.mark.mysql

RESERVED_MB = test_build.RESERVED_MB
COMPUTES = {"mv1": 8192, "mv2": 6144}
SMALL = dict(test_build.flavor(1024), name="m1.small")
MEDIUM = dict(SMALL, id=2, flavorid="2", name="m1.medium", memory_mb=2048, vcpus=2, root_gb=2)
LARGE = dict(MEDIUM, id=3, flavorid="3", name="m1.large", memory_mb=3072)
OLD = {"VCPU": 1, "MEMORY_MB": 1024, "DISK_GB": 1}
NEW = {"VCPU": 2, "MEMORY_MB": 2048, "DISK_GB": 2}
SERVICE_DOWN_TIME = 5  # the test API's: a stopped compute is down after this


@pytest.fixture(scope="module")
def databases(mariadb):
    prefix, password = f"mov{os.getpid()}_", "NOVA_DBPASS"
    names = {"api": f"{prefix}nova_api", "main": f"{prefix}nova", "cell0": f"{prefix}nova_cell0"}
    statements = []
    for name in names.values():
        statements.append(f"CREATE DATABASE `{name}`;")
        for host in ("localhost", "%"):
            statements.append(f"GRANT ALL PRIVILEGES ON `{name}`.* TO 'nova'@'{host}' "
                              f"IDENTIFIED BY '{password}';")
    mariadb.sql("\n".join(statements))
    yield {key: mariadb.url("nova", password, name) for key, name in names.items()}
    engines.dispose_all()
    mariadb.sql("\n".join(f"DROP DATABASE `{name}`;" for name in names.values()))


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, databases, rabbitmq, placement):
    test_build.delete_providers(placement, COMPUTES)
    started = test_build.Cloud(tmp_path_factory.mktemp("moves"), databases, rabbitmq, placement)
    try:
        started.conductor = started.start("nova-conductor", started.controller_conf)
        started.computes = {
            host: started.start("nova-compute", started.write_conf(host, extra=(
                f"[fake_driver]\nmemory_mb = {RESERVED_MB + memory_mb}\nvcpus = 8\n"
                "local_gb = 100\n")))
            for host, memory_mb in COMPUTES.items()}
        wait_until(lambda: set(started.nodes()) == set(COMPUTES), 60,
                   f"compute nodes: {sorted(started.nodes())}")
        discovered = cli.run("nova-manage", "cell_v2", "discover_hosts",
                             config_file=started.controller_conf)
        assert discovered.returncode == 0, discovered.stderr
        scheduler = started.start("nova-scheduler", started.controller_conf)
        scheduler.wait_for_log(r"Host states: 2 compute node\(s\) in 1 cell", 60)
        scheduler.wait_for_log(r"nova-scheduler on host controller started", 30)
        started.compute_api = started.api()
        started.compute_api.conf.set_override("service_down_time", SERVICE_DOWN_TIME)
        yield started
    finally:
        codes = started.stop()
        rpc.cleanup()
    test_build.delete_providers(placement, COMPUTES)
    assert set(codes.values()) == {0}, codes
    for daemon in started.daemons:
        log = daemon.log()
        assert "Traceback" not in log, f"{daemon.log_path}:\n{log}"
        assert "Cannot give the allocations" not in log, f"{daemon.log_path}:\n{log}"


# --- what Placement says -------------------------------------------------------------------

def held(cloud, consumer):
    """{host: resources} of ``consumer`` (instance or migration uuid) in Placement."""
    hosts = {node["uuid"]: host for host, node in cloud.nodes().items()}
    found = cloud.placement.get(f"/allocations/{consumer}")["allocations"]
    return {hosts[provider]: entry["resources"] for provider, entry in found.items()}


def used(cloud, host):
    """The provider's usages, without the classes nobody uses."""
    usages = cloud.placement.get(
        f"/resource_providers/{cloud.nodes()[host]['uuid']}/usages")["usages"]
    return {resource_class: amount for resource_class, amount in usages.items() if amount}


def assert_placement(cloud, expected_used, expected_held):
    """Usages per host and allocations per consumer, as Placement has them."""
    assert {host: used(cloud, host) for host in COMPUTES} == expected_used
    assert {consumer: held(cloud, consumer) for consumer in expected_held} == expected_held


# --- the steps -----------------------------------------------------------------------------

def wait(cloud, server, predicate, what, timeout=30):
    wait_until(lambda: (lambda i: i is not None and predicate(i))(get(cloud, server)),
               timeout, f"server {server} not {what}: {get(cloud, server)}")
    return get(cloud, server)


def boot(cloud):
    [instance] = cloud.compute_api.create_servers(context(), SMALL, test_build.IMAGE, 1,
                                                  name="vm")
    return wait(cloud, instance["uuid"], lambda i: i["vm_state"] == "active"
                and i["task_state"] is None, "active")


def resized(cloud, server):
    return wait(cloud, server, lambda i: i["vm_state"] == "resized"
                and i["task_state"] is None, "resized")


def settled(cloud, server):
    return wait(cloud, server, lambda i: i["vm_state"] == "active"
                and i["task_state"] is None, "active")


def migration_of(cloud, server):
    return migrations.for_instance(cloud.urls["main"], server)[0]


def delete(cloud, server):
    cloud.compute_api.delete(context(), server)
    wait_until(lambda: get(cloud, server) is None, 30, f"server {server} not deleted")
    wait_until(lambda: not any(used(cloud, host) for host in COMPUTES), 30,
               f"allocations left: {[(host, used(cloud, host)) for host in COMPUTES]}")
    wait_until(lambda: all(node["memory_mb_used"] == RESERVED_MB
                           for node in cloud.nodes().values()), 30,
               f"compute nodes still used: {cloud.nodes()}")
    time.sleep(test_build.REFRESH + 0.2)  # the scheduler's next read sees them free


def test_resize_and_confirm(cloud):
    server = boot(cloud)["uuid"]
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
    wait_until(lambda: not held(cloud, migration["uuid"]), 15, "the migration still holds")
    assert_placement(cloud, {"mv1": {}, "mv2": NEW},
                     {server: {"mv2": NEW}, migration["uuid"]: {}})
    delete(cloud, server)


def test_resize_and_revert(cloud):
    server = boot(cloud)["uuid"]
    cloud.compute_api.resize(context(), server, MEDIUM)
    resized(cloud, server)
    migration = migration_of(cloud, server)["uuid"]
    assert_placement(cloud, {"mv1": OLD, "mv2": NEW},
                     {server: {"mv2": NEW}, migration: {"mv1": OLD}})
    cloud.compute_api.revert_resize(context(), server)
    assert settled(cloud, server)["host"] == "mv1"
    # The instance holds the source's again; the destination's are gone.
    assert_placement(cloud, {"mv1": OLD, "mv2": {}}, {server: {"mv1": OLD}, migration: {}})
    delete(cloud, server)


def test_cold_migration_there_and_back(cloud):
    server = boot(cloud)["uuid"]
    cloud.compute_api.migrate(context(), server)
    assert resized(cloud, server)["host"] == "mv2"
    first = migration_of(cloud, server)["uuid"]
    assert_placement(cloud, {"mv1": OLD, "mv2": OLD},
                     {server: {"mv2": OLD}, first: {"mv1": OLD}})
    cloud.compute_api.confirm_resize(context(), server)
    settled(cloud, server)
    wait_until(lambda: not held(cloud, first), 15, "the first migration still holds")
    assert_placement(cloud, {"mv1": {}, "mv2": OLD}, {server: {"mv2": OLD}})
    time.sleep(test_build.REFRESH + 0.2)

    cloud.compute_api.migrate(context(), server, host="mv1")
    assert resized(cloud, server)["host"] == "mv1"
    second = migration_of(cloud, server)["uuid"]
    assert_placement(cloud, {"mv1": OLD, "mv2": OLD},
                     {server: {"mv1": OLD}, second: {"mv2": OLD}})
    cloud.compute_api.confirm_resize(context(), server)
    settled(cloud, server)
    wait_until(lambda: not held(cloud, second), 15, "the second migration still holds")
    assert_placement(cloud, {"mv1": OLD, "mv2": {}}, {server: {"mv1": OLD}})
    delete(cloud, server)


def test_no_valid_host_gives_the_allocations_back(cloud):
    server = boot(cloud)["uuid"]
    cloud.compute_api.resize(context(), server, dict(MEDIUM, memory_mb=65536))
    after = settled(cloud, server)
    assert after["memory_mb"] == 1024
    migration = migration_of(cloud, server)
    assert migration["status"] == "error"
    assert_placement(cloud, {"mv1": OLD, "mv2": {}},
                     {server: {"mv1": OLD}, migration["uuid"]: {}})
    delete(cloud, server)


def restart_conductor(cloud, extra):
    """The conductor again, with ``extra`` in its nova.conf."""
    cloud.conductor.terminate()
    assert cloud.conductor.wait_stopped(30)[0] == 0
    conf = cloud.tmp_path / "conductor-again.conf"
    conf.write_text(cloud.controller_conf.read_text() + extra)
    cloud.conductor = cloud.start("nova-conductor", conf)
    cloud.conductor.wait_for_log(r"nova-conductor on host controller started", 60)


def test_resize_on_the_same_host_holds_both_on_one_provider(cloud):
    """With allow_resize_to_same_host and mv2 disabled, mv1 takes the
    resize: Placement offers it because it has room for both flavors, and
    its usages are their sum until confirm or revert."""
    restart_conductor(cloud, "[DEFAULT]\nallow_resize_to_same_host = true\n")
    cloud.set_enabled("mv2", False)
    time.sleep(test_build.REFRESH + 0.2)
    try:
        same_host_resizes(cloud)
    finally:
        cloud.set_enabled("mv2", True)
        time.sleep(test_build.REFRESH + 0.2)


def same_host_resizes(cloud):
    server = boot(cloud)["uuid"]
    cloud.compute_api.resize(context(), server, MEDIUM)
    assert resized(cloud, server)["host"] == "mv1"
    migration = migration_of(cloud, server)["uuid"]
    both = {key: OLD[key] + NEW[key] for key in OLD}
    assert_placement(cloud, {"mv1": both, "mv2": {}},
                     {server: {"mv1": NEW}, migration: {"mv1": OLD}})
    cloud.compute_api.confirm_resize(context(), server)
    settled(cloud, server)
    wait_until(lambda: not held(cloud, migration), 15, "the migration still holds")
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
    delete(cloud, server)


def test_local_delete_with_the_compute_down_releases_the_allocations(cloud):
    """A server in VERIFY_RESIZE on mv2 (the migration holding mv1's) whose
    compute is down is deleted by the API itself: both its allocations and
    the migration's go. (mv2 stays stopped: the module's last test.)"""
    server = boot(cloud)["uuid"]
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
    assert get(cloud, server) is None  # at once: no compute took part
    assert_placement(cloud, {"mv1": {}, "mv2": {}}, {server: {}, migration: {}})
