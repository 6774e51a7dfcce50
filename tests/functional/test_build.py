"""Servers from request to ACTIVE (or to cell0 in ERROR) with real processes:
nova-conductor (super-conductor and cell1's conductor), nova-scheduler and
four nova-computes on the tests' private RabbitMQ and MariaDB, with the real
Placement (tests/placement.py: every nova.conf has the [placement] section, so
the computes report resource providers and the scheduler asks Placement for
allocation candidates and claims them), cells set up with nova-manage;
servers are created, stopped, started and deleted through
nova_runtime.compute.api from the test process.

The computes (fake driver, [DEFAULT] reserved_host_memory_mb = 256, RAM
allocation ratio 1.0, the scheduler weighs by free RAM only):

    c1  12 GiB RAM     c2  10 GiB RAM     c3  8 GiB RAM
    bad 16 GiB RAM, fake.SpawnFailsDriver: disabled (os-services style)
        except in the reschedule test, where it is the best host.

The daemons are shared by the module's tests; each test deletes its servers
and waits until the computes report them gone. The scheduler re-reads the
databases when its host states are older than one second
(host_state_refresh_interval = 1): a test that changes them (a service
enabled, an aggregate) waits that second before it boots.
"""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import os
import time
import uuid

import pytest
import sqlalchemy as sa

from nova_runtime import cells, config, context as nova_context, rpc
from nova_runtime.compute import api as compute_api
from nova_runtime.compute import power_state
from nova_runtime.db import engines
from nova_runtime.db.api import models as api_models
from nova_runtime.objects import compute_nodes, exceptions, instance_actions
from nova_runtime.objects import instance_mappings, instances, services
from tests import cli
from tests.functional.test_manage import setup_cells
from tests.functional.test_services import Daemon, wait_until

pytestmark = pytest.mark.mysql

REFRESH = 1  # [scheduler] host_state_refresh_interval
RESERVED_MB = 256
COMPUTES = {"c1": (12288, "fake.FakeDriver"), "c2": (10240, "fake.FakeDriver"),
            "c3": (8192, "fake.FakeDriver"), "bad": (16384, "fake.SpawnFailsDriver")}
GOOD = ("c1", "c2", "c3")
IMAGE = {"id": "155d900f-4e14-4e4c-a73d-069cbf4541e6", "min_ram": 0, "min_disk": 0,
         "properties": {"os_type": "linux"}}

COMMON = """\
[DEFAULT]
host = {host}
transport_url = {transport_url}
my_ip = 127.0.0.1
state_path = {state_path}
report_interval = 2
periodic_interval = {periodic_interval}
rpc_response_timeout = 10
compute_driver = {driver}
reserved_host_memory_mb = {reserved}
ram_allocation_ratio = 1.0
[scheduler]
host_state_refresh_interval = {refresh}
[filter_scheduler]
weight_classes = RAMWeigher
[oslo_messaging_rabbit]
rabbit_retry_interval = 1
rabbit_retry_backoff = 1
rabbit_interval_max = 2
"""


def flavor(memory_mb, name="m1.test"):
    return {"id": 1, "flavorid": "1", "name": name, "memory_mb": memory_mb, "vcpus": 1,
            "root_gb": 1, "ephemeral_gb": 0, "swap": 0, "extra_specs": {}}


@pytest.fixture(scope="module")
def databases(mariadb):
    """nova_api, nova (cell1) and nova_cell0 for this module, as the install guide grants them."""
    prefix, password = f"build{os.getpid()}_", "NOVA_DBPASS"
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
    """The daemons of one cell. With ``placement`` (tests/placement.py), every
    nova.conf written gets its [placement] section."""

    def __init__(self, tmp_path, databases, rabbitmq, placement=None):
        self.tmp_path, self.urls, self.rabbitmq = tmp_path, databases, rabbitmq
        self.placement = placement
        self.placement_conf = placement.nova_conf_section() if placement else ""
        self.daemons = []
        self.controller_conf = self.write_conf("controller", periodic_interval=1, extra=(
            f"[api_database]\nconnection = {databases['api']}\n"
            f"[database]\nconnection = {databases['main']}\n"))
        self.cell1 = setup_cells(self.controller_conf)

    def write_conf(self, host, periodic_interval=2, driver="fake.FakeDriver", extra=""):
        path = self.tmp_path / f"{host}.conf"
        path.write_text(COMMON.format(
            host=host, transport_url=self.rabbitmq.url, state_path=self.tmp_path / host,
            periodic_interval=periodic_interval, driver=driver, reserved=RESERVED_MB,
            refresh=REFRESH) + extra + self.placement_conf)
        return path

    def start(self, binary, conf):
        daemon = Daemon(binary, conf, self.tmp_path / f"{binary}-{conf.stem}.log")
        self.daemons.append(daemon)
        return daemon

    def stop(self):
        """SIGTERM every daemon at once (a stop takes seconds); the exit codes."""
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

    def nodes(self):
        return {node["host"]: node for node in compute_nodes.list_nodes(self.urls["main"])}

    def set_enabled(self, host, enabled):
        row = services.get_by_host_and_binary(self.urls["main"], host, "nova-compute")
        services.update(self.urls["main"], row["id"], {"disabled": not enabled})


