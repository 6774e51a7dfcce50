"""Resize with confirm and revert, and cold migration, with real processes:
nova-conductor (super-conductor and cell1's conductor), nova-scheduler and
two nova-computes on the tests' private RabbitMQ and MariaDB, cells set up
with nova-manage; the actions go through nova_runtime.compute.api from the
test process.

The computes (fake driver, [DEFAULT] reserved_host_memory_mb = 256, RAM
allocation ratio 1.0, the scheduler weighs by free RAM only, the source
host is never a destination):

    c1  8 GiB RAM     c2  6 GiB RAM

so a new server lands on c1 and a resize or migration goes to c2. Each test
deletes its servers and waits until both computes report them gone.
"""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import os
import time

import pytest

from nova_runtime import config, context as nova_context, rpc
from nova_runtime.compute import api as compute_api
from nova_runtime.compute import power_state
from nova_runtime.db import engines
from nova_runtime.objects import compute_nodes, exceptions, instance_actions, migrations
from tests import cli
from tests.functional.test_manage import setup_cells
from tests.functional.test_services import Daemon, wait_until

pytestmark = pytest.mark.mysql

RESERVED_MB = 256
COMPUTES = {"c1": 8192, "c2": 6144}
IMAGE = {"id": "155d900f-4e14-4e4c-a73d-069cbf4541e6", "min_ram": 0, "min_disk": 0,
         "properties": {"os_type": "linux"}}
SMALL = {"id": 1, "flavorid": "1", "name": "m1.small", "memory_mb": 1024, "vcpus": 1,
         "root_gb": 1, "ephemeral_gb": 0, "swap": 0, "extra_specs": {}}
MEDIUM = dict(SMALL, id=2, flavorid="2", name="m1.medium", memory_mb=2048, vcpus=2, root_gb=2)

CONF = """\
[DEFAULT]
host = {host}
transport_url = {transport_url}
my_ip = 127.0.0.1
state_path = {state_path}
report_interval = 2
periodic_interval = 1
rpc_response_timeout = 10
compute_driver = fake.FakeDriver
reserved_host_memory_mb = {reserved}
ram_allocation_ratio = 1.0
[scheduler]
host_state_refresh_interval = 1
[filter_scheduler]
weight_classes = RAMWeigher
[oslo_messaging_rabbit]
rabbit_retry_interval = 1
rabbit_retry_backoff = 1
rabbit_interval_max = 2
"""


@pytest.fixture(scope="module")
def databases(mariadb):
    prefix, password = f"life{os.getpid()}_", "NOVA_DBPASS"
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


class Cloud:
    def __init__(self, tmp_path, urls, rabbitmq):
        self.tmp_path, self.urls, self.rabbitmq = tmp_path, urls, rabbitmq
        self.daemons = []
        self.controller_conf = self.write_conf("controller", (
            f"[api_database]\nconnection = {urls['api']}\n"
            f"[database]\nconnection = {urls['main']}\n"))
        setup_cells(self.controller_conf)

    def write_conf(self, host, extra=""):
        path = self.tmp_path / f"{host}.conf"
        path.write_text(CONF.format(host=host, transport_url=self.rabbitmq.url,
                                    state_path=self.tmp_path / host,
                                    reserved=RESERVED_MB) + extra)
        return path

    def start(self, binary, conf):
        daemon = Daemon(binary, conf, self.tmp_path / f"{binary}-{conf.stem}.log")
        self.daemons.append(daemon)
        return daemon

    def stop(self):
        for daemon in self.daemons:
            daemon.terminate()
        codes = {daemon.log_path.name: daemon.wait_stopped(30)[0] for daemon in self.daemons}
        for daemon in self.daemons:
            daemon.kill()
        return codes

    def api(self):
        conf = config.new_conf()
        rpc.set_defaults(conf)
        config.load(conf, ["--config-file", str(self.controller_conf)], prog="test",
                    default_config_files=[])
        return compute_api.API(conf)

    def used(self):
        """{host: (memory_mb_used without the reserved RAM, vcpus_used, local_gb_used)}."""
        return {node["host"]: (node["memory_mb_used"] - RESERVED_MB, node["vcpus_used"],
                               node["local_gb_used"])
                for node in compute_nodes.list_nodes(self.urls["main"])}

    def wait_used(self, expected, timeout=30):
        wait_until(lambda: self.used() == expected, timeout,
                   f"usage {self.used()} is not {expected}")

    def get(self, server):
        try:
            return self.compute_api.get(context(), server)
        except exceptions.InstanceNotFound:
            return None

    def wait(self, server, predicate, what, timeout=30):
        wait_until(lambda: (lambda i: i is not None and predicate(i))(self.get(server)),
                   timeout, f"server {server} not {what}: {self.get(server)}")
        return self.get(server)

    def boot(self):
        [instance] = self.compute_api.create_servers(context(), SMALL, IMAGE, 1, name="vm")
        return self.wait(instance["uuid"], lambda i: i["vm_state"] == "active"
                         and i["task_state"] is None, "active")

    def delete(self, server):
        self.compute_api.delete(context(), server)
        wait_until(lambda: self.get(server) is None, 30, f"server {server} not deleted")
        self.wait_used({"c1": (0, 0, 0), "c2": (0, 0, 0)})
        time.sleep(1.2)  # the scheduler's next read sees the free hosts


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, databases, rabbitmq):
    started = Cloud(tmp_path_factory.mktemp("lifecycle"), databases, rabbitmq)
    try:
        started.start("nova-conductor", started.controller_conf)
        for host, memory_mb in COMPUTES.items():
            started.start("nova-compute", started.write_conf(
                host, f"[fake_driver]\nmemory_mb = {memory_mb}\nvcpus = 8\nlocal_gb = 100\n"))
        wait_until(lambda: set(started.used()) == set(COMPUTES), 60,
                   f"compute nodes: {started.used()}")
        discovered = cli.run("nova-manage", "cell_v2", "discover_hosts",
                             config_file=started.controller_conf)
        assert discovered.returncode == 0, discovered.stderr
        scheduler = started.start("nova-scheduler", started.controller_conf)
        scheduler.wait_for_log(r"nova-scheduler on host controller started", 60)
        started.compute_api = started.api()
        yield started
    finally:
        codes = started.stop()
        rpc.cleanup()
    assert set(codes.values()) == {0}, codes
    for daemon in started.daemons:
        assert "Traceback" not in daemon.log(), f"{daemon.log_path}:\n{daemon.log()}"


