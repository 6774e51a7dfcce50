"""nova-scheduler's manager on SQLite databases (an API database and two
cells) and, for its RPC API, on a fake:// transport of its own."""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import logging
import uuid

import oslo_messaging as messaging
import pytest

from nova_runtime import cells, config, context as nova_context, rpc, service
from nova_runtime.cmd import scheduler as scheduler_cmd
from nova_runtime.db import engines, migration
from nova_runtime.db.api import models as api_models
from nova_runtime.placement import client as placement_client
from nova_runtime.objects import build_requests, cell_mappings, compute_nodes, instances, services
from nova_runtime.scheduler import NoValidHost, manager, rpcapi

FLAVOR = {"memory_mb": 1024, "vcpus": 1, "root_gb": 1, "ephemeral_gb": 0, "swap": 0,
          "extra_specs": {}, "name": "m1.small"}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def make_conf(api_url, db_url, **overrides):
    conf = config.new_conf()
    rpc.set_defaults(conf)
    config.load(conf, [], prog="test", default_config_files=[])
    settings = {"host": "sched", "transport_url": "fake://scheduler-tests/",
                "control_exchange": "scheduler-tests", "rpc_response_timeout": 5,
                "report_interval": 3600, "periodic_interval": 3600}
    settings.update(overrides)
    for key, value in settings.items():
        group, _, name = key.rpartition("__")
        conf.set_override(name, value, group=group or None)
    conf.set_override("connection", api_url, group="api_database")
    conf.set_override("connection", db_url, group="database")
    conf.set_override("weight_classes", ["RAMWeigher"], group="filter_scheduler")
    return conf


@pytest.fixture
def deployment(tmp_path):
    """API database, cell1 and cell2 (SQLite), cell0 mapped."""
    urls = {name: f"sqlite:///{tmp_path}/{name}.sqlite"
            for name in ("api", "cell0", "cell1", "cell2")}
    migration.sync("api", urls["api"])
    for name in ("cell0", "cell1", "cell2"):
        migration.sync("main", urls[name])
    cell_mappings.map_cell0(urls["api"], urls["cell0"])
    urls["cell1_uuid"] = cell_mappings.create_cell(urls["api"], "cell1", "fake://c1/", urls["cell1"]).uuid
    urls["cell2_uuid"] = cell_mappings.create_cell(urls["api"], "cell2", "fake://c2/", urls["cell2"]).uuid
    yield urls
    engines.dispose_all()


def add_host(db_url, host, memory_mb=8192, vcpus=8, local_gb=100, disabled=False):
    record, _ = services.register(db_url, host=host, binary="nova-compute", topic="compute",
                                  version=service.SERVICE_VERSION)
    if disabled:
        services.update(db_url, record["id"], {"disabled": True})
    return compute_nodes.create(db_url, str(uuid.uuid4()), {
        "service_id": record["id"], "host": host, "hypervisor_hostname": host,
        "hypervisor_type": "fake", "hypervisor_version": 1000, "cpu_info": "{}",
        "vcpus": vcpus, "memory_mb": memory_mb, "local_gb": local_gb, "vcpus_used": 0,
        "memory_mb_used": 0, "local_gb_used": 0, "free_ram_mb": memory_mb,
        "free_disk_gb": local_gb, "disk_available_least": local_gb,
        "supported_instances": '[["x86_64", "fake", "hvm"]]', "stats": "{}",
        "cpu_allocation_ratio": 1.0, "ram_allocation_ratio": 1.0,
        "disk_allocation_ratio": 1.0})


def spec(memory_mb=1024, **fields):
    return dict({"flavor": dict(FLAVOR, memory_mb=memory_mb), "image": {"properties": {}},
                 "num_instances": 1}, **fields)


def admin():
    return nova_context.get_admin_context()


def scheduler(deployment, clock=None, **overrides):
    conf = make_conf(deployment["api"], deployment["cell1"], **overrides)
    sched = manager.SchedulerManager(conf, "sched", deployment["api"], clock=clock or Clock())
    sched.init_host(admin())
    return sched


def chosen(result):
    return [host_list[0]["host"] for host_list in result]