def delete_providers(placement, names):
    """Delete the resource providers named ``names`` (with their allocations):
    another module's computes of the same names leave theirs behind, and
    Placement refuses a second provider of the same name."""
    for name in names:
        for provider in placement.get(f"/resource_providers?name={name}")["resource_providers"]:
            consumers = placement.get(f"/resource_providers/{provider['uuid']}/allocations")
            for consumer in consumers["allocations"]:
                placement.request("DELETE", f"/allocations/{consumer}")
            placement.request("DELETE", f"/resource_providers/{provider['uuid']}")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, databases, rabbitmq, placement):
    delete_providers(placement, COMPUTES)
    started = Cloud(tmp_path_factory.mktemp("build"), databases, rabbitmq, placement)
    try:
        started.conductor = started.start("nova-conductor", started.controller_conf)
        for host, (memory_mb, driver) in COMPUTES.items():
            started.start("nova-compute", started.write_conf(
                host, driver=driver,
                extra=f"[fake_driver]\nmemory_mb = {memory_mb}\nvcpus = 8\nlocal_gb = 100\n"))
        wait_until(lambda: set(started.nodes()) == set(COMPUTES), 60,
                   f"compute nodes: {sorted(started.nodes())}")
        started.set_enabled("bad", False)
        discovered = cli.run("nova-manage", "cell_v2", "discover_hosts",
                             config_file=started.controller_conf)
        assert discovered.returncode == 0, discovered.stderr
        started.scheduler = started.start("nova-scheduler", started.controller_conf)
        started.scheduler.wait_for_log(r"Host states: 4 compute node\(s\) in 1 cell", 60)
        started.scheduler.wait_for_log(r"nova-scheduler on host controller started", 30)
        started.compute_api = started.api()
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


def context():
    return nova_context.RequestContext(user_id="u1", project_id="p1", overwrite=False)


def boot(cloud, memory_mb=1024, count=1, **kwargs):
    created = cloud.compute_api.create_servers(
        context(), flavor(memory_mb), IMAGE, count, name=kwargs.pop("name", "vm"), **kwargs)
    return [instance["uuid"] for instance in created]


def get(cloud, server):
    try:
        return cloud.compute_api.get(context(), server)
    except exceptions.InstanceNotFound:
        return None


def wait_settled(cloud, servers, timeout=30):
    """Each server once it is ACTIVE, STOPPED or in ERROR, with no task running."""
    def settled():
        found = [get(cloud, server) for server in servers]
        if all(i and i["task_state"] is None and i["vm_state"] in ("active", "stopped", "error")
               for i in found):
            return found
        return None

    wait_until(settled, timeout, f"servers not settled: {[get(cloud, s) for s in servers]}")
    return settled()


def events(db_url, server):
    """(action, event, result, host), once no event is in progress."""
    def finished():
        found = [(action["action"], event["event"], event["result"], event["host"])
                 for action in instance_actions.actions_for(db_url, server)
                 for event in action["events"]]
        return found if all(result for _, _, result, _ in found) else None

    wait_until(finished, 10, f"events of {server} still in progress")
    return finished()


def allocations(cloud, server):
    """{host: resources} of the server's allocations in Placement."""
    hosts = {node["uuid"]: host for host, node in cloud.nodes().items()}
    found = cloud.placement.get(f"/allocations/{server}")["allocations"]
    return {hosts[provider]: entry["resources"] for provider, entry in found.items()}


def used_in_placement(cloud):
    """{host: usages} of the computes that have any allocation."""
    found = {}
    for host, node in cloud.nodes().items():
        usages = cloud.placement.get(f"/resource_providers/{node['uuid']}/usages")["usages"]
        if any(usages.values()):
            found[host] = usages
    return found


def claimed(memory_mb):
    return {"VCPU": 1, "MEMORY_MB": memory_mb, "DISK_GB": 1}


def delete_all(cloud, servers):
    """Delete, wait until the servers are gone, their allocations released
    and the computes have reported it, then until the scheduler's next read
    will see that."""
    for server in servers:
        cloud.compute_api.delete(context(), server)
    wait_until(lambda: not any(get(cloud, server) for server in servers), 30,
               "servers not deleted")
    wait_until(lambda: not used_in_placement(cloud), 30,
               f"allocations left: {used_in_placement(cloud)}")
    wait_until(lambda: all(node["running_vms"] == 0 and node["memory_mb_used"] == RESERVED_MB
                           for node in cloud.nodes().values()), 30,
               f"compute nodes still used: {cloud.nodes()}")
    time.sleep(REFRESH + 0.2)


