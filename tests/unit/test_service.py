"""Services in one process: nova-conductor and nova-compute on oslo.messaging's
fake:// transport and a SQLite cell database.

Each service gets its own ConfigOpts, as each daemon has its own nova.conf;
they meet on the one fake transport of the process (rpc.get_transport).
"""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import datetime
import json
import logging
import os
import socket
import threading
import time
import uuid

import oslo_messaging as messaging
import pytest
import sqlalchemy as sa

from nova_runtime import config, context as nova_context, rpc, service
from nova_runtime.cmd import compute as compute_cmd
from nova_runtime.cmd import conductor as conductor_cmd
from nova_runtime.compute import rpcapi as compute_rpcapi
from nova_runtime.conductor import rpcapi as conductor_rpcapi
from nova_runtime.db import engines, migration
from nova_runtime.db.main import models
from nova_runtime.objects import compute_nodes, exceptions, instance_actions, instances
from nova_runtime.objects import services
from nova_runtime.virt import driver as virt_driver

NOW = datetime.datetime(2025, 1, 1, 12, 0, 0)


# --- is_up ---------------------------------------------------------------------------

@pytest.mark.parametrize("record, up", [
    ({"last_seen_up": NOW - datetime.timedelta(seconds=59)}, True),
    ({"last_seen_up": NOW - datetime.timedelta(seconds=61)}, False),
    ({"last_seen_up": NOW, "forced_down": True}, False),
    ({"last_seen_up": NOW, "disabled": True}, True),  # disabled only stops scheduling
    ({"last_seen_up": None, "updated_at": NOW - datetime.timedelta(seconds=10)}, True),
    ({"last_seen_up": None, "updated_at": None, "created_at": NOW}, True),
    ({"last_seen_up": None, "updated_at": None, "created_at": None}, False),
])
def test_is_up(record, up):
    assert services.is_up(record, service_down_time=60, now=NOW) is up


# --- fixtures ------------------------------------------------------------------------

@pytest.fixture(autouse=True, scope="module")
def quick_rpc_server_stop():
    """oslo.messaging's threading executor (futurist) lets idle workers notice
    a shutdown only after MAX_IDLE_FOR (1 s): each RPC server stop costs a
    second. These tests stop many; the daemons keep the library's value."""
    from futurist import _thread

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_thread.ThreadWorker, "MAX_IDLE_FOR", 0.05)
        yield


def make_conf(tmp_path, host, db_url, **overrides):
    conf = config.new_conf()
    rpc.set_defaults(conf)
    config.load(conf, [], prog="test", default_config_files=[])
    settings = {
        "host": host, "transport_url": "fake://", "report_interval": 1,
        "periodic_interval": 1, "state_path": str(tmp_path / host), "my_ip": "192.0.2.10",
        "compute_driver": "fake.FakeDriver", "reserved_host_memory_mb": 512,
        "cpu_allocation_ratio": 4.0, "ram_allocation_ratio": 1.0,
        "disk_allocation_ratio": 1.5, "rpc_response_timeout": 30,
    }
    settings.update(overrides)
    for name, value in settings.items():
        conf.set_override(name, value)
    conf.set_override("connection", db_url, group="database")
    conf.set_override("retry_interval", 1, group="database")
    conf.set_override("vcpus", 4, group="fake_driver")
    conf.set_override("memory_mb", 8192, group="fake_driver")
    conf.set_override("local_gb", 100, group="fake_driver")
    return conf


@pytest.fixture
def db_url(tmp_path):
    url = f"sqlite:///{tmp_path}/nova.sqlite"
    migration.sync("main", url)
    return url