def test_hosts_of_every_enabled_cell_that_discovery_mapped(deployment):
    add_host(deployment["cell1"], "a1", memory_mb=4096)
    add_host(deployment["cell2"], "b1", memory_mb=8192)
    cell_mappings.discover_hosts(deployment["api"])
    add_host(deployment["cell1"], "unmapped", memory_mb=65536)
    sched = scheduler(deployment)
    assert sorted(sched.hosts.hosts) == ["a1", "b1"]
    result = sched.schedule(admin(), spec(), ["i1"], return_alternates=True)
    # No alternate: they stay in the chosen host's cell, and a1 is in cell1.
    [first] = result[0]
    assert (first["host"], first["cell_uuid"]) == ("b1", deployment["cell2_uuid"])
    assert first["limits"]["memory_mb"] == 8192.0 and first["compute_node_uuid"]

    cell_mappings.update_cell(deployment["api"], deployment["cell2_uuid"], disabled=True)
    sched.refresh_host_states()
    assert sched.hosts.hosts == ["a1"]


def test_spreads_by_ram_and_counts_its_own_placements(deployment):
    for host, memory in (("h1", 8192), ("h2", 6144), ("h3", 4096)):
        add_host(deployment["cell1"], host, memory_mb=memory)
    cell_mappings.discover_hosts(deployment["api"])
    sched = scheduler(deployment)
    picks = [chosen(sched.schedule(admin(), spec(memory_mb=3072), [f"i{n}"]))[0]
             for n in range(3)]
    # 8192 -> 5120 after the first; then h2 (6144) has most free RAM; then h1 (5120).
    assert picks == ["h1", "h2", "h1"]

    three = sched.schedule(admin(), spec(memory_mb=1024, num_instances=3),
                                      ["a", "b", "c"], return_alternates=True)
    assert len(three) == 3
    for host_list in three:  # each has alternates, none of them another chosen host
        assert host_list[0]["host"] not in [s["host"] for s in host_list[1:]]


def test_refresh_reads_new_removed_and_disabled_hosts(deployment):
    clock = Clock()
    node = add_host(deployment["cell1"], "h1")
    cell_mappings.discover_hosts(deployment["api"])
    sched = scheduler(deployment, clock=clock, scheduler__host_state_refresh_interval=10)
    add_host(deployment["cell1"], "h2", memory_mb=16384)
    cell_mappings.discover_hosts(deployment["api"])
    # Not due yet: the new host is not seen.
    assert chosen(sched.schedule(admin(), spec(), ["i1"])) == ["h1"]
    clock.now += 10
    assert chosen(sched.schedule(admin(), spec(), ["i2"])) == ["h2"]

    h2 = services.get_by_host_and_binary(deployment["cell1"], "h2", "nova-compute")
    services.update(deployment["cell1"], h2["id"], {"disabled": True})
    with cells.session(deployment["cell1"]) as db:  # h1's node goes away
        db.execute(compute_nodes.ComputeNode.__table__.update()
                   .where(compute_nodes.ComputeNode.id == node["id"]).values(deleted=node["id"]))
    clock.now += 10
    sched.periodic_tasks(admin())
    assert sched.hosts.hosts == ["h2"]
    with pytest.raises(NoValidHost, match="ComputeFilter: 1 -> 0 host"):
        sched.schedule(admin(), spec(), ["i3"])


def test_server_group_members_from_the_databases_and_its_own_placements(deployment):
    api = deployment["api"]
    for host in ("h1", "h2", "h3"):
        add_host(deployment["cell1"], host)
    cell_mappings.discover_hosts(api)
    group = str(uuid.uuid4())
    with cells.session(api) as db:
        row = api_models.InstanceGroup(uuid=group, name="g", project_id="p", user_id="u")
        db.add(row)
        db.flush()
        db.add(api_models.InstanceGroupPolicy(group_id=row.id, policy="anti-affinity"))
    # A member running on h1 in cell1...
    running = str(uuid.uuid4())
    build_requests.create(api, [{"instance": {"uuid": running, "project_id": "p"},
                                 "request_spec": {}}], group_uuid=group)
    instances.create(deployment["cell1"], {"uuid": running, "host": "h1", "node": "h1",
                                           "project_id": "p"})
    build_requests.mark_placed(api, running, cell_mappings.get_cell(api, deployment["cell1_uuid"]).id)
    # ... and one being built, that this scheduler sent to a host before.
    building = str(uuid.uuid4())
    build_requests.create(api, [{"instance": {"uuid": building, "project_id": "p"},
                                 "request_spec": {}}], group_uuid=group)
    sched = scheduler(deployment)
    sched._remember(building, "h2")

    group_spec = spec(instance_group={"uuid": group, "policy": "anti-affinity", "rules": {}})
    new, another = str(uuid.uuid4()), str(uuid.uuid4())
    build_requests.create(api, [{"instance": {"uuid": new, "project_id": "p"},
                                 "request_spec": {}}], group_uuid=group)
    assert chosen(sched.schedule(admin(), group_spec, [new])) == ["h3"]
    build_requests.create(api, [{"instance": {"uuid": another, "project_id": "p"},
                                 "request_spec": {}}], group_uuid=group)
    with pytest.raises(NoValidHost, match="ServerGroupAntiAffinityFilter: 3 -> 0"):
        sched.schedule(admin(), group_spec, [another])


