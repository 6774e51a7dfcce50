"""Two cells with real processes: the cells v2 picture of the seed.

At the top (the API level): the super-conductor and nova-scheduler on the
RabbitMQ virtual host ``nova``, with [api_database] and cell0's database as
their [database]. Each of cell1 and cell2 has a database of its own on the
tests' MariaDB, a virtual host of its own on the tests' RabbitMQ node, its own
nova-conductor (no API database) and two fake nova-computes that reach only
their cell's queue. Every daemon reports to, or schedules with, the real
Placement. The cells are made as an operator makes them: nova-manage
cell_v2 map_cell0 / create_cell --transport-url --database_connection, db
sync per cell, discover_hosts.

The computes ([DEFAULT] reserved_host_memory_mb = 256, RAM weigher only):

    cell1-a 10 GiB   cell1-b 6 GiB      (cell1)
    cell2-a 12 GiB   cell2-b 4 GiB      (cell2)
"""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import os
import time

import pytest

from nova_runtime import config, rpc
from nova_runtime.compute import api as compute_api
from nova_runtime.compute import power_state
from nova_runtime.db import engines
from nova_runtime.objects import compute_nodes, exceptions, instance_mappings, instances
from tests import cli
from tests.functional.test_build import (
    COMMON, IMAGE, REFRESH, RESERVED_MB, context, delete_providers, events, flavor)
from tests.functional.test_manage import manage
from tests.functional.test_services import Daemon, wait_until

pytestmark = pytest.mark.mysql

CELLS = ("cell1", "cell2")
COMPUTES = {"cell1-a": ("cell1", 10240), "cell1-b": ("cell1", 6144),
            "cell2-a": ("cell2", 12288), "cell2-b": ("cell2", 4096)}


@pytest.fixture(scope="module")
def databases(mariadb):
    """nova_api, nova_cell0 and one database per cell."""
    prefix, password = f"cells{os.getpid()}_", "NOVA_DBPASS"
    names = {"api": f"{prefix}nova_api", "cell0": f"{prefix}nova_cell0",
             **{cell: f"{prefix}nova_{cell}" for cell in CELLS}}
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


class Cells:
    def __init__(self, tmp_path, databases, rabbitmq, placement):
        self.tmp_path, self.urls, self.rabbitmq = tmp_path, databases, rabbitmq
        self.placement = placement
        self.daemons = []
        self.transport = {"top": rabbitmq.url,
                          **{cell: rabbitmq.add_vhost(f"nova-{cell}") for cell in CELLS}}
        self.controller_conf = self.write_conf("controller", "top", extra=(
            f"[api_database]\nconnection = {databases['api']}\n"
            f"[database]\nconnection = {databases['cell0']}\n"))
        self.uuids = self.create_cells()

    def write_conf(self, host, queue, driver="fake.FakeDriver", extra=""):
        path = self.tmp_path / f"{host}.conf"
        path.write_text(COMMON.format(
            host=host, transport_url=self.transport[queue], state_path=self.tmp_path / host,
            periodic_interval=1, driver=driver, reserved=RESERVED_MB, refresh=REFRESH)
            + extra + self.placement.nova_conf_section())
        return path

    def cell_conf(self, cell):
        """The nova.conf of a cell's conductor: its queue and database only."""
        return self.write_conf(f"conductor-{cell}", cell, extra=(
            f"[database]\nconnection = {self.urls[cell]}\n"))

    def create_cells(self):
        """nova-manage as an operator runs it; {cell name: uuid}."""
        conf = self.controller_conf
        for args in (("api_db", "sync"),
                     ("cell_v2", "map_cell0", f"--database_connection={self.urls['cell0']}"),
                     ("db", "sync")):
            done = manage(conf, *args)
            assert done.returncode == 0, (args, done.stderr)
        uuids = {}
        for cell in CELLS:
            created = manage(conf, "cell_v2", "create_cell", f"--name={cell}",
                             f"--transport-url={self.transport[cell]}",
                             f"--database_connection={self.urls[cell]}", "--verbose")
            assert created.returncode == 0, created.stderr
            uuids[cell] = created.stdout.strip()
            synced = manage(self.cell_conf(cell), "db", "sync")
            assert synced.returncode == 0, synced.stderr
        return uuids

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

    def nodes(self, cell):
        return {node["host"]: node for node in compute_nodes.list_nodes(self.urls[cell])}

    def node_uuids(self):
        return {node["uuid"]: host for cell in CELLS for host, node in self.nodes(cell).items()}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, databases, rabbitmq, placement):
    delete_providers(placement, COMPUTES)
    started = Cells(tmp_path_factory.mktemp("cells"), databases, rabbitmq, placement)
    try:
        for cell in CELLS:
            started.start("nova-conductor", started.cell_conf(cell))
        for host, (cell, memory_mb) in COMPUTES.items():
            started.start("nova-compute", started.write_conf(
                host, cell,
                extra=f"[fake_driver]\nmemory_mb = {memory_mb}\nvcpus = 8\nlocal_gb = 100\n"))
        for cell in CELLS:
            expected = {host for host, (where, _) in COMPUTES.items() if where == cell}
            wait_until(lambda: set(started.nodes(cell)) == expected, 60,
                       f"{cell} compute nodes: {sorted(started.nodes(cell))}")
        started.discovered = cli.run("nova-manage", "cell_v2", "discover_hosts", "--verbose",
                                     config_file=started.controller_conf)
        assert started.discovered.returncode == 0, started.discovered.stderr
        started.start("nova-conductor", started.controller_conf)  # the super-conductor
        scheduler = started.start("nova-scheduler", started.controller_conf)
        scheduler.wait_for_log(r"Host states: 4 compute node\(s\) in 2 cell", 60)
        scheduler.wait_for_log(r"nova-scheduler on host controller started", 30)
        conf = config.new_conf()
        rpc.set_defaults(conf)
        config.load(conf, ["--config-file", str(started.controller_conf)], prog="test",
                    default_config_files=[])
        started.compute_api = compute_api.API(conf)
        yield started
    finally:
        codes = started.stop()
        rpc.cleanup()
    delete_providers(placement, COMPUTES)
    assert set(codes.values()) == {0}, codes
    for daemon in started.daemons:
        log = daemon.log()
        assert "Traceback" not in log, f"{daemon.log_path}:\n{log}"
        assert "without Placement" not in log, f"{daemon.log_path}:\n{log}"


