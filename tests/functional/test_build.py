"""Servers from request to ACTIVE (or to cell0 in ERROR) with real processes:
nova-conductor (super-conductor and cell1's conductor), nova-scheduler and
four nova-computes on the tests' private RabbitMQ and MariaDB, with the real
Placement (harness/placement.py: every nova.conf has the [placement] section, so
the computes report resource providers and the scheduler asks Placement for
allocation candidates and claims them), cells set up with nova-manage;
servers are created, stopped, started and deleted through
nova_runtime.compute.api from the test process (harness/cloud.py's Cloud).

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

import time
import uuid

import pytest
import sqlalchemy as sa

from nova_runtime import cells
from nova_runtime.compute import api as compute_api
from nova_runtime.states import power_state
from nova_runtime.db import engines
from nova_runtime.db.api import models as api_models
from nova_runtime.objects import exceptions, instance_actions, instance_mappings, instances
from harness.cloud import REFRESH, RESERVED_MB, Cloud, Compute, context, events, flavor
from harness.databases import module_databases
from harness.processes import wait_until

pytestmark = pytest.mark.mysql

COMPUTES = {"c1": Compute(12288), "c2": Compute(10240), "c3": Compute(8192),
            "bad": Compute(16384, driver="fake.SpawnFailsDriver")}
GOOD = ("c1", "c2", "c3")

databases = module_databases("build")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, databases, rabbitmq, placement):
    started = Cloud(tmp_path_factory.mktemp("build"), databases, rabbitmq, placement)
    with started.running(COMPUTES, disabled=("bad",)) as running:
        yield running


def claimed(memory_mb):
    return {"VCPU": 1, "MEMORY_MB": memory_mb, "DISK_GB": 1}


def test_one_request_spreads_by_free_ram(cloud):
    servers = cloud.create(flavor(5120), count=3)
    found = cloud.wait_settled(servers)
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
    assert [cloud.allocations(server) for server in servers] == [
        {"c1": claimed(5120)}, {"c2": claimed(5120)}, {"c3": claimed(5120)}]
    assert events(cloud.urls["main"], servers[0]) == [
        ("create", "conductor_schedule_and_build_instances", "Success", None),
        ("create", "compute_build_and_run_instance", "Success", "c1")]
    cloud.delete_all(servers)


def test_stop_start_delete(cloud):
    [server] = cloud.create(flavor())
    [instance] = cloud.wait_settled([server])
    cloud.compute_api.stop(context(), server)
    [stopped] = cloud.wait_settled([server])
    assert (stopped["vm_state"], stopped["power_state"]) == ("stopped", power_state.SHUTDOWN)
    with pytest.raises(compute_api.InstanceInvalidState):
        cloud.compute_api.stop(context(), server)
    cloud.compute_api.start(context(), server)
    wait_until(lambda: cloud.get(server)["vm_state"] == "active", 30, "not started")
    assert cloud.get(server)["power_state"] == power_state.RUNNING
    cloud.delete_all([server])
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
    servers = cloud.create(flavor(), count=3, group=group)
    found = cloud.wait_settled(servers)
    assert sorted(i["host"] for i in found) == list(GOOD)
    assert cloud.usages_by_host() == {host: claimed(1024) for host in GOOD}
    # A fourth member has no host left: cell0, ERROR, the filter named, no claim.
    [fourth] = cloud.create(flavor(), group=group)
    wait_until(lambda: (cloud.get(fourth) or {}).get("vm_state") == "error", 30, "no error")
    [fault] = instance_actions.faults_for(cloud.urls["cell0"], fourth)
    assert "ServerGroupAntiAffinityFilter: 3 -> 0 host(s)" in fault["message"]
    assert cloud.allocations(fourth) == {}
    cloud.delete_all(servers + [fourth])


def test_affinity_group_across_requests(cloud):
    group = make_group(cloud, "affinity")
    [first] = cloud.create(flavor(3072), scheduler_hints={"group": group})
    [instance] = cloud.wait_settled([first])
    assert instance["host"] == "c1"
    # c2 now has the most free RAM (9984 MB, c1 8960), but the group's member is on c1.
    more = cloud.create(flavor(), count=2, group=group)
    assert [i["host"] for i in cloud.wait_settled(more)] == ["c1", "c1"]
    assert cloud.usages_by_host() == {"c1": {"VCPU": 3, "MEMORY_MB": 3072 + 2 * 1024,
                                             "DISK_GB": 3}}
    cloud.delete_all([first] + more)


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
        [east] = cloud.create(flavor(), availability_zone="east")
        [anywhere] = cloud.create(flavor())
        east, anywhere = cloud.wait_settled([east, anywhere])
        assert (east["host"], east["availability_zone"]) == ("c3", "east")
        assert (anywhere["host"], anywhere["availability_zone"]) == ("c1", "nova")
        assert cloud.allocations(east["uuid"]) == {"c3": claimed(1024)}
        [nowhere] = cloud.create(flavor(), availability_zone="west")
        wait_until(lambda: (cloud.get(nowhere) or {}).get("vm_state") == "error", 30, "")
        [fault] = instance_actions.faults_for(cloud.urls["cell0"], nowhere)
        assert "AvailabilityZoneFilter: 4 -> 0 host(s)" in fault["message"]
        assert cloud.allocations(nowhere) == {}
        cloud.delete_all([east["uuid"], anywhere["uuid"], nowhere])
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
        [server] = cloud.create(flavor())
        [instance] = cloud.wait_settled([server])
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
    assert cloud.allocations(server) == {"c1": claimed(1024)}
    assert cloud.usages_by_host() == {"c1": claimed(1024)}
    cloud.delete_all([server])


def test_no_valid_host_puts_the_instance_in_cell0(cloud):
    [server] = cloud.create(flavor(1024 * 1024))
    wait_until(lambda: (cloud.get(server) or {}).get("vm_state") == "error", 30, "no error")
    instance = cloud.get(server)
    assert (instance["cell_uuid"], instance["host"], instance["task_state"]) == (
        cells.CELL0_UUID, None, None)
    assert instance_mappings.get(cloud.urls["api"], server)["cell"].uuid == cells.CELL0_UUID
    [fault] = instance_actions.faults_for(cloud.urls["cell0"], server)
    # The reason crossed RabbitMQ: Placement has no provider with that much RAM
    # (the filters' own summaries: the group and zone tests above). Nothing claimed.
    assert fault["message"] == ("No valid host was found: Placement: no allocation candidate "
                                "for DISK_GB:1, MEMORY_MB:1048576, VCPU:1")
    assert cloud.allocations(server) == {}
    assert events(cloud.urls["cell0"], server) == [
        ("create", "conductor_schedule_and_build_instances", "Error", None)]
    cloud.compute_api.delete(context(), server)
    assert cloud.get(server) is None