def test_retry_hosts_and_forced_hosts(deployment):
    for host, memory in (("h1", 8192), ("h2", 4096)):
        add_host(deployment["cell1"], host, memory_mb=memory)
    cell_mappings.discover_hosts(deployment["api"])
    sched = scheduler(deployment)
    assert chosen(sched.schedule(
        admin(), spec(retry={"num_attempts": 1, "hosts": [["h1", "h1"]]}), ["i1"])) == ["h2"]
    assert chosen(sched.schedule(admin(), spec(force_hosts=["h2"]), ["i2"])) == ["h2"]


def test_placement_seam_narrows_the_candidates(deployment):
    nodes = {host: add_host(deployment["cell1"], host, memory_mb=memory)
             for host, memory in (("h1", 8192), ("h2", 4096))}
    cell_mappings.discover_hosts(deployment["api"])
    sched = scheduler(deployment)
    sched._allocation_candidates = lambda context, request, fresh=False: (
        sched.restrict_to_nodes(request, [nodes["h2"]["uuid"]]), False)
    assert chosen(sched.schedule(admin(), spec(), ["i1"])) == ["h2"]


class FakePlacement:
    """allocation_candidates answers ``answer`` and keeps the queries; a
    claim on a provider of ``full`` is refused."""

    def __init__(self, answer, full=()):
        self.answer, self.queries, self.full, self.claims = answer, [], set(full), {}

    def allocation_candidates(self, query):
        self.queries.append(dict(query))
        return self.answer

    def put_allocations(self, consumer, allocations, project_id, user_id, consumer_generation):
        if self.full & set(allocations):
            raise placement_client.Conflict("no room left", 409, "placement.undefined_code")
        self.claims[consumer] = allocations


def candidates(*nodes):
    return {"allocation_requests": [{"allocations": {node: {"resources": {"VCPU": 1}}}}
                                    for node in nodes],
            "provider_summaries": {node: {"root_provider_uuid": node} for node in nodes}}


def test_allocation_candidates_are_limited_by_max_placement_results(deployment):
    nodes = {host: add_host(deployment["cell1"], host) for host in ("h1", "h2")}
    cell_mappings.discover_hosts(deployment["api"])
    assert scheduler(deployment).conf.scheduler.max_placement_results == 1000  # upstream's
    sched = scheduler(deployment, scheduler__max_placement_results=7)
    node = nodes["h2"]["uuid"]
    sched.placement = FakePlacement(candidates(node))
    assert chosen(sched.schedule(admin(), spec())) == ["h2"]
    assert sched.placement.queries == [
        {"resources": "DISK_GB:1,MEMORY_MB:1024,VCPU:1", "limit": "7"}]


def test_candidates_are_asked_for_each_decision_unless_a_max_age_keeps_them(deployment):
    nodes = {host: add_host(deployment["cell1"], host, memory_mb=memory)["uuid"]
             for host, memory in (("h1", 8192), ("h2", 4096))}
    cell_mappings.discover_hosts(deployment["api"])
    assert scheduler(deployment).conf.scheduler.placement_candidates_max_age == 2
    fresh = scheduler(deployment, scheduler__placement_candidates_max_age=0)
    fresh.placement = FakePlacement(candidates(*nodes.values()))
    for index in range(2):
        fresh.schedule(admin(), spec(), [f"i{index}"])
    assert len(fresh.placement.queries) == 2  # upstream's way: one query per decision

    clock = Clock()
    kept = scheduler(deployment, clock=clock, scheduler__placement_candidates_max_age=10)
    kept.placement = FakePlacement(candidates(*nodes.values()))
    # h1 keeps the most free RAM; the three decisions share one query.
    assert [chosen(kept.schedule(admin(), spec(), [f"k{index}"])) for index in range(3)] == \
        [["h1"], ["h1"], ["h1"]]
    assert len(kept.placement.queries) == 1 and set(kept.placement.claims) == {"k0", "k1", "k2"}
    clock.now += 10  # too old: asked again
    kept.schedule(admin(), spec(), ["k3"])
    assert len(kept.placement.queries) == 2
    # h1 filled up behind this scheduler's back: its claim is refused, the
    # alternate h2 takes the instance, and the next decision asks again.
    kept.placement.full = {nodes["h1"]}
    assert chosen(kept.schedule(admin(), spec(), ["k4"], return_alternates=True)) == ["h2"]
    kept.schedule(admin(), spec(), ["k5"], return_alternates=True)
    assert len(kept.placement.queries) == 3


