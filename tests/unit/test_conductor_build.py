"""The build path in one process: nova-conductor (super-conductor and cell
conductor at once), nova-scheduler and nova-computes on a fake:// transport,
an API database, cell1 and cell0 on SQLite; servers created through
nova_runtime.compute.api."""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import io
import json
import logging
import os
import time
import uuid

import pycdlib
import pytest

from nova_runtime import cells, config, context as nova_context, rpc
from nova_runtime.cmd import compute as compute_cmd
from nova_runtime.cmd import conductor as conductor_cmd
from nova_runtime.cmd import scheduler as scheduler_cmd
from nova_runtime.compute import api as compute_api
from nova_runtime.states import power_state
from nova_runtime.conductor import build, rpcapi as conductor_rpcapi
from nova_runtime.db import engines, migration
from nova_runtime.objects import build_requests, compute_nodes, exceptions, instance_actions
from nova_runtime.objects import instance_mappings, instances, services
from nova_runtime.objects import cell_mappings
from nova_runtime.objects import exceptions as record_exc

FLAVOR = {"id": 1, "flavorid": "1", "name": "m1.small", "memory_mb": 1024, "vcpus": 1,
          "root_gb": 1, "ephemeral_gb": 0, "swap": 0, "extra_specs": {}}
IMAGE = {"id": "155d900f-4e14-4e4c-a73d-069cbf4541e6", "properties": {"os_type": "linux"}}


@pytest.fixture(autouse=True, scope="module")
def quick_rpc_server_stop():
    """As in test_service: idle executor workers notice a stop after 0.05 s, not 1 s."""
    from futurist import _thread

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_thread.ThreadWorker, "MAX_IDLE_FOR", 0.05)
        yield