class Services:
    """Starts the services of one test cell, on a fake transport of their own,
    and stops whatever is left at teardown."""

    def __init__(self, tmp_path, db_url):
        self.tmp_path, self.db_url = tmp_path, db_url
        name = uuid.uuid4().hex
        self.transport_url = f"fake://{name}/"
        # oslo.messaging's fake transports all share one set of exchanges:
        # the exchange name is what keeps two cells of one process apart.
        self.exchange = f"nova-{name}"
        self.running = []

    def conf(self, host, **overrides):
        overrides.setdefault("transport_url", self.transport_url)
        overrides.setdefault("control_exchange", self.exchange)
        return make_conf(self.tmp_path, host, self.db_url, **overrides)

    def conductor(self, host="controller", **overrides):
        return self._start(conductor_cmd.build(self.conf(host, **overrides)))

    def compute(self, host, **overrides):
        return self._start(compute_cmd.build(self.conf(host, **overrides)))

    def _start(self, svc):
        assert svc.start()
        self.running.append(svc)
        return svc

    def stop(self, svc):
        svc.stop()
        self.running.remove(svc)

    def stop_all(self):
        # Computes first (a conductor stopping under a compute's call would
        # leave that call to time out), each group in parallel: an RPC server
        # takes up to a second to stop (its executor's idle workers notice the
        # shutdown on their next poll).
        for group in ([svc for svc in self.running if svc.binary != "nova-conductor"],
                      [svc for svc in self.running if svc.binary == "nova-conductor"]):
            stoppers = [threading.Thread(target=svc.stop) for svc in group]
            for thread in stoppers:
                thread.start()
            for thread in stoppers:
                thread.join()
        self.running.clear()
        rpc.cleanup(self.transport_url)


@pytest.fixture
def services_(tmp_path, db_url):
    started = Services(tmp_path, db_url)
    yield started
    started.stop_all()


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    """A running cell shared by the tests that only read it or touch their own
    rows: nova-conductor, and computes c1 and c2."""
    tmp_path = tmp_path_factory.mktemp("cell")
    url = f"sqlite:///{tmp_path}/nova.sqlite"
    migration.sync("main", url)
    started = Services(tmp_path, url)
    started.conductor()
    started.compute("c1")
    started.compute("c2")
    yield started
    started.stop_all()