def test_one_request_spreads_by_free_ram(cloud):
    servers = boot(cloud, memory_mb=5120, count=3)
    found = wait_settled(cloud, servers)
    # Free RAM 12032, 9984, 7936 MB: c1 first (6912 left), then c2 (4864 left),
    # then c3, which has more left than c1.
    assert [(i["host"], i["vm_state"], i["power_state"]) for i in found] == [
        ("c1", "active", power_state.RUNNING), ("c2", "active", power_state.RUNNING),
        ("c3", "active", power_state.RUNNING)]
    assert len({i["reservation_id"] for i in found}) == 1
    assert [i["display_name"] for i in found] == ["vm-1", "vm-2", "vm-3"]
    assert all(i["cell_uuid"] == cloud.cell1 and i["availability_zone"] == "nova" for i in found)
    nodes = cloud.nodes()
    assert [nodes[host]["memory_mb_used"] for host in GOOD] == [RESERVED_MB + 5120] * 3
    for server in servers:
        assert instance_mappings.get(cloud.urls["api"], server)["cell"].uuid == cloud.cell1
    # Each claimed in Placement on the host it runs on, and only there.
    assert [allocations(cloud, server) for server in servers] == [
        {"c1": claimed(5120)}, {"c2": claimed(5120)}, {"c3": claimed(5120)}]
    assert events(cloud.urls["main"], servers[0]) == [
        ("create", "conductor_schedule_and_build_instances", "Success", None),
        ("create", "compute_build_and_run_instance", "Success", "c1")]
    delete_all(cloud, servers)


def test_stop_start_delete(cloud):
    [server] = boot(cloud)
    [instance] = wait_settled(cloud, [server])
    cloud.compute_api.stop(context(), server)
    [stopped] = wait_settled(cloud, [server])
    assert (stopped["vm_state"], stopped["power_state"]) == ("stopped", power_state.SHUTDOWN)
    with pytest.raises(compute_api.InstanceInvalidState):
        cloud.compute_api.stop(context(), server)
    cloud.compute_api.start(context(), server)
    wait_until(lambda: get(cloud, server)["vm_state"] == "active", 30, "not started")
    assert get(cloud, server)["power_state"] == power_state.RUNNING
    delete_all(cloud, [server])
    with pytest.raises(exceptions.InstanceNotFound):
        instances.get_by_uuid(cloud.urls["main"], server)
    assert [(action, event, result) for action, event, result, _ in
            events(cloud.urls["main"], server)] == [
        ("create", "conductor_schedule_and_build_instances", "Success"),
        ("create", "compute_build_and_run_instance", "Success"),
        ("stop", "compute_stop_instance", "Success"),
        ("start", "compute_start_instance", "Success"),
        ("delete", "compute_terminate_instance", "Success")]


def make_group(cloud, policy):
    group_uuid = str(uuid.uuid4())
    with engines.get_engine(cloud.urls["api"]).begin() as connection:
        group_id = connection.execute(sa.insert(api_models.InstanceGroup).values(
            uuid=group_uuid, name=policy, project_id="p1", user_id="u1")).inserted_primary_key[0]
        connection.execute(sa.insert(api_models.InstanceGroupPolicy).values(
            group_id=group_id, policy=policy))
    return group_uuid


def test_anti_affinity_group_of_three_on_three_hosts(cloud):
    group = make_group(cloud, "anti-affinity")
    servers = boot(cloud, count=3, group=group)
    found = wait_settled(cloud, servers)
    assert sorted(i["host"] for i in found) == list(GOOD)
    assert used_in_placement(cloud) == {host: claimed(1024) for host in GOOD}
    # A fourth member has no host left: cell0, ERROR, the filter named, no claim.
    [fourth] = boot(cloud, group=group)
    wait_until(lambda: (get(cloud, fourth) or {}).get("vm_state") == "error", 30, "no error")
    [fault] = instance_actions.faults_for(cloud.urls["cell0"], fourth)
    assert "ServerGroupAntiAffinityFilter: 3 -> 0 host(s)" in fault["message"]
    assert allocations(cloud, fourth) == {}
    delete_all(cloud, servers + [fourth])


def test_affinity_group_across_requests(cloud):
    group = make_group(cloud, "affinity")
    [first] = boot(cloud, memory_mb=3072, scheduler_hints={"group": group})
    [instance] = wait_settled(cloud, [first])
    assert instance["host"] == "c1"
    # c2 now has the most free RAM (9984 MB, c1 8960), but the group's member is on c1.
    more = boot(cloud, count=2, group=group)
    assert [i["host"] for i in wait_settled(cloud, more)] == ["c1", "c1"]
    assert used_in_placement(cloud) == {"c1": {"VCPU": 3, "MEMORY_MB": 3072 + 2 * 1024,
                                               "DISK_GB": 3}}
    delete_all(cloud, [first] + more)