class Cloud:
    """A one-cell deployment in this process. ``computes``: {host: (RAM MB, driver)}."""

    def __init__(self, tmp_path, computes):
        name = uuid.uuid4().hex
        self.tmp_path = tmp_path
        self.transport_url, self.exchange = f"fake://{name}/", f"nova-{name}"
        self.urls = {db: f"sqlite:///{tmp_path}/{db}.sqlite" for db in ("api", "cell0", "cell1")}
        migration.sync("api", self.urls["api"])
        migration.sync("main", self.urls["cell0"])
        migration.sync("main", self.urls["cell1"])
        cell_mappings.map_cell0(self.urls["api"], self.urls["cell0"])
        self.cell1 = cell_mappings.create_cell(self.urls["api"], "cell1", self.transport_url,
                                       self.urls["cell1"])
        self.running = []
        self._start(conductor_cmd.build(self.conf("controller")))
        for host, (memory_mb, driver) in computes.items():
            self._start(compute_cmd.build(self.conf(
                host, compute_driver=driver, fake_driver__memory_mb=memory_mb)))
        cell_mappings.discover_hosts(self.urls["api"])
        self._start(scheduler_cmd.build(self.conf("controller")))
        self.api = compute_api.API(self.conf("api"))

    def conf(self, host, **overrides):
        conf = config.new_conf()
        rpc.set_defaults(conf)
        config.load(conf, [], prog="test", default_config_files=[])
        settings = {
            "host": host, "transport_url": self.transport_url, "control_exchange": self.exchange,
            "report_interval": 1, "periodic_interval": 1, "rpc_response_timeout": 30,
            "state_path": str(self.tmp_path / host), "my_ip": "192.0.2.10",
            "compute_driver": "fake.FakeDriver", "reserved_host_memory_mb": 0,
            "ram_allocation_ratio": 1.0, "scheduler__host_state_refresh_interval": 0,
            "filter_scheduler__weight_classes": ["RAMWeigher"],
            "database__connection": self.urls["cell1"],
            "api_database__connection": self.urls["api"],
        }
        settings.update(overrides)
        for key, value in settings.items():
            group, _, name = key.rpartition("__")
            conf.set_override(name, value, group=group or None)
        return conf

    def _start(self, svc):
        assert svc.start()
        self.running.append(svc)

    def stop(self):
        for svc in reversed(self.running):
            svc.stop()
        rpc.cleanup(self.transport_url)
        engines.dispose_all()

    def wait_for(self, instance_uuid, predicate, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            try:
                instance = self.api.get(context(), instance_uuid)
            except exceptions.InstanceNotFound:
                instance = None
            if predicate(instance):
                return instance
            if time.monotonic() > deadline:
                raise AssertionError(f"instance {instance_uuid} is {instance}")
            time.sleep(0.05)

    def boot(self, count=1, **kwargs):
        kwargs.setdefault("name", "vm")
        created = self.api.create_servers(context(), kwargs.pop("flavor", FLAVOR), IMAGE,
                                          count, **kwargs)
        return [instance["uuid"] for instance in created]


def context():
    return nova_context.RequestContext(user_id="u1", project_id="p1", overwrite=False)


def settled(instance):
    return instance is not None and instance["task_state"] is None and (
        instance["vm_state"] in ("active", "error", "stopped"))


@pytest.fixture
def cloud(tmp_path, request):
    computes = getattr(request, "param", {"c1": (4096, "fake.FakeDriver"),
                                          "c2": (2048, "fake.FakeDriver")})
    started = Cloud(tmp_path, computes)
    yield started
    started.stop()


def events_of(db_url, instance_uuid, expected=None, timeout=5):
    """(action, event, result, host) of the instance's action events, once
    every event has finished (the compute finishes an event just after the
    instance's state changed) and, with ``expected``, they are that."""
    deadline = time.monotonic() + timeout
    while True:
        found = [(action["action"], event["event"], event["result"], event["host"])
                 for action in instance_actions.actions_for(db_url, instance_uuid)
                 for event in action["events"]]
        done = all(result is not None for _, _, result, _ in found)
        if (done and expected in (None, found)) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_boot_stop_start_delete(cloud):
    [server] = cloud.boot()
    building = cloud.api.get(context(), server)
    assert (building["vm_state"], building["task_state"], building["cell_uuid"]) == (
        "building", "scheduling", None)
    instance = cloud.wait_for(server, settled)
    assert (instance["vm_state"], instance["power_state"], instance["host"],
            instance["node"]) == ("active", power_state.RUNNING, "c1", "c1")
    assert instance["cell_uuid"] == cloud.cell1.uuid and instance["launched_at"]
    assert instance["availability_zone"] == "nova"  # the host's zone, none was asked
    assert instance["display_name"] == "vm" and instance["hostname"] == "vm"
    url = cloud.urls["cell1"]
    assert instances.get_flavor(url, server)["memory_mb"] == 1024
    assert instances.get_metadata(url, server, system=True)["image_os_type"] == "linux"
    with pytest.raises(exceptions.BuildRequestNotFound):
        build_requests.get(cloud.urls["api"], server)
    spec = build_requests.get_request_spec(cloud.urls["api"], server)
    assert spec["flavor"]["memory_mb"] == 1024 and spec["instance_uuid"] == server
    expected = [("create", "conductor_schedule_and_build_instances", "Success", None),
                ("create", "compute_build_and_run_instance", "Success", "c1")]
    assert events_of(url, server, expected) == expected
    node = compute_nodes.get_by_host_and_nodename(url, "c1", "c1")
    assert (node["memory_mb_used"], node["running_vms"]) == (1024, 1)

    cloud.api.stop(context(), server)
    stopped = cloud.wait_for(server, lambda i: i["vm_state"] == "stopped")
    assert (stopped["power_state"], stopped["task_state"]) == (power_state.SHUTDOWN, None)
    with pytest.raises(compute_api.InstanceInvalidState):
        cloud.api.stop(context(), server)
    cloud.api.start(context(), server)
    started = cloud.wait_for(server, lambda i: i["vm_state"] == "active")
    assert started["power_state"] == power_state.RUNNING

    cloud.api.delete(context(), server)
    cloud.wait_for(server, lambda i: i is None)
    assert instance_mappings.get(cloud.urls["api"], server)["queued_for_delete"]
    assert [(action, event, result) for action, event, result, _ in events_of(url, server)] == [
        ("create", "conductor_schedule_and_build_instances", "Success"),
        ("create", "compute_build_and_run_instance", "Success"),
        ("stop", "compute_stop_instance", "Success"),
        ("start", "compute_start_instance", "Success"),
        ("delete", "compute_terminate_instance", "Success")]
    node = compute_nodes.get_by_host_and_nodename(url, "c1", "c1")
    assert (node["memory_mb_used"], node["running_vms"]) == (0, 0)


def test_one_request_for_three_spreads_them(cloud):
    servers = cloud.boot(3, flavor=dict(FLAVOR, memory_mb=1536))
    hosts = [cloud.wait_for(s, settled)["host"] for s in servers]
    # Most free RAM first: c1 (4096 MB) takes the first and, with 2560 MB left, the
    # second too; then c2 (2048 MB) has more than c1 (1024 MB).
    assert hosts == ["c1", "c1", "c2"]
    names = [cloud.api.get(context(), s)["display_name"] for s in servers]
    assert names == ["vm-1", "vm-2", "vm-3"]


def test_no_valid_host_puts_the_instance_in_cell0(cloud):
    [server] = cloud.boot(flavor=dict(FLAVOR, memory_mb=65536))
    instance = cloud.wait_for(server, lambda i: i and i["vm_state"] == "error")
    assert instance["cell_uuid"] == cells.CELL0_UUID and instance["host"] is None
    [fault] = instance_actions.faults_for(cloud.urls["cell0"], server)
    assert fault["message"] == (
        "No valid host was found: RamFilter: 2 -> 0 host(s), removed c1, c2")
    assert "RetryFilter: 2 -> 2 host(s)" in fault["details"]
    assert events_of(cloud.urls["cell0"], server) == [
        ("create", "conductor_schedule_and_build_instances", "Error", None)]
    with pytest.raises(exceptions.BuildRequestNotFound):
        build_requests.get(cloud.urls["api"], server)
    # A server in cell0 can be deleted.
    cloud.api.delete(context(), server)
    with pytest.raises(exceptions.InstanceNotFound):
        cloud.api.get(context(), server)


@pytest.mark.parametrize("cloud", [{"bad": (8192, "fake.SpawnFailsDriver"),
                                    "c1": (4096, "fake.FakeDriver"),
                                    "c2": (2048, "fake.FakeDriver")}], indirect=True)
def test_failed_spawn_is_rescheduled_to_an_alternate(cloud):
    [server] = cloud.boot()
    instance = cloud.wait_for(server, settled)
    assert (instance["vm_state"], instance["host"]) == ("active", "c1")
    url = cloud.urls["cell1"]
    expected = [("create", "conductor_schedule_and_build_instances", "Success", None),
                ("create", "compute_build_and_run_instance", "Error", "bad"),
                ("create", "compute_build_and_run_instance", "Success", "c1")]
    assert events_of(url, server, expected) == expected
    [fault] = instance_actions.faults_for(url, server)
    assert fault["host"] == "bad" and "injected by SpawnFailsDriver" in fault["message"]
    # The failed host's claim was released.
    node = compute_nodes.get_by_host_and_nodename(url, "bad", "bad")
    assert (node["memory_mb_used"], node["running_vms"]) == (0, 0)


@pytest.mark.parametrize("cloud", [{"bad1": (8192, "fake.SpawnFailsDriver"),
                                    "bad2": (4096, "fake.SpawnFailsDriver")}], indirect=True)
def test_build_fails_when_every_host_failed(cloud):
    [server] = cloud.boot()
    instance = cloud.wait_for(server, settled)
    assert (instance["vm_state"], instance["host"], instance["cell_uuid"]) == (
        "error", None, cloud.cell1.uuid)
    faults = instance_actions.faults_for(cloud.urls["cell1"], server)
    assert faults[0]["message"].startswith("No alternate host left: exhausted all hosts")
    assert [f["host"] for f in faults[1:]] == ["bad2", "bad1"]
    cloud.api.delete(context(), server)  # no host: deleted in the database at once
    with pytest.raises(exceptions.InstanceNotFound):
        instances.get_by_uuid(cloud.urls["cell1"], server)


def test_anti_affinity_and_affinity_groups(cloud):
    api_url = cloud.urls["api"]
    anti, affinity = (make_group(api_url, policy) for policy in ("anti-affinity", "affinity"))
    apart = cloud.boot(2, group=anti)
    assert sorted(cloud.wait_for(s, settled)["host"] for s in apart) == ["c1", "c2"]
    [third] = cloud.boot(group=anti)
    third = cloud.wait_for(third, lambda i: i and i["vm_state"] == "error")
    assert third["cell_uuid"] == cells.CELL0_UUID

    [first] = cloud.boot(scheduler_hints={"group": affinity}, flavor=dict(FLAVOR, memory_mb=256))
    host = cloud.wait_for(first, settled)["host"]
    together = cloud.boot(2, group=affinity, flavor=dict(FLAVOR, memory_mb=256))
    assert [cloud.wait_for(s, settled)["host"] for s in together] == [host, host]


def test_forced_host_and_unknown_group(cloud):
    [server] = cloud.boot(availability_zone="nova:c2")
    assert cloud.wait_for(server, settled)["host"] == "c2"
    with pytest.raises(compute_api.InvalidRequest, match="Invalid server group"):
        cloud.boot(group=str(uuid.uuid4()))


def make_group(api_url, policy):
    from nova_runtime.db.api import models as api_models
    from nova_runtime.cells import session

    group_uuid = str(uuid.uuid4())
    with session(api_url) as db:
        row = api_models.InstanceGroup(uuid=group_uuid, name=policy, project_id="p1",
                                       user_id="u1")
        db.add(row)
        db.flush()
        db.add(api_models.InstanceGroupPolicy(group_id=row.id, policy=policy))
    return group_uuid


# --- the orchestration alone, with stand-ins for the scheduler and the computes ---------

class Recorder:
    def __init__(self):
        self.casts = []

    def build_and_run_instance(self, context, host, instance, **kwargs):
        self.casts.append((host, instance["uuid"], kwargs))


class Selecting:
    def __init__(self, cell_uuid, hosts):
        self.cell_uuid, self.hosts = cell_uuid, hosts

    def select_destinations(self, context, request_spec, instance_uuids, return_alternates):
        return [[{"host": host, "nodename": host, "cell_uuid": self.cell_uuid, "limits": {},
                  "compute_node_uuid": None, "weight": 0.0} for host in self.hosts]
                for _ in instance_uuids]


@pytest.fixture
def databases(tmp_path):
    urls = {db: f"sqlite:///{tmp_path}/{db}.sqlite" for db in ("api", "cell0", "cell1")}
    migration.sync("api", urls["api"])
    migration.sync("main", urls["cell0"])
    migration.sync("main", urls["cell1"])
    cell_mappings.map_cell0(urls["api"], urls["cell0"])
    urls["cell1_uuid"] = cell_mappings.create_cell(urls["api"], "cell1", "fake://x/", urls["cell1"]).uuid
    yield urls
    engines.dispose_all()


def tasks(databases, max_attempts=3):
    conf = config.new_conf()
    config.load(conf, [], prog="test", default_config_files=[])
    conf.set_override("max_attempts", max_attempts, group="scheduler")
    conf.set_override("transport_url", "fake://x/")
    builder = build.BuildTasks(conf, databases["cell1"], databases["api"])
    recorder = Recorder()
    builder.computes.get = lambda cell=None: recorder
    builder._scheduler = Selecting(databases["cell1_uuid"], ["h1", "h2", "h3"])
    return builder, recorder


def accepted(databases, count=1):
    """Servers accepted by the compute API, without the cast to the conductor."""
    api = compute_api.API(tasks(databases)[0].conf, api_url=databases["api"])
    api._conductor = type("NoCast", (), {
        "schedule_and_build_instances": lambda *args, **kwargs: None})()
    return [i["uuid"] for i in api.create_servers(context(), FLAVOR, IMAGE, count, name="x")], api


def test_cell_mappings_are_read_again_once_older_than_the_cache_time(databases):
    now = [0.0]
    dbs = cells.Databases(databases["api"], clock=lambda: now[0])
    uuid_ = databases["cell1_uuid"]
    assert dbs.cell_by_uuid(uuid_).transport_url == "fake://x/"
    cell_mappings.update_cell(databases["api"], uuid_, transport_url="fake://moved/")
    now[0] = cells.CELL_CACHE_SECONDS
    assert dbs.cell_by_uuid(uuid_).transport_url == "fake://x/"  # within the time: as read
    now[0] = cells.CELL_CACHE_SECONDS + 1
    assert dbs.cell_by_uuid(uuid_).transport_url == "fake://moved/"
    with pytest.raises(record_exc.CellNotFound):
        dbs.cell_by_uuid(str(uuid.uuid4()))


def test_build_passes_alternates_and_the_retry_list(databases):
    builder, recorder = tasks(databases)
    [server], _ = accepted(databases)
    builder.schedule_and_build_instances(context(), [server], {"flavor": FLAVOR}, IMAGE)
    [(host, cast_uuid, kwargs)] = recorder.casts
    assert (host, cast_uuid, kwargs["node"]) == ("h1", server, "h1")
    assert [s["host"] for s in kwargs["host_list"]] == ["h2", "h3"]
    assert kwargs["request_spec"]["retry"] == {"num_attempts": 1, "hosts": [["h1", "h1"]]}
    instance = instances.get_by_uuid(databases["cell1"], server)
    assert (instance["vm_state"], instance["task_state"]) == ("building", "scheduling")

    # The compute failed: the cell conductor sends it to the next alternate...
    builder.build_instances(context(), [instance], kwargs["request_spec"],
                            [kwargs["host_list"]], IMAGE, reason="boom")
    host, _, retry_kwargs = recorder.casts[-1]
    assert host == "h2" and [s["host"] for s in retry_kwargs["host_list"]] == ["h3"]
    assert retry_kwargs["request_spec"]["retry"] == {
        "num_attempts": 2, "hosts": [["h1", "h1"], ["h2", "h2"]]}
    # ... and the next; a third failure exceeds max_attempts.
    builder.build_instances(context(), [instance], retry_kwargs["request_spec"],
                            [retry_kwargs["host_list"]], IMAGE, reason="boom")
    last = recorder.casts[-1][2]
    assert recorder.casts[-1][0] == "h3" and last["request_spec"]["retry"]["num_attempts"] == 3
    builder.build_instances(context(), [instance], last["request_spec"], [[]], IMAGE,
                            reason="spawn failed on h3")
    assert len(recorder.casts) == 3
    instance = instances.get_by_uuid(databases["cell1"], server)
    assert (instance["vm_state"], instance["task_state"]) == ("error", None)
    [fault] = instance_actions.faults_for(databases["cell1"], server)
    assert fault["message"].startswith("Exceeded maximum number of retries (3)")
    assert "Last failure: spawn failed on h3" in fault["message"]


def test_server_deleted_before_the_conductor_placed_it(databases):
    builder, recorder = tasks(databases)
    [server], api = accepted(databases)
    api.delete(context(), server)
    with pytest.raises(exceptions.InstanceNotFound):
        api.get(context(), server)
    builder.schedule_and_build_instances(context(), [server], {"flavor": FLAVOR}, IMAGE)
    assert recorder.casts == []
    with pytest.raises(exceptions.InstanceNotFound):
        instances.get_by_uuid(databases["cell1"], server)


def test_server_deleted_while_it_was_scheduled(databases, monkeypatch):
    builder, recorder = tasks(databases)
    [server], api = accepted(databases)
    original = build_requests.mark_placed

    def user_deletes_first(api_url, instance_uuid, cell_id):
        api.delete(context(), instance_uuid)
        return original(api_url, instance_uuid, cell_id)

    monkeypatch.setattr(build_requests, "mark_placed", user_deletes_first)
    builder.schedule_and_build_instances(context(), [server], {"flavor": FLAVOR}, IMAGE)
    assert recorder.casts == []
    with pytest.raises(exceptions.InstanceNotFound):
        instances.get_by_uuid(databases["cell1"], server)


def test_scheduler_failure_puts_the_instances_in_cell0(databases, caplog):
    builder, recorder = tasks(databases)
    servers, api = accepted(databases, count=2)

    class Broken:
        def select_destinations(self, *args, **kwargs):
            raise rpc.TransportError("the scheduler is gone")

    builder._scheduler = Broken()
    caplog.set_level(logging.INFO)
    builder.schedule_and_build_instances(context(), servers, {"flavor": FLAVOR}, IMAGE)
    for server in servers:
        instance = api.get(context(), server)
        assert (instance["cell_uuid"], instance["vm_state"]) == (cells.CELL0_UUID, "error")
        [fault] = instance_actions.faults_for(databases["cell0"], server)
        assert fault["message"] == "Scheduling failed: the scheduler is gone"


def test_a_capped_client_does_not_send_the_new_calls():
    conf = config.new_conf()
    config.load(conf, [], prog="test", default_config_files=[])
    capped = conductor_rpcapi.ConductorAPI(rpc.get_transport(conf, "fake://capped/"),
                                           version_cap="1.0")
    with pytest.raises(rpc.ServiceTooOld, match="this call needs 1.1"):
        capped.schedule_and_build_instances(context(), ["u"], {}, {})
    assert not capped.can_send_version("1.1")
    rpc.cleanup("fake://capped/")


def test_a_cell_conductor_without_the_api_database_refuses_to_build(tmp_path, caplog):
    conf = config.new_conf()
    config.load(conf, [], prog="test", default_config_files=[])
    builder = build.BuildTasks(conf, f"sqlite:///{tmp_path}/cell.sqlite", api_url=None)
    builder.schedule_and_build_instances(context(), ["u1"], {}, {})
    assert "has no [api_database] connection" in caplog.text


def test_services_of_this_cell_are_up(cloud):
    binaries = {(row["host"], row["binary"]) for row in services.list_services(cloud.urls["cell1"])}
    assert binaries == {("controller", "nova-conductor"), ("controller", "nova-scheduler"),
                        ("c1", "nova-compute"), ("c2", "nova-compute")}


def test_a_failed_cast_leaves_no_build_request_behind(databases):
    api = compute_api.API(tasks(databases)[0].conf, api_url=databases["api"])

    class Down:
        def schedule_and_build_instances(self, *args, **kwargs):
            raise rpc.TransportError("no message queue")

    api._conductor = Down()
    with pytest.raises(rpc.TransportError):
        api.create_servers(context(), FLAVOR, IMAGE, 2, name="x")
    with engines.get_engine(databases["api"]).connect() as connection:
        for table in ("build_requests", "request_specs", "instance_mappings"):
            assert connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == 0


def test_servers_not_on_a_host_cannot_stop_or_start(databases):
    [server], api = accepted(databases)
    for action in (api.stop, api.start):
        with pytest.raises(compute_api.InstanceInvalidState, match="not on a host"):
            action(context(), server)
    with pytest.raises(exceptions.InstanceNotFound):
        api.stop(context(), str(uuid.uuid4()))


def test_a_server_whose_compute_is_down_is_deleted_locally(cloud):
    [server] = cloud.boot()
    instance = cloud.wait_for(server, settled)
    row = services.get_by_host_and_binary(cloud.urls["cell1"], instance["host"], "nova-compute")
    services.update(cloud.urls["cell1"], row["id"], {"forced_down": True})
    cloud.api.delete(context(), server)
    with pytest.raises(exceptions.InstanceNotFound):  # at once, without the compute
        instances.get_by_uuid(cloud.urls["cell1"], server)
    assert [a["action"] for a in instance_actions.actions_for(cloud.urls["cell1"], server)] == [
        "create", "delete"]


def test_the_driver_gets_the_fixed_address_and_the_config_drive(cloud):
    [server] = cloud.boot(config_drive=True, user_data=None, metadata={"role": "web"})
    instance = cloud.wait_for(server, settled)
    assert instance["vm_state"] == "active"
    compute = next(svc.manager for svc in cloud.running
                   if svc.binary == "nova-compute" and svc.manager.host == instance["host"])
    fake = compute.driver._get(instance)
    [vif] = fake.network_info
    assert vif["fixed_ip"].startswith("10.0.0.") and vif["bridge"] == "br100"

    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(fake.config_drive))
    body = io.BytesIO()
    iso.get_file_from_iso_fp(body, rr_path="/openstack/latest/meta_data.json")
    iso.close()
    meta = json.loads(body.getvalue())
    assert (meta["uuid"], meta["meta"]) == (server, {"role": "web"})
    # The compute removed its copy once the driver had taken it.
    assert not [name for name in os.listdir(compute.conf.instances_path)
                if name.startswith(".configdrive-")]