def test_a_decision_that_finds_no_host_on_a_kept_answer_is_made_again_on_a_fresh_one(
        deployment):
    nodes = {host: add_host(deployment["cell1"], host)["uuid"] for host in ("h1", "h2")}
    cell_mappings.discover_hosts(deployment["api"])
    sched = scheduler(deployment)
    sched.placement = FakePlacement(candidates(nodes["h1"]))
    assert chosen(sched.schedule(admin(), spec(), ["k0"])) == ["h1"]
    # h1 filled up behind this scheduler's back and h2 came to Placement: the
    # kept answer offers only h1, whose claim is refused.
    sched.placement.full = {nodes["h1"]}
    sched.placement.answer = candidates(nodes["h1"], nodes["h2"])
    assert chosen(sched.schedule(admin(), spec(), ["k1"])) == ["h2"]
    assert len(sched.placement.queries) == 2 and set(sched.placement.claims) == {"k0", "k1"}
    # A decision on a fresh answer that finds no host is not made again.
    sched.placement.full = set(nodes.values())
    with pytest.raises(NoValidHost, match="no room left"):
        sched.schedule(admin(), spec(), ["k2"])
    assert len(sched.placement.queries) == 3


def test_periodic_discovery_maps_new_hosts(deployment):
    clock = Clock()
    add_host(deployment["cell1"], "h1")
    sched = scheduler(deployment, clock=clock, scheduler__discover_hosts_in_cells_interval=30)
    assert sched.hosts.hosts == ["h1"]  # init_host discovered it
    add_host(deployment["cell1"], "h2")
    sched.periodic_tasks(admin())
    assert sorted(sched.hosts.hosts) == ["h1"]  # discovery is not due yet
    clock.now += 30
    sched.periodic_tasks(admin())
    assert sorted(sched.hosts.hosts) == ["h1", "h2"]
    assert [host for _, host in cell_mappings.list_hosts(deployment["api"])] == ["h1", "h2"]


def test_api_database_down_is_unavailable(tmp_path):
    url = f"sqlite:///{tmp_path}/no-schema.sqlite"
    conf = make_conf(url, url)
    sched = manager.SchedulerManager(conf, "sched", url)
    with pytest.raises(service.Unavailable, match="the API database"):
        sched.init_host(admin())


def test_rpc_select_destinations_and_no_valid_host_with_its_summary(deployment, caplog):
    add_host(deployment["cell1"], "h1", memory_mb=4096)
    add_host(deployment["cell1"], "h2", memory_mb=2048)
    cell_mappings.discover_hosts(deployment["api"])
    conf = make_conf(deployment["api"], deployment["cell1"])
    svc = scheduler_cmd.build(conf)
    assert svc.start()
    try:
        client = rpcapi.SchedulerAPI(svc.transport)
        assert client.ping(admin())["host"] == "sched"
        result = client.select_destinations(admin(), spec(), ["i1"], return_alternates=True)
        assert [[s["host"] for s in host_list] for host_list in result] == [["h1", "h2"]]
        caplog.set_level(logging.INFO)
        with pytest.raises(NoValidHost) as raised:
            client.select_destinations(admin(), spec(memory_mb=100000), ["i2"])
        assert raised.value.reason == "No valid host was found"
        assert "RamFilter: 2 -> 0 host(s), removed h1, h2" in map(
            str, raised.value.filter_results)
        assert not any(record.exc_info for record in caplog.records)  # an answer, not a failure
        # The scheduler keeps its own services row in [database] connection.
        row = services.get_by_host_and_binary(deployment["cell1"], "sched", "nova-scheduler")
        assert row["topic"] == "scheduler"
    finally:
        svc.stop()
        rpc.cleanup("fake://scheduler-tests/")