def boot(cloud, memory_mb=1024, count=1, **kwargs):
    created = cloud.compute_api.create_servers(
        context(), flavor(memory_mb), IMAGE, count, name="vm", **kwargs)
    return [instance["uuid"] for instance in created]


def get(cloud, server):
    try:
        return cloud.compute_api.get(context(), server)
    except exceptions.InstanceNotFound:
        return None


def wait_settled(cloud, servers, timeout=30):
    def settled():
        found = [get(cloud, server) for server in servers]
        if all(i and i["task_state"] is None and i["vm_state"] in ("active", "stopped", "error")
               for i in found):
            return found
        return None

    wait_until(settled, timeout, f"servers not settled: {[get(cloud, s) for s in servers]}")
    return settled()


def cells_holding(cloud, server):
    """The cells whose database has a record of ``server``."""
    found = []
    for cell in ("cell0", *CELLS):
        try:
            instances.get_by_uuid(cloud.urls[cell], server)
        except exceptions.InstanceNotFound:
            continue
        found.append(cell)
    return found


def allocations(cloud, server):
    hosts = cloud.node_uuids()
    found = cloud.placement.get(f"/allocations/{server}")["allocations"]
    return {hosts[provider]: entry["resources"]["MEMORY_MB"] for provider, entry in found.items()}


def delete_all(cloud, servers):
    for server in servers:
        cloud.compute_api.delete(context(), server)
    wait_until(lambda: not any(get(cloud, server) for server in servers), 30,
               "servers not deleted")
    wait_until(lambda: not any(allocations(cloud, server) for server in servers), 30,
               "allocations left")
    wait_until(lambda: all(node["running_vms"] == 0 for cell in CELLS
                           for node in cloud.nodes(cell).values()), 30, "computes still used")
    time.sleep(REFRESH + 0.2)


