import json

import numpy as np
import pytest

from nova_runtime.scheduler import HostDefaults, InstanceGroup
from nova_runtime.scheduler.host_state import ABSENT
from tests.unit.scheduler.helpers import NOW, aggregate, hosts, record, spec


def test_columns_from_records():
    states = hosts(
        record("a", memory_mb=2048, free_ram_mb=1024, vcpus=4, vcpus_used=1, local_gb=50,
               free_disk_gb=40, disk_available_least=30, stats={"num_instances": "3",
                                                                "io_workload": "2"}),
        record("b", cpu_allocation_ratio=2.0, ram_allocation_ratio=0.0, disabled=True),
        cpu_allocation_ratio=8.0, ram_allocation_ratio=1.25)
    assert len(states) == 2
    assert states.total_ram_mb.tolist() == [2048, 16384]
    assert states.free_ram_mb.tolist() == [1024, 16384]
    assert states.free_disk_mb.tolist() == [30 * 1024, 100 * 1024]
    assert states.num_instances.tolist() == [3, 0]
    assert states.num_io_ops.tolist() == [2, 0]
    assert states.cpu_ratio.tolist() == [8.0, 2.0]
    assert states.ram_ratio.tolist() == [1.25, 1.25]  # 0.0 means unset, as upstream
    assert states.disabled.tolist() == [False, True]
    assert states.row("b", "b") == 1 and states.row("b", "x") is None
    assert states.row_of_uuid("uuid-a-a") == 0


def test_duplicate_uuids_are_refused():
    with pytest.raises(ValueError):
        hosts(record("a"), record("a"))


def test_hv_specs_are_canonical():
    states = hosts(record("a", supported_instances=[["AMD64", "XAPI", "PV"]]),
                   record("b", supported_instances=[["x86_64", "xen", "xen"],
                                                    ["i386", "kvm", "hvm"]]))
    assert states.hv_specs == [("x86_64", "xen", "xen"), ("i686", "kvm", "hvm")]
    assert states.hv_spec_member.tolist() == [[True, False], [True, True]]


def test_consume_and_release():
    states = hosts(record("a"), record("b"))
    request = spec(memory_mb=1000, vcpus=2, root_gb=5, ephemeral_gb=1, swap=512,
                   instance_group=InstanceGroup("g", "anti-affinity"))
    states.consume(1, request, now=NOW + 10)
    assert states.free_ram_mb.tolist() == [16384, 15384]
    assert states.vcpus_used.tolist() == [0, 2]
    assert states.free_disk_mb.tolist() == [102400, 102400 - 6 * 1024]  # swap is not counted
    assert states.num_instances.tolist() == [0, 1]
    assert states.num_io_ops.tolist() == [0, 1]
    assert states.updated[1] == NOW + 10
    assert states.group_counts("g") == {"b": 1}
    states.release(1, request)
    assert states.free_ram_mb.tolist() == [16384, 16384]
    assert states.vcpus_used.tolist() == [0, 0]
    assert states.num_instances.tolist() == [0, 0]
    assert states.group_counts("g") == {}


def test_refresh_overwrites_rows_in_place():
    states = hosts(record("a"), record("b"))
    columns = states.free_ram_mb
    states.refresh([record("b", free_ram_mb=100, updated_at=NOW)])
    assert states.free_ram_mb is columns  # no rebuild
    assert states.free_ram_mb.tolist() == [16384, 100]


def test_a_report_older_than_a_placement_does_not_undo_it():
    states = hosts(record("a"))
    states.consume(0, spec(memory_mb=1000), now=NOW)
    states.refresh([record("a", updated_at=NOW - 1)])  # written before the placement
    assert states.free_ram_mb.tolist() == [15384]
    states.refresh([record("a", free_ram_mb=15000, updated_at=NOW + 1)])
    assert states.free_ram_mb.tolist() == [15000]


def test_refresh_adds_and_removes_rows_keeping_consumption():
    states = hosts(record("a"), record("b"), record("c"),
                   aggregates=[aggregate("z", {"c", "d"}, availability_zone="az1")])
    states.consume(2, spec(memory_mb=1000), now=NOW)
    states.refresh([record("d", free_ram_mb=7)], removed=["uuid-a-a", "unknown"])
    assert states.hosts == ["b", "c", "d"]
    assert states.free_ram_mb.tolist() == [16384, 15384, 7]
    assert states.az_mask("az1").tolist() == [False, True, True]
    assert states.row("a", "a") is None and states.row("d", "d") == 2


def test_refresh_with_a_new_hv_spec():
    states = hosts(record("a"), record("b"))
    states.refresh([record("b", supported_instances=[["aarch64", "qemu", "hvm"]], updated_at=NOW)])
    assert states.hv_specs[-1] == ("aarch64", "qemu", "hvm")
    assert states.hv_spec_member.tolist() == [[True, False], [False, True]]


def test_availability_zones_and_aggregate_membership():
    states = hosts(record("a"), record("b", node="b1"), record("b", node="b2"), record("c"),
                   aggregates=[aggregate("x", {"b"}, availability_zone="az1"),
                               aggregate("y", {"a", "b"}, ssd="true")],
                   default_availability_zone="home")
    assert states.aggregate_member.tolist() == [[False, True], [True, True], [True, True],
                                                [False, False]]
    assert states.az_mask("az1").tolist() == [False, True, True, False]
    assert states.az_mask("home").tolist() == [True, False, False, True]
    assert not states.az_mask("nova").any()
    states.set_aggregates([])
    assert states.az_mask("home").all()