def test_cmd_refuses_to_start_without_databases(deployment):
    conf = make_conf("", deployment["cell1"])
    with pytest.raises(service.FatalError, match=r"\[api_database\] connection is not set"):
        scheduler_cmd.build(conf)
    conf = make_conf(deployment["api"], "")
    with pytest.raises(service.FatalError, match=r"\[database\] connection is not set"):
        scheduler_cmd.build(conf)


def test_no_valid_host_arriving_as_a_remote_error_gets_its_type_back(monkeypatch):
    """Over RabbitMQ the error arrives as RemoteError (its module is not among
    rpc.ALLOWED_EXMODS); fake:// hands the exception object over as it is."""
    client = rpcapi.SchedulerAPI(rpc.get_transport(
        make_conf("sqlite://", "sqlite://"), "fake://remote-error/"))
    summary = ("No valid host was found\n  RetryFilter: 2 -> 2 host(s)\n"
               "  RamFilter: 2 -> 0 host(s), removed h1, h2")

    class Prepared:
        def call(self, *args, **kwargs):
            raise messaging.RemoteError("NoValidHost", summary, ["Traceback ..."])

    monkeypatch.setattr(client, "_prepare", lambda version, **kwargs: Prepared())
    with pytest.raises(NoValidHost) as raised:
        client.select_destinations(admin(), spec(), ["i1"])
    assert str(raised.value) == summary
    assert raised.value.filter_results == ["RetryFilter: 2 -> 2 host(s)",
                                           "RamFilter: 2 -> 0 host(s), removed h1, h2"]
    rpc.cleanup("fake://remote-error/")


def test_a_report_in_whole_seconds_after_a_placement_is_taken(deployment):
    """MySQL keeps whole seconds: a report written in the second of a
    placement, after it, must replace the host state (not be taken as older)."""
    import datetime
    import math

    node = add_host(deployment["cell1"], "h1", memory_mb=8192)
    cell_mappings.discover_hosts(deployment["api"])
    sched = scheduler(deployment)
    sched.schedule(admin(), spec(memory_mb=1024), ["i1"])
    row = sched.hosts.row("h1", "h1")
    assert sched.hosts.free_ram_mb[row] == 8192 - 1024
    # The compute reports the instance and 1024 MB more, stored without the
    # fraction of the placement's second.
    placed_at = sched.hosts.updated[row]
    written = datetime.datetime.fromtimestamp(math.floor(placed_at), datetime.timezone.utc)
    with cells.session(deployment["cell1"]) as db:
        db.execute(compute_nodes.ComputeNode.__table__.update()
                   .where(compute_nodes.ComputeNode.id == node["id"])
                   .values(memory_mb_used=2048, free_ram_mb=8192 - 2048,
                           updated_at=written.replace(tzinfo=None)))
    sched.refresh_host_states()
    assert sched.hosts.free_ram_mb[row] == 8192 - 2048


def test_same_host_and_different_host_hints_find_the_instances_hosts(deployment):
    api = deployment["api"]
    for host, memory in (("h1", 4096), ("h2", 8192), ("h3", 6144)):
        add_host(deployment["cell1"], host, memory_mb=memory)
    cell_mappings.discover_hosts(api)
    running = str(uuid.uuid4())  # on h1, in cell1
    build_requests.create(api, [{"instance": {"uuid": running, "project_id": "p"},
                                 "request_spec": {}}])
    instances.create(deployment["cell1"], {"uuid": running, "host": "h1", "node": "h1",
                                           "project_id": "p"})
    build_requests.mark_placed(api, running, cell_mappings.get_cell(api, deployment["cell1_uuid"]).id)
    sched = scheduler(deployment)
    # h2 has the most free RAM; the hints overrule it. A uuid or a list of them.
    near = spec(scheduler_hints={"same_host": running})
    assert chosen(sched.schedule(admin(), near, [str(uuid.uuid4())])) == ["h1"]
    away = spec(scheduler_hints={"different_host": [running]})
    assert chosen(sched.schedule(admin(), away, [str(uuid.uuid4())])) == ["h2"]
    with pytest.raises(NoValidHost, match="SameHostFilter"):
        sched.schedule(admin(), spec(scheduler_hints={"same_host": [str(uuid.uuid4())]}),
                       [str(uuid.uuid4())])