def test_each_host_is_mapped_to_its_cell(cloud):
    assert "Found 2 unmapped computes in cell: " + cloud.uuids["cell2"] in cloud.discovered.stdout
    listed = manage(cloud.controller_conf, "cell_v2", "list_hosts")
    assert listed.returncode == 0, listed.stderr
    rows = [[field.strip() for field in line.strip("|").split("|")]
            for line in listed.stdout.splitlines() if line.startswith("|")]
    assert rows[0] == ["Cell Name", "Cell UUID", "Hostname"]
    assert rows[1:] == [[cell, cloud.uuids[cell], host] for host, (cell, _) in COMPUTES.items()]
    # Each cell's database knows its own computes only.
    for cell in CELLS:
        assert set(cloud.nodes(cell)) == {h for h, (c, _) in COMPUTES.items() if c == cell}
    one = manage(cloud.controller_conf, "cell_v2", "list_hosts",
                 f"--cell_uuid={cloud.uuids['cell2']}")
    assert "cell2-a" in one.stdout and "cell1-a" not in one.stdout


def test_one_request_lands_in_both_cells(cloud):
    servers = boot(cloud, memory_mb=3072, count=3)
    found = wait_settled(cloud, servers)
    # Free RAM 9984 (cell1-a), 5888, 12032 (cell2-a), 3840 MB: cell2-a first
    # (8960 left), then cell1-a (6912 left), then cell2-a again.
    assert [(i["host"], i["vm_state"]) for i in found] == [
        ("cell2-a", "active"), ("cell1-a", "active"), ("cell2-a", "active")]
    cell_of = ["cell2", "cell1", "cell2"]
    assert [i["cell_uuid"] for i in found] == [cloud.uuids[cell] for cell in cell_of]
    for server, cell, instance in zip(servers, cell_of, found):
        assert cells_holding(cloud, server) == [cell]  # its own cell's database only
        mapping = instance_mappings.get(cloud.urls["api"], server)
        assert (mapping["cell"].uuid, mapping["cell"].name) == (cloud.uuids[cell], cell)
        assert allocations(cloud, server) == {instance["host"]: 3072}
        # The compute reported through its cell's conductor into its cell's database.
        assert [(event, result, host) for _, event, result, host in
                events(cloud.urls[cell], server)] == [
            ("conductor_schedule_and_build_instances", "Success", None),
            ("compute_build_and_run_instance", "Success", instance["host"])]
    assert cloud.nodes("cell2")["cell2-a"]["memory_mb_used"] == RESERVED_MB + 2 * 3072
    assert cloud.nodes("cell1")["cell1-a"]["memory_mb_used"] == RESERVED_MB + 3072
    delete_all(cloud, servers)


def test_a_forced_host_in_each_cell(cloud):
    servers = boot(cloud, availability_zone="nova:cell1-b") + boot(
        cloud, availability_zone="nova:cell2-b")
    found = wait_settled(cloud, servers)
    assert [(i["host"], i["cell_uuid"]) for i in found] == [
        ("cell1-b", cloud.uuids["cell1"]), ("cell2-b", cloud.uuids["cell2"])]
    assert [cells_holding(cloud, server) for server in servers] == [["cell1"], ["cell2"]]
    delete_all(cloud, servers)


def queues(cloud, vhost):
    listed = cloud.rabbitmq.ctl("list_queues", "-p", vhost, "name", "--quiet",
                                "--no-table-headers")
    return set(listed.stdout.split())


def test_stop_start_delete_in_cell2(cloud):
    # cell2's computes listen on cell2's virtual host only.
    assert "compute.cell2-b" in queues(cloud, "nova-cell2")
    assert not {"compute.cell2-b", "compute.cell1-b"} & queues(cloud, "nova")
    [server] = boot(cloud, availability_zone="nova:cell2-b")
    [instance] = wait_settled(cloud, [server])
    assert instance["host"] == "cell2-b"
    cloud.compute_api.stop(context(), server)
    [stopped] = wait_settled(cloud, [server])
    assert (stopped["vm_state"], stopped["power_state"]) == ("stopped", power_state.SHUTDOWN)
    cloud.compute_api.start(context(), server)
    wait_until(lambda: get(cloud, server)["vm_state"] == "active", 30, "not started")
    assert get(cloud, server)["power_state"] == power_state.RUNNING
    delete_all(cloud, [server])
    assert cells_holding(cloud, server) == []
    assert [(action, event, result, host) for action, event, result, host in
            events(cloud.urls["cell2"], server)] == [
        ("create", "conductor_schedule_and_build_instances", "Success", None),
        ("create", "compute_build_and_run_instance", "Success", "cell2-b"),
        ("stop", "compute_stop_instance", "Success", "cell2-b"),
        ("start", "compute_start_instance", "Success", "cell2-b"),
        ("delete", "compute_terminate_instance", "Success", "cell2-b")]