def test_capability_columns_are_categorical():
    states = hosts(record("a", hypervisor_type="QEMU", stats={"gpu": "1"}),
                   record("b", hypervisor_type="QEMU", stats={"gpu": None}),
                   record("c", hypervisor_type="xen", cpu_info=json.dumps({"arch": "ppc64"})))
    codes, values = states.capability(("hypervisor_type",))
    assert [values[c] for c in codes] == ["QEMU", "QEMU", "xen"]
    assert len(values) == 2
    codes, values = states.capability(("gpu",))
    assert [values[c] for c in codes] == ["1", None, ABSENT]
    codes, values = states.capability(("cpu_info", "arch"))
    assert [values[c] for c in codes] == [None, None, "ppc64"]
    codes, values = states.capability(("vcpus_used",))
    assert [values[c] for c in codes] == ["0", "0", "0"]
    assert states.capability(("hypervisor_type",)) is states.capability(("hypervisor_type",))


def test_service_up_follows_the_heartbeat():
    states = hosts(record("a"), record("b", last_heartbeat=NOW - 120),
                   record("c", forced_down=True))
    assert states.service_up(60, now=NOW).tolist() == [True, False, False]
    assert states.service_up(600, now=NOW).tolist() == [True, True, False]


def test_host_masks_ignore_case_for_hosts_not_nodes():
    states = hosts(record("Alpha"), record("beta", node="Node1"))
    assert states.rows_of_hosts(["alpha", "nobody"]).tolist() == [True, False]
    assert states.rows_of_nodes(["Node1"]).tolist() == [False, True]
    assert states.rows_of_nodes(["node1"]).tolist() == [False, False]


def test_group_count_column_is_per_host():
    states = hosts(record("a"), record("b", node="b1"), record("b", node="b2"))
    states.set_group_hosts("g", ["b", "b", "x"])
    assert states.group_count_column("g").tolist() == [0, 2, 2]
    assert states.group_count_column("unknown").tolist() == [0, 0, 0]
    states.forget_group("g")
    assert states.group_counts("g") == {}


def test_defaults_from_conf():
    from tests.unit.scheduler.helpers import conf
    d = HostDefaults.from_conf(conf(cpu_allocation_ratio=4.0, default_availability_zone="zz"))
    assert (d.cpu_allocation_ratio, d.ram_allocation_ratio, d.default_availability_zone) == \
        (4.0, 1.5, "zz")


def test_nbytes_counts_the_columns():
    states = hosts(*(record(f"h{i}") for i in range(100)))
    assert states.nbytes() >= 100 * 8 * 10
    assert isinstance(states.free_ram_mb, np.ndarray)


def test_service_state_applies_even_from_a_stale_report():
    states = hosts(record("a"), record("b"))
    states.consume(0, spec(memory_mb=1000), now=NOW)
    states.refresh([record("a", disabled=True, updated_at=NOW - 1)])
    assert states.disabled.tolist() == [True, False]
    assert states.free_ram_mb.tolist() == [15384, 16384]  # the usage was stale
    # ... and survives a rebuild caused by a new node.
    states.refresh([record("c")])
    assert states.disabled.tolist() == [True, False, False]
    assert states.free_ram_mb.tolist() == [15384, 16384, 16384]


def test_a_record_read_again_updates_the_service_and_its_usage_as_before():
    states = hosts(record("a"))  # updated_at NOW - 5
    states.refresh([record("a", last_heartbeat=NOW + 10)])  # the same node, a new heartbeat
    assert states.heartbeat.tolist() == [NOW + 10] and states.free_ram_mb.tolist() == [16384]
    states.consume(0, spec(memory_mb=1000), now=NOW - 5.5)  # before the record was written
    states.refresh([record("a", last_heartbeat=NOW + 20)])  # the record wins, as before
    assert states.heartbeat.tolist() == [NOW + 20] and states.free_ram_mb.tolist() == [16384]
    states.consume(0, spec(memory_mb=1000), now=NOW - 4)  # after it: kept
    states.refresh([record("a", last_heartbeat=NOW + 30)])
    assert states.heartbeat.tolist() == [NOW + 30] and states.free_ram_mb.tolist() == [15384]


def test_a_node_that_moved_to_another_host_is_re_added():
    states = hosts(record("a"), record("b"),
                   aggregates=[aggregate("z", {"x"}, availability_zone="az")])
    states.refresh([record("x", uuid="uuid-a-a")])
    assert states.hosts == ["b", "x"]
    assert states.az_mask("az").tolist() == [False, True]


def test_empty_host_states():
    from nova_runtime.scheduler import FilterScheduler, NoValidHost
    from tests.unit.scheduler.helpers import conf
    states = hosts()
    assert len(states) == 0
    with pytest.raises(NoValidHost):
        FilterScheduler(conf()).select_destinations(states, spec())
    states.refresh([record("a")])
    assert FilterScheduler(conf()).select_destinations(states, spec())[0][0].host == "a"
