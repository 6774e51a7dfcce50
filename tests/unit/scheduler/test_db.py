"""HostRecords and aggregates from real rows, on SQLite."""

import datetime
import json

import pytest
import sqlalchemy as sa
from sqlalchemy import orm

from nova_runtime.db.api import models as api_models
from nova_runtime.db.main import models as main_models
from nova_runtime.scheduler import HostStates, db


@pytest.fixture
def cell():
    engine = sa.create_engine("sqlite://")
    main_models.Base.metadata.create_all(engine)
    with orm.Session(engine) as session:
        yield session


@pytest.fixture
def api():
    engine = sa.create_engine("sqlite://")
    api_models.Base.metadata.create_all(engine)
    with orm.Session(engine) as session:
        yield session


def _node(host, **fields):
    values = dict(uuid=f"cn-{host}", host=host, hypervisor_hostname=host, hypervisor_type="QEMU",
                  hypervisor_version=2011001, cpu_info="{}", vcpus=8, memory_mb=4096, local_gb=50,
                  vcpus_used=1, memory_mb_used=1024, local_gb_used=10, free_ram_mb=3072,
                  free_disk_gb=40, supported_instances=json.dumps([["x86_64", "qemu", "hvm"]]),
                  stats=json.dumps({"num_instances": 2, "failed_builds": None}))
    values.update(fields)
    return main_models.ComputeNode(**values)


def _service(host, **fields):
    values = dict(uuid=f"svc-{host}", host=host, binary="nova-compute", topic="compute",
                  last_seen_up=datetime.datetime(2030, 1, 1, 12, 0, 0))
    values.update(fields)
    return main_models.Service(**values)


def test_load_cell(cell):
    cell.add_all([
        _node("a"), _service("a"), _service("a", uuid="x", binary="nova-conductor"),
        _node("b", free_ram_mb=None, disk_available_least=30, cpu_allocation_ratio=2.0),
        _service("b", disabled=True, forced_down=True),
        _node("nosvc"),
        _node("new", free_disk_gb=None), _service("new"),
        _node("gone", deleted=1), _service("gone"),
    ])
    cell.commit()
    records = db.load_cell(cell, "cell-1")
    assert [r.host for r in records] == ["a", "b"]
    a, b = records
    assert a.cell_uuid == "cell-1"
    assert a.stats == {"num_instances": "2", "failed_builds": None}
    assert a.supported_instances == [["x86_64", "qemu", "hvm"]]
    assert a.last_heartbeat == datetime.datetime(
        2030, 1, 1, 12, tzinfo=datetime.timezone.utc).timestamp()
    assert not a.disabled
    assert b.free_ram_mb == 3072  # memory_mb - memory_mb_used
    assert (b.disabled, b.forced_down, b.cpu_allocation_ratio) == (True, True, 2.0)
    states = HostStates(records)
    assert states.free_disk_mb.tolist() == [40 * 1024, 30 * 1024]
    assert states.num_instances.tolist() == [2, 2]


def test_bad_json_is_read_as_empty(cell):
    cell.add_all([_node("a", stats="{oops", supported_instances="nope"), _service("a")])
    cell.commit()
    (record,) = db.load_cell(cell)
    assert record.stats == {} and record.supported_instances == []


def test_load_aggregates(api):
    agg = api_models.Aggregate(uuid="agg-1", name="fast")
    empty = api_models.Aggregate(uuid="agg-2", name="empty")
    api.add_all([agg, empty])
    api.flush()
    api.add_all([
        api_models.AggregateHost(aggregate_id=agg.id, host="a"),
        api_models.AggregateHost(aggregate_id=agg.id, host="b"),
        api_models.AggregateMetadata(aggregate_id=agg.id, key="availability_zone", value="az1"),
        api_models.AggregateMetadata(aggregate_id=agg.id, key="ssd", value="true"),
    ])
    api.commit()
    fast, empty = db.load_aggregates(api)
    assert (fast.name, fast.uuid, fast.hosts) == ("fast", "agg-1", frozenset({"a", "b"}))
    assert fast.metadata == {"availability_zone": "az1", "ssd": "true"}
    assert (empty.hosts, empty.metadata) == (frozenset(), {})
