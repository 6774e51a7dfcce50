"""Two cells with real processes: the cells v2 picture of the seed.

At the top (the API level): the super-conductor and nova-scheduler on the
RabbitMQ virtual host ``nova``, with [api_database] and cell0's database as
their [database]. Each of cell1 and cell2 has a database of its own on the
tests' MariaDB, a virtual host of its own on the tests' RabbitMQ node, its own
nova-conductor (no API database) and two fake nova-computes that reach only
their cell's queue. Every daemon reports to, or schedules with, the real
Placement. The cells are made as an operator makes them: nova-manage
cell_v2 map_cell0 / create_cell --transport-url --database_connection, db
sync per cell, discover_hosts (``Cells``: harness/cloud.py's Cloud with two
cells).

The computes ([DEFAULT] reserved_host_memory_mb = 256, RAM weigher only):

    cell1-a 10 GiB   cell1-b 6 GiB      (cell1)
    cell2-a 12 GiB   cell2-b 4 GiB      (cell2)
"""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import pytest

from nova_runtime.states import power_state
from nova_runtime.objects import exceptions, instance_mappings, instances
from harness.cli import manage
from harness.cloud import RESERVED_MB, Cloud, Compute, context, events, flavor
from harness.databases import module_databases
from harness.processes import wait_until

pytestmark = pytest.mark.mysql

CELLS = ("cell1", "cell2")
COMPUTES = {"cell1-a": ("cell1", 10240), "cell1-b": ("cell1", 6144),
            "cell2-a": ("cell2", 12288), "cell2-b": ("cell2", 4096)}

# nova_api, nova_cell0 and one database per cell.
databases = module_databases("cells", keys=("api", "cell0", *CELLS))


class Cells(Cloud):
    """The base cloud with two cells, each with its own database, virtual
    host and conductor; the controller's [database] is cell0's, and the
    super-conductor and nova-scheduler use the virtual host ``nova``."""

    cell_databases = CELLS
    controller_database = "cell0"

    def __init__(self, workdir, urls, rabbitmq, placement):
        self.transports = {cell: rabbitmq.add_vhost(f"nova-{cell}") for cell in CELLS}
        super().__init__(workdir, urls, rabbitmq, placement, DEFAULT={"periodic_interval": 1})

    def transport_url(self, cell):
        return self.transports.get(cell, self.rabbitmq.url)

    def cell_conf(self, cell):
        """The nova.conf of a cell's conductor: its queue and database only."""
        return self.write_conf(f"conductor-{cell}", cell,
                               database={"connection": self.urls[cell]})

    def create_cells(self):
        """nova-manage as an operator runs it; self.uuids: {cell name: uuid}."""
        conf = self.controller_conf
        for args in (("api_db", "sync"),
                     ("cell_v2", "map_cell0", f"--database_connection={self.urls['cell0']}"),
                     ("db", "sync")):
            done = manage(conf, *args)
            assert done.returncode == 0, (args, done.stderr)
        self.uuids = {}
        for cell in CELLS:
            created = manage(conf, "cell_v2", "create_cell", f"--name={cell}",
                             f"--transport-url={self.transports[cell]}",
                             f"--database_connection={self.urls[cell]}", "--verbose")
            assert created.returncode == 0, created.stderr
            self.uuids[cell] = created.stdout.strip()
            synced = manage(self.cell_conf(cell), "db", "sync")
            assert synced.returncode == 0, synced.stderr

    def start_conductors(self):
        for cell in CELLS:
            self.start("nova-conductor", self.cell_conf(cell))
        super().start_conductors()  # the super-conductor


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, databases, rabbitmq, placement):
    started = Cells(tmp_path_factory.mktemp("cells"), databases, rabbitmq, placement)
    computes = {host: Compute(memory_mb, cell=cell)
                for host, (cell, memory_mb) in COMPUTES.items()}
    with started.running(computes) as running:
        yield running


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
    servers = cloud.create(flavor(3072), count=3)
    found = cloud.wait_settled(servers)
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
        assert {host: resources["MEMORY_MB"] for host, resources
                in cloud.allocations(server).items()} == {instance["host"]: 3072}
        # The compute reported through its cell's conductor into its cell's database.
        assert [(event, result, host) for _, event, result, host in
                events(cloud.urls[cell], server)] == [
            ("conductor_schedule_and_build_instances", "Success", None),
            ("compute_build_and_run_instance", "Success", instance["host"])]
    assert cloud.nodes("cell2")["cell2-a"]["memory_mb_used"] == RESERVED_MB + 2 * 3072
    assert cloud.nodes("cell1")["cell1-a"]["memory_mb_used"] == RESERVED_MB + 3072
    cloud.delete_all(servers)


def test_a_forced_host_in_each_cell(cloud):
    servers = cloud.create(flavor(), availability_zone="nova:cell1-b") + cloud.create(
        flavor(), availability_zone="nova:cell2-b")
    found = cloud.wait_settled(servers)
    assert [(i["host"], i["cell_uuid"]) for i in found] == [
        ("cell1-b", cloud.uuids["cell1"]), ("cell2-b", cloud.uuids["cell2"])]
    assert [cells_holding(cloud, server) for server in servers] == [["cell1"], ["cell2"]]
    cloud.delete_all(servers)


def queues(cloud, vhost):
    listed = cloud.rabbitmq.ctl("list_queues", "-p", vhost, "name", "--quiet",
                                "--no-table-headers")
    return set(listed.stdout.split())


def test_stop_start_delete_in_cell2(cloud):
    # cell2's computes listen on cell2's virtual host only.
    assert "compute.cell2-b" in queues(cloud, "nova-cell2")
    assert not {"compute.cell2-b", "compute.cell1-b"} & queues(cloud, "nova")
    [server] = cloud.create(flavor(), availability_zone="nova:cell2-b")
    [instance] = cloud.wait_settled([server])
    assert instance["host"] == "cell2-b"
    cloud.compute_api.stop(context(), server)
    [stopped] = cloud.wait_settled([server])
    assert (stopped["vm_state"], stopped["power_state"]) == ("stopped", power_state.SHUTDOWN)
    cloud.compute_api.start(context(), server)
    wait_until(lambda: cloud.get(server)["vm_state"] == "active", 30, "not started")
    assert cloud.get(server)["power_state"] == power_state.RUNNING
    cloud.delete_all([server])
    assert cells_holding(cloud, server) == []
    assert [(action, event, result, host) for action, event, result, host in
            events(cloud.urls["cell2"], server)] == [
        ("create", "conductor_schedule_and_build_instances", "Success", None),
        ("create", "compute_build_and_run_instance", "Success", "cell2-b"),
        ("stop", "compute_stop_instance", "Success", "cell2-b"),
        ("start", "compute_start_instance", "Success", "cell2-b"),
        ("delete", "compute_terminate_instance", "Success", "cell2-b")]