def context():
    return nova_context.RequestContext(user_id="u1", project_id="p1", overwrite=False)


def events(cloud, server, action):
    """(event, result, host) of the server's ``action``, once none is in progress."""
    def finished():
        found = [(event["event"], event["result"], event["host"])
                 for record in instance_actions.actions_for(cloud.urls["main"], server)
                 if record["action"] == action for event in record["events"]]
        return found if found and all(result for _, result, _ in found) else None

    wait_until(finished, 15, f"{action} events of {server} still in progress")
    return finished()


def test_resize_and_confirm(cloud):
    server = cloud.boot()["uuid"]
    cloud.compute_api.resize(context(), server, MEDIUM)
    resized = cloud.wait(server, lambda i: i["vm_state"] == "resized", "resized")
    assert (resized["host"], resized["task_state"], resized["power_state"]) == (
        "c2", None, power_state.RUNNING)
    assert (resized["memory_mb"], resized["vcpus"], resized["root_gb"]) == (2048, 2, 2)
    [migration] = migrations.for_instance(cloud.urls["main"], server)
    assert (migration["status"], migration["migration_type"], migration["source_compute"],
            migration["dest_compute"]) == ("finished", "resize", "c1", "c2")
    # Until the user decides, c1 keeps the old flavor and c2 holds the new one.
    cloud.wait_used({"c1": (1024, 1, 1), "c2": (2048, 2, 2)})
    assert events(cloud, server, "resize") == [
        ("conductor_migrate_server", "Success", None),
        ("compute_prep_resize", "Success", "c2"),
        ("compute_resize_instance", "Success", "c1"),
        ("compute_finish_resize", "Success", "c2")]

    cloud.compute_api.confirm_resize(context(), server)
    confirmed = cloud.wait(server, lambda i: i["vm_state"] == "active", "confirmed")
    assert (confirmed["host"], confirmed["memory_mb"]) == ("c2", 2048)
    assert migrations.for_instance(cloud.urls["main"], server)[0]["status"] == "confirmed"
    cloud.wait_used({"c1": (0, 0, 0), "c2": (2048, 2, 2)})
    assert events(cloud, server, "confirmResize") == [
        ("compute_confirm_resize", "Success", "c1")]
    with pytest.raises(compute_api.InstanceInvalidState):
        cloud.compute_api.revert_resize(context(), server)
    cloud.delete(server)


def test_resize_and_revert(cloud):
    server = cloud.boot()["uuid"]
    cloud.compute_api.resize(context(), server, MEDIUM)
    cloud.wait(server, lambda i: i["vm_state"] == "resized", "resized")
    cloud.wait_used({"c1": (1024, 1, 1), "c2": (2048, 2, 2)})
    cloud.compute_api.revert_resize(context(), server)
    reverted = cloud.wait(server, lambda i: i["vm_state"] == "active"
                          and i["task_state"] is None, "reverted")
    assert (reverted["host"], reverted["memory_mb"], reverted["vcpus"],
            reverted["power_state"]) == ("c1", 1024, 1, power_state.RUNNING)
    assert migrations.for_instance(cloud.urls["main"], server)[0]["status"] == "reverted"
    assert migrations.get_flavors(cloud.urls["main"], server)["cur"]["name"] == "m1.small"
    cloud.wait_used({"c1": (1024, 1, 1), "c2": (0, 0, 0)})
    assert events(cloud, server, "revertResize") == [
        ("compute_revert_resize", "Success", "c2"),
        ("compute_finish_revert_resize", "Success", "c1")]
    cloud.delete(server)


def test_cold_migration_there_and_back(cloud):
    server = cloud.boot()["uuid"]
    cloud.compute_api.migrate(context(), server)
    migrated = cloud.wait(server, lambda i: i["vm_state"] == "resized", "migrated")
    assert (migrated["host"], migrated["memory_mb"]) == ("c2", 1024)
    cloud.wait_used({"c1": (1024, 1, 1), "c2": (1024, 1, 1)})
    cloud.compute_api.confirm_resize(context(), server)
    cloud.wait(server, lambda i: i["vm_state"] == "active", "confirmed")
    cloud.wait_used({"c1": (0, 0, 0), "c2": (1024, 1, 1)})
    time.sleep(1.2)  # the scheduler's next read sees c1 free again

    cloud.compute_api.migrate(context(), server, host="c1")
    back = cloud.wait(server, lambda i: i["vm_state"] == "resized", "migrated back")
    assert back["host"] == "c1"
    cloud.compute_api.confirm_resize(context(), server)
    cloud.wait(server, lambda i: i["vm_state"] == "active", "confirmed")
    cloud.wait_used({"c1": (1024, 1, 1), "c2": (0, 0, 0)})
    assert [(m["migration_type"], m["source_compute"], m["dest_compute"], m["status"])
            for m in migrations.for_instance(cloud.urls["main"], server)] == [
        ("migration", "c2", "c1", "confirmed"), ("migration", "c1", "c2", "confirmed")]
    cloud.delete(server)