def eventually(predicate, timeout=10, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {predicate}")
        time.sleep(interval)


def record(db_url, host, binary):
    return services.get_by_host_and_binary(db_url, host, binary)


def admin():
    return nova_context.get_admin_context()


# --- registration, heartbeat, compute nodes ---------------------------------------------

def test_services_register_and_heartbeat(cell):
    rows = services.list_services(cell.db_url)
    assert {(row["host"], row["binary"], row["topic"]) for row in rows} == {
        ("controller", "nova-conductor", "conductor"),
        ("c1", "nova-compute", "compute"),
        ("c2", "nova-compute", "compute")}
    assert all(row["version"] == service.SERVICE_VERSION for row in rows)
    first = {row["id"]: row for row in rows}
    eventually(lambda: all(row["report_count"] > first[row["id"]]["report_count"]
                           for row in services.list_services(cell.db_url)))
    for row in services.list_services(cell.db_url):
        assert row["last_seen_up"] > first[row["id"]]["last_seen_up"]
        assert services.is_up(row, service_down_time=60)


def test_compute_node_reports_the_fake_drivers_resources(cell):
    compute = next(svc for svc in cell.running if svc.host == "c1")
    node = compute_nodes.get_by_host_and_nodename(cell.db_url, "c1", "c1")
    assert node["service_id"] == compute.record["id"]
    assert (node["vcpus"], node["memory_mb"], node["local_gb"]) == (4, 8192, 100)
    assert (node["vcpus_used"], node["memory_mb_used"], node["local_gb_used"]) == (0, 512, 0)
    assert (node["free_ram_mb"], node["free_disk_gb"]) == (8192 - 512, 100)
    assert (node["cpu_allocation_ratio"], node["ram_allocation_ratio"],
            node["disk_allocation_ratio"]) == (4.0, 1.0, 1.5)
    assert node["hypervisor_type"] == "fake" and node["hypervisor_hostname"] == "c1"
    assert node["host_ip"] == "192.0.2.10"
    assert ["x86_64", "fake", "hvm"] in json.loads(node["supported_instances"])
    assert json.loads(node["cpu_info"])["arch"] == "x86_64"
    assert node["running_vms"] == 0
    assert node["mapped"] == 0  # until nova-manage cell_v2 discover_hosts


def test_compute_node_uuid_survives_restarts_and_a_lost_row(services_, db_url, tmp_path):
    services_.conductor()
    compute = services_.compute("c1")
    node = compute_nodes.get_by_host_and_nodename(db_url, "c1", "c1")
    assert (tmp_path / "c1" / "compute_id").read_text().strip() == node["uuid"]
    services_.stop(compute)

    services_.compute("c1")
    again = compute_nodes.get_by_host_and_nodename(db_url, "c1", "c1")
    assert (again["id"], again["uuid"]) == (node["id"], node["uuid"])
    services_.stop_all()

    with engines.get_engine(db_url).begin() as connection:  # an operator deleted the row
        connection.execute(sa.delete(models.ComputeNode))
    services_.conductor()
    services_.compute("c1")
    rebuilt = compute_nodes.get_by_host_and_nodename(db_url, "c1", "c1")
    assert rebuilt["created_at"] > node["created_at"] and rebuilt["uuid"] == node["uuid"]


def test_usage_comes_from_the_instances_on_the_node(cell):
    db_url = cell.db_url
    compute = next(svc for svc in cell.running if svc.host == "c2")
    add_instance(db_url, host="c2", node="c2", vcpus=2, memory_mb=1024, root_gb=10,
                 ephemeral_gb=5)
    add_instance(db_url, host="c2", node="c2", vcpus=1, memory_mb=512, root_gb=1,
                 task_state="spawning")
    add_instance(db_url, host="c2", node="c2", vcpus=8, memory_mb=8192, root_gb=50,
                 vm_state="shelved_offloaded")
    add_instance(db_url, host="elsewhere", node="elsewhere", vcpus=8, memory_mb=8192)

    api = compute_rpcapi.ComputeAPI(compute.transport)
    [node] = api.refresh_resources(admin(), "c2")
    assert (node["vcpus_used"], node["memory_mb_used"], node["local_gb_used"]) == (
        3, 512 + 1024 + 512, 16)
    assert node["free_ram_mb"] == 8192 - 2048 and node["free_disk_gb"] == 100 - 16
    assert (node["running_vms"], node["current_workload"]) == (2, 1)
    assert compute_nodes.get_by_host_and_nodename(db_url, "c2", "c2")["vcpus_used"] == 3
    assert api.ping(admin(), "c2") == {"host": "c2", "service_id": compute.record["id"],
                                       "pid": os.getpid(), "driver": "FakeDriver",
                                       "nodes": ["c2"]}


def add_instance(db_url, **fields):
    values = dict(uuid=str(uuid.uuid4()), vm_state="active", task_state=None,
                  ephemeral_gb=0, project_id="p", user_id="u")
    values.update(fields)
    with engines.get_engine(db_url).begin() as connection:
        connection.execute(sa.insert(models.Instance).values(**values))
    return values["uuid"]


def test_disabled_service_stays_registered_and_heartbeats(services_, db_url):
    services_.conductor()
    compute = services_.compute("c1")
    services.update(db_url, compute.record["id"],
                    {"disabled": True, "disabled_reason": "maintenance"})
    services_.stop(compute)

    compute = services_.compute("c1")
    row = record(db_url, "c1", "nova-compute")
    assert row["id"] == compute.record["id"]
    assert (row["disabled"], row["disabled_reason"]) == (True, "maintenance")
    count = row["report_count"]
    eventually(lambda: record(db_url, "c1", "nova-compute")["report_count"] > count)
    assert services.is_up(record(db_url, "c1", "nova-compute"), service_down_time=60)


def test_a_deleted_service_row_is_registered_again(services_, db_url, caplog):
    conductor = services_.conductor()
    old_id = conductor.record["id"]
    with engines.get_engine(db_url).begin() as connection:  # soft-deleted by an operator
        connection.execute(sa.update(models.Service).filter_by(id=old_id).values(deleted=old_id))
    conductor._report_state()  # the next heartbeat
    assert conductor.record["id"] != old_id
    assert record(db_url, "controller", "nova-conductor")["id"] == conductor.record["id"]
    assert "was deleted; registering again" in caplog.text


# --- waiting for what is down ------------------------------------------------------------

def start_in_thread(svc):
    result = {}
    thread = threading.Thread(target=lambda: result.update(started=svc.start()), daemon=True)
    thread.start()
    return thread, result


def waiting_lines(caplog, what):
    messages = [r.getMessage() for r in caplog.records if r.name == "nova_runtime.service"]
    return [message for message in messages if message.startswith(f"Waiting for {what}")]


def test_conductor_waits_for_an_unreachable_database(tmp_path, caplog):
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"mysql+pymysql://nova:SECRET@127.0.0.1:{port}/nova"
    caplog.set_level(logging.INFO)
    conductor = conductor_cmd.build(
        make_conf(tmp_path, "controller", url, transport_url="fake://db-down/",
                  control_exchange="db-down"))
    thread, result = start_in_thread(conductor)
    eventually(lambda: len(waiting_lines(caplog, "the database")) >= 2, timeout=10)
    began = time.monotonic()
    conductor.request_stop()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - began < 2
    assert result == {"started": False}
    lines = waiting_lines(caplog, "the database")
    assert lines[0].startswith(
        f"Waiting for the database mysql+pymysql://nova:****@127.0.0.1:{port}/nova (attempt 1): ")
    assert "Can't connect" in lines[0] and lines[0].endswith("; retrying in 1 s")
    assert "(attempt 2)" in lines[1]
    assert "SECRET" not in caplog.text
    assert not any(r.exc_info for r in caplog.records)  # no tracebacks
    rpc.cleanup("fake://db-down/")


def test_conductor_waits_for_db_sync(tmp_path, caplog):
    url = f"sqlite:///{tmp_path}/later.sqlite"
    caplog.set_level(logging.INFO)
    conductor = conductor_cmd.build(
        make_conf(tmp_path, "controller", url, transport_url="fake://db-sync/",
                  control_exchange="db-sync"))
    thread, result = start_in_thread(conductor)
    try:
        eventually(lambda: waiting_lines(caplog, "the database"))
        assert "run 'nova-manage db sync' first" in waiting_lines(caplog, "the database")[0]
        migration.sync("main", url)
        thread.join(5)
        assert result == {"started": True}
        assert record(url, "controller", "nova-conductor")["topic"] == "conductor"
        assert "The database sqlite:///" in caplog.text and "is available after" in caplog.text
    finally:
        conductor.stop()
        rpc.cleanup("fake://db-sync/")


def test_compute_waits_for_conductor(services_, db_url, caplog):
    caplog.set_level(logging.INFO)
    compute = compute_cmd.build(services_.conf("c1"))
    thread, result = start_in_thread(compute)
    try:
        eventually(lambda: waiting_lines(caplog, "nova-conductor"))
        assert waiting_lines(caplog, "nova-conductor")[0] == (
            "Waiting for nova-conductor (attempt 1): no answer on topic 'conductor' within 1 s; "
            "is nova-conductor running for this cell, on this transport_url?; retrying in 1 s")
        services_.conductor()
        thread.join(15)
        assert result == {"started": True}
        assert record(db_url, "c1", "nova-compute")
    finally:
        compute.stop()


class FlakyRecords(service.ServiceRecords):
    def __init__(self):
        self.down = False
        self.reports = 0

    def register(self, context, *, host, binary, topic, version):
        return {"id": 1, "report_count": 0}

    def heartbeat(self, context, service_id):
        if self.down:
            raise service.Unavailable("nova-conductor did not answer")
        self.reports += 1
        return {"id": 1, "report_count": self.reports}


def test_heartbeat_failures_are_one_line_each_and_recovery_is_logged(tmp_path, caplog):
    records = FlakyRecords()
    # Hour-long intervals: the rounds below are driven by hand.
    conf = make_conf(tmp_path, "c1", "sqlite://", report_interval=3600, periodic_interval=3600)
    svc = service.Service(conf, binary="nova-test", topic=None,
                          manager=service.Manager(conf, "c1"), records=records)
    assert svc.start()
    caplog.set_level(logging.INFO)
    records.down = True
    svc._guarded("heartbeat", svc._report_state)
    svc._guarded("heartbeat", svc._report_state)
    records.down = False
    svc._guarded("heartbeat", svc._report_state)
    svc._guarded("heartbeat", svc._report_state)
    messages = [r.getMessage() for r in caplog.records if r.name == "nova_runtime.service"]
    assert messages == [
        "Heartbeat of nova-test failed: nova-conductor did not answer; trying again in the "
        "next round"] * 2 + ["Heartbeat of nova-test works again"]
    assert svc.record["report_count"] == 2
    assert not any(r.exc_info for r in caplog.records)
    records.down = True
    svc.stop()
    svc._guarded("heartbeat", svc._report_state)  # a round failing during stop: no warning
    assert "failed" not in caplog.records[-1].getMessage()


# --- RPC --------------------------------------------------------------------------------

def test_conductor_rpc_carries_context_datetimes_and_typed_errors(cell):
    db_url = cell.db_url
    conductor = cell.running[0]
    api = conductor_rpcapi.ConductorAPI(conductor.transport)
    row = api.service_heartbeat(admin(), conductor.record["id"])
    assert isinstance(row["last_seen_up"], datetime.datetime)

    with pytest.raises(exceptions.InstanceNotFound):
        api.instance_get_by_uuid(admin(), str(uuid.uuid4()))
    instance_uuid = add_instance(db_url, host="elsewhere", task_state="spawning")
    with pytest.raises(exceptions.UnexpectedTaskState):
        api.instance_update(admin(), instance_uuid, {"vm_state": "active"},
                            expected_task_states=[None])
    updated = api.instance_update(admin(), instance_uuid, {"task_state": None},
                                  expected_task_states=["spawning"])
    assert updated["task_state"] is None

    # The event lands on the action of the caller's request: the context crossed RPC.
    context = nova_context.RequestContext(user_id="u", project_id="p", overwrite=False)
    with engines.get_engine(db_url).begin() as connection:
        connection.execute(sa.insert(models.InstanceAction).values(
            action="create", instance_uuid=instance_uuid, request_id=context.request_id))
    api.action_event_start(context, instance_uuid, "compute_build_and_run_instance", host="c1")
    event = api.action_event_finish(context, instance_uuid, "compute_build_and_run_instance",
                                    "Error", traceback="Traceback ...")
    assert event["result"] == "Error" and event["finish_time"] >= event["start_time"]
    with pytest.raises(exceptions.InstanceActionNotFound):
        api.action_event_start(admin(), instance_uuid, "compute_build_and_run_instance")
    fault = api.instance_fault_create(admin(), instance_uuid, 500, "x" * 300, details="d")
    assert len(fault["message"]) == 255


def test_a_build_claim_and_its_end_are_one_call_each(cell):
    db_url = cell.db_url
    api = conductor_rpcapi.ConductorAPI(cell.running[0].transport)
    node = compute_nodes.get_by_host_and_nodename(db_url, "c1", "c1")
    instance_uuid = str(uuid.uuid4())
    instances.create(db_url, {"uuid": instance_uuid, "vm_state": "building",
                              "task_state": "scheduling", "project_id": "p", "user_id": "u"},
                     flavor={"name": "m1.tiny", "memory_mb": 512}, metadata={"k": "v"})
    context = nova_context.RequestContext(user_id="u", project_id="p", overwrite=False)
    with engines.get_engine(db_url).begin() as connection:
        connection.execute(sa.insert(models.InstanceAction).values(
            action="create", instance_uuid=instance_uuid, request_id=context.request_id))
    event = "compute_build_and_run_instance"

    claimed = api.instance_claim(
        context, instance_uuid, {"host": "c1", "node": "c1", "task_state": "spawning"},
        expected_task_states=["scheduling"], node_id=node["id"],
        node_values={"running_vms": 7}, event=event, host="c1", config_drive=True)
    assert (claimed["instance"]["host"], claimed["instance"]["task_state"]) == ("c1", "spawning")
    assert claimed["node"]["running_vms"] == 7
    assert claimed["spawn_info"] == {"network_info": [], "metadata": {"k": "v"},
                                     "flavor": {"name": "m1.tiny", "memory_mb": 512}}
    # The same claim again finds the instance spawning: refused, the node untouched.
    with pytest.raises(exceptions.UnexpectedTaskState):
        api.instance_claim(context, instance_uuid, {"host": "c2"}, ["scheduling"], node["id"],
                           {"running_vms": 8})
    assert compute_nodes.get_by_host_and_nodename(db_url, "c1", "c1")["running_vms"] == 7
    # The claim is one transaction, yet the step it started before the refusal
    # stays (as action_event_start's own would), for the compute to end it.
    with pytest.raises(exceptions.UnexpectedTaskState):
        api.instance_claim(context, instance_uuid, {"host": "c2"}, ["scheduling"], node["id"],
                           {"running_vms": 8}, event="compute_refused", host="c2")
    assert compute_nodes.get_by_host_and_nodename(db_url, "c1", "c1")["running_vms"] == 7
    [action] = instance_actions.actions_for(db_url, instance_uuid)
    assert [(e["event"], e["host"], e["finish_time"]) for e in action["events"]] == [
        (event, "c1", None), ("compute_refused", "c2", None)]
    assert api.instance_spawn_info(context, instance_uuid, config_drive=False) == {
        "network_info": []}

    done = api.instance_update(context, instance_uuid, {"vm_state": "active", "task_state": None},
                               expected_task_states=["spawning"],
                               finish_event={"event": event, "result": "Success"})
    assert done["vm_state"] == "active"
    [action] = instance_actions.actions_for(db_url, instance_uuid)
    assert [(e["event"], e["host"], e["result"]) for e in action["events"]] == [
        (event, "c1", "Success"), ("compute_refused", "c2", None)]
    # A step that never started does not undo the update it came with.
    again = api.instance_update(context, instance_uuid, {"display_name": "x"},
                                finish_event={"event": "compute_other", "result": "Success"})
    assert again["display_name"] == "x"
    # A client capped below 1.4 cannot send them.
    capped = conductor_rpcapi.ConductorAPI(cell.running[0].transport, version_cap="1.3")
    with pytest.raises(rpc.ServiceTooOld):
        capped.instance_claim(context, instance_uuid, {}, None, node["id"], {})


def test_only_exposed_methods_are_callable_remotely(cell):
    conductor = cell.running[0]
    client = messaging.get_rpc_client(conductor.transport, messaging.Target(topic="conductor"),
                                      serializer=rpc.RequestContextSerializer())
    assert client.call(admin(), "ping")["host"] == "controller"
    for name in ("init_host", "periodic_tasks", "cleanup_host", "_endpoint"):
        with pytest.raises(Exception, match="does not support RPC method"):
            client.call(admin(), name)


def test_version_cap(cell):
    transport = cell.running[0].transport
    capped = compute_rpcapi.ComputeAPI(transport, version_cap="1.0")
    assert capped.can_send_version("1.0") and not capped.can_send_version("1.1")
    with pytest.raises(rpc.ServiceTooOld,
                       match="speaks RPC up to version 1.0; this call needs 1.1"):
        capped._prepare("1.1")


def test_compute_with_unloadable_driver_cannot_start(tmp_path, db_url, monkeypatch):
    def no_module(conf, name=None):
        raise virt_driver.DriverLoadError("compute_driver 'x.Y': there is no virt driver module")

    monkeypatch.setattr(virt_driver, "load_driver", no_module)
    with pytest.raises(service.FatalError, match="compute_driver 'x.Y'"):
        compute_cmd.build(make_conf(tmp_path, "c1", db_url))


def test_cell_transports_come_from_cell_mappings(tmp_path):
    from nova_runtime import cells
    from nova_runtime.db.api import models as api_models

    conf = make_conf(tmp_path, "api", "sqlite://")
    cell1 = api_models.CellMapping(name="cell1", transport_url="fake://cell1/")
    cell0 = api_models.CellMapping(name="cell0", transport_url=cells.CELL0_TRANSPORT_URL)
    try:
        transport = rpc.get_cell_transport(conf, cell1)
        assert rpc.get_cell_transport(conf, cell1) is transport  # one per URL
        assert rpc.get_transport(conf) is not transport  # [DEFAULT] transport_url is fake://
        with pytest.raises(rpc.TransportError, match="cell0 has no message queue"):
            rpc.get_cell_transport(conf, cell0)
        with pytest.raises(rpc.TransportError, match="cannot use transport URL nosuch://"):
            rpc.get_cell_transport(
                conf, api_models.CellMapping(name="x", transport_url="nosuch://u:p@h/"))
    finally:
        rpc.cleanup("fake://cell1/")
        rpc.cleanup("fake://")