def test_availability_zone_from_an_aggregate(cloud):
    api_url = cloud.urls["api"]
    with engines.get_engine(api_url).begin() as connection:
        aggregate_id = connection.execute(sa.insert(api_models.Aggregate).values(
            uuid=str(uuid.uuid4()), name="east-agg")).inserted_primary_key[0]
        connection.execute(sa.insert(api_models.AggregateHost).values(
            aggregate_id=aggregate_id, host="c3"))
        connection.execute(sa.insert(api_models.AggregateMetadata).values(
            aggregate_id=aggregate_id, key="availability_zone", value="east"))
    try:
        time.sleep(REFRESH + 0.2)
        [east] = boot(cloud, availability_zone="east")
        [anywhere] = boot(cloud)
        east, anywhere = wait_settled(cloud, [east, anywhere])
        assert (east["host"], east["availability_zone"]) == ("c3", "east")
        assert (anywhere["host"], anywhere["availability_zone"]) == ("c1", "nova")
        assert allocations(cloud, east["uuid"]) == {"c3": claimed(1024)}
        [nowhere] = boot(cloud, availability_zone="west")
        wait_until(lambda: (get(cloud, nowhere) or {}).get("vm_state") == "error", 30, "")
        [fault] = instance_actions.faults_for(cloud.urls["cell0"], nowhere)
        assert "AvailabilityZoneFilter: 4 -> 0 host(s)" in fault["message"]
        assert allocations(cloud, nowhere) == {}
        delete_all(cloud, [east["uuid"], anywhere["uuid"], nowhere])
    finally:
        with engines.get_engine(api_url).begin() as connection:
            for model in (api_models.AggregateMetadata, api_models.AggregateHost):
                connection.execute(sa.delete(model).filter_by(aggregate_id=aggregate_id))
            connection.execute(sa.delete(api_models.Aggregate).filter_by(id=aggregate_id))
        time.sleep(REFRESH + 0.2)


def test_failed_spawn_is_rescheduled(cloud):
    cloud.set_enabled("bad", True)
    try:
        time.sleep(REFRESH + 0.2)
        [server] = boot(cloud)
        [instance] = wait_settled(cloud, [server])
    finally:
        cloud.set_enabled("bad", False)
    # bad had the most free RAM and failed; c1 was the best alternate.
    assert (instance["vm_state"], instance["host"]) == ("active", "c1")
    db_url = cloud.urls["main"]
    assert events(db_url, server) == [
        ("create", "conductor_schedule_and_build_instances", "Success", None),
        ("create", "compute_build_and_run_instance", "Error", "bad"),
        ("create", "compute_build_and_run_instance", "Success", "c1")]
    [action] = instance_actions.actions_for(db_url, server)
    failed = action["events"][1]
    assert "injected by SpawnFailsDriver" in failed["traceback"]
    [fault] = instance_actions.faults_for(db_url, server)
    assert fault["host"] == "bad" and "injected by SpawnFailsDriver" in fault["message"]
    assert cloud.nodes()["bad"]["running_vms"] == 0  # its claim was released
    # In Placement too: the allocation moved to c1, bad has none left.
    assert allocations(cloud, server) == {"c1": claimed(1024)}
    assert used_in_placement(cloud) == {"c1": claimed(1024)}
    delete_all(cloud, [server])


def test_no_valid_host_puts_the_instance_in_cell0(cloud):
    [server] = boot(cloud, memory_mb=1024 * 1024)
    wait_until(lambda: (get(cloud, server) or {}).get("vm_state") == "error", 30, "no error")
    instance = get(cloud, server)
    assert (instance["cell_uuid"], instance["host"], instance["task_state"]) == (
        cells.CELL0_UUID, None, None)
    assert instance_mappings.get(cloud.urls["api"], server)["cell"].uuid == cells.CELL0_UUID
    [fault] = instance_actions.faults_for(cloud.urls["cell0"], server)
    # The reason crossed RabbitMQ: Placement has no provider with that much RAM
    # (the filters' own summaries: the group and zone tests above). Nothing claimed.
    assert fault["message"] == ("No valid host was found: Placement: no allocation candidate "
                                "for DISK_GB:1, MEMORY_MB:1048576, VCPU:1")
    assert allocations(cloud, server) == {}
    assert events(cloud.urls["cell0"], server) == [
        ("create", "conductor_schedule_and_build_instances", "Error", None)]
    cloud.compute_api.delete(context(), server)
    assert get(cloud, server) is None
