"""Each filter on small, hand-made host sets."""

import json

import numpy as np

from nova_runtime.scheduler.filters.aggregate_instance_extra_specs_filter import (
    AggregateInstanceExtraSpecsFilter,
)
from nova_runtime.scheduler.filters.availability_zone_filter import (
    AvailabilityZoneFilter,
)
from nova_runtime.scheduler.filters.compute_capabilities_filter import (
    ComputeCapabilitiesFilter,
)
from nova_runtime.scheduler.filters.compute_filter import ComputeFilter
from nova_runtime.scheduler.filters.core_filter import CoreFilter
from nova_runtime.scheduler.filters.disk_filter import DiskFilter
from nova_runtime.scheduler.filters.image_properties_filter import ImagePropertiesFilter
from nova_runtime.scheduler.filters.ram_filter import RamFilter
from nova_runtime.scheduler.filters.retry_filter import RetryFilter
from nova_runtime.scheduler.filters.server_group_affinity_filter import (
    ServerGroupAffinityFilter,
)
from nova_runtime.scheduler.filters.server_group_anti_affinity_filter import (
    ServerGroupAntiAffinityFilter,
)
from nova_runtime.scheduler.request import InstanceGroup
from tests.unit.scheduler.helpers import NOW, aggregate, conf, hosts, record, spec


def passing(mask, states):
    return [states.label(i) for i in np.flatnonzero(mask)]


# --- RetryFilter -------------------------------------------------------------

def test_retry_filter_removes_tried_host_node_pairs_only():
    states = hosts(record("a"), record("b", node="b1"), record("b", node="b2"))
    tried = [("b", "b1"), ("a", "zz"), ("x", "x")]
    mask = RetryFilter().filter_all(states, spec(retry_hosts=tried))
    assert passing(mask, states) == ["a", "b:b2"]


def test_retry_filter_without_retries_passes_everyone():
    states = hosts(record("a"), record("b"))
    assert RetryFilter().filter_all(states, spec()).all()


# --- AvailabilityZoneFilter ----------------------------------------------------

def _az_states(default="nova"):
    return hosts(record("a"), record("b"), record("c"), record("d"), aggregates=[
        aggregate("agg1", {"a"}, availability_zone="az1"),
        aggregate("agg2", {"b"}, availability_zone="az2, az3"),
        aggregate("agg3", {"c"}, ssd="true"),
    ], default_availability_zone=default)


def test_availability_zone_from_aggregate_metadata():
    states = _az_states()
    f = AvailabilityZoneFilter()
    assert passing(f.filter_all(states, spec(availability_zone="az1")), states) == ["a"]
    # A value with commas is several zones, as upstream splits it.
    assert passing(f.filter_all(states, spec(availability_zone="az3")), states) == ["b"]


def test_hosts_in_no_zone_aggregate_are_in_the_default_zone():
    states = _az_states()
    f = AvailabilityZoneFilter()
    assert passing(f.filter_all(states, spec(availability_zone="nova")), states) == ["c", "d"]
    states = _az_states(default="az1")
    assert passing(f.filter_all(states, spec(availability_zone="az1")), states) == ["a", "c", "d"]


def test_unknown_zone_passes_nobody_and_no_zone_passes_everyone():
    states = _az_states()
    f = AvailabilityZoneFilter()
    assert not f.filter_all(states, spec(availability_zone="mars")).any()
    assert f.filter_all(states, spec()).all()


# --- RamFilter ------------------------------------------------------------------

def test_ram_filter_applies_the_allocation_ratio():
    # 1000 MiB total, 200 free: 800 used. Ratio 1.5: 1500 - 800 = 700 usable.
    states = hosts(record("a", memory_mb=1000, free_ram_mb=200, ram_allocation_ratio=1.5),
                   record("b", memory_mb=1000, free_ram_mb=200, ram_allocation_ratio=1.0))
    f = RamFilter()
    assert passing(f.filter_all(states, spec(memory_mb=700)), states) == ["a"]
    assert passing(f.filter_all(states, spec(memory_mb=200)), states) == ["a", "b"]
    assert passing(f.filter_all(states, spec(memory_mb=701)), states) == []
    assert f.limits(states, 0) == {"memory_mb": 1500.0}


def test_ram_filter_never_overcommits_an_instance_against_itself():
    states = hosts(record("a", memory_mb=1000, free_ram_mb=1000, ram_allocation_ratio=4.0))
    assert not RamFilter().filter_all(states, spec(memory_mb=1001)).any()


def test_ram_ratio_unset_or_zero_falls_back_to_the_option():
    states = hosts(record("a", memory_mb=1000, free_ram_mb=1000, ram_allocation_ratio=None),
                   record("b", memory_mb=1000, free_ram_mb=0, ram_allocation_ratio=0.0),
                   ram_allocation_ratio=2.0)
    assert passing(RamFilter().filter_all(states, spec(memory_mb=1000)), states) == ["a", "b"]


# --- CoreFilter -----------------------------------------------------------------

def test_core_filter_applies_the_allocation_ratio():
    states = hosts(record("a", vcpus=4, vcpus_used=60, cpu_allocation_ratio=16.0),
                   record("b", vcpus=4, vcpus_used=4, cpu_allocation_ratio=1.0))
    f = CoreFilter()
    assert passing(f.filter_all(states, spec(vcpus=4)), states) == ["a"]
    assert passing(f.filter_all(states, spec(vcpus=5)), states) == []  # more than the host has
    assert f.limits(states, 0) == {"vcpu": 64.0}


def test_core_filter_passes_hosts_that_report_no_vcpus():
    states = hosts(record("a", vcpus=0, vcpus_used=10))
    assert CoreFilter().filter_all(states, spec(vcpus=64)).all()


# --- DiskFilter -----------------------------------------------------------------

def test_disk_filter_counts_root_ephemeral_and_swap():
    # 10 GiB total, 4 free: 6 used; ratio 1.0: 4 GiB = 4096 MiB usable.
    states = hosts(record("a", local_gb=10, free_disk_gb=4))
    f = DiskFilter()
    assert f.filter_all(states, spec(root_gb=3, ephemeral_gb=1)).all()
    assert not f.filter_all(states, spec(root_gb=3, ephemeral_gb=1, swap=1)).any()
    assert f.limits(states, 0) == {"disk_gb": 10.0}


def test_disk_filter_uses_disk_available_least_and_the_ratio():
    states = hosts(record("a", local_gb=10, free_disk_gb=10, disk_available_least=2),
                   record("b", local_gb=10, free_disk_gb=0, disk_allocation_ratio=2.0))
    assert passing(DiskFilter().filter_all(states, spec(root_gb=3)), states) == ["b"]


# --- ComputeFilter --------------------------------------------------------------

def test_compute_filter_needs_an_enabled_service_with_a_fresh_heartbeat():
    states = hosts(record("up"), record("disabled", disabled=True),
                   record("forced", forced_down=True), record("old", last_heartbeat=NOW - 61),
                   record("never", last_heartbeat=None), record("late", last_heartbeat=NOW - 100))
    f = ComputeFilter(conf(service_down_time=90))
    assert passing(f.filter_all(states, spec()), states) == ["up", "old"]


# --- ComputeCapabilitiesFilter --------------------------------------------------

def _capability_states():
    cpu_info = json.dumps({"arch": "x86_64", "features": ["avx", "sse"], "topology": {"cores": 4}})
    return hosts(
        record("a", hypervisor_type="QEMU", cpu_info=cpu_info, stats={"gpu": "2", "rack": "r1"}),
        record("b", hypervisor_type="Xen", cpu_info="not json", stats={"gpu": "0"}),
        record("c", hypervisor_type="QEMU", cpu_info=cpu_info, free_ram_mb=100, stats={}))


def _caps(states, **extra_specs):
    return passing(ComputeCapabilitiesFilter().filter_all(states, spec(extra_specs=extra_specs)),
                   states)


def test_capabilities_attribute_with_and_without_scope():
    states = _capability_states()
    assert _caps(states, **{"capabilities:hypervisor_type": "s== QEMU"}) == ["a", "c"]
    assert _caps(states, hypervisor_type="Xen") == ["b"]  # unscoped attribute


def test_capabilities_read_stats_and_json_attributes():
    states = _capability_states()
    assert _caps(states, **{"capabilities:gpu": ">= 1"}) == ["a"]
    assert _caps(states, **{"capabilities:cpu_info:arch": "x86_64"}) == ["a", "c"]
    assert _caps(states, **{"capabilities:cpu_info:features": "<all-in> avx sse"}) == ["a", "c"]
    assert _caps(states, **{"capabilities:cpu_info:topology:cores": "== 4"}) == ["a", "c"]


def test_capabilities_read_consumable_resources_live():
    states = _capability_states()
    assert _caps(states, **{"capabilities:free_ram_mb": ">= 1000"}) == ["a", "b"]
    states.consume(0, spec(memory_mb=16000))
    assert _caps(states, **{"capabilities:free_ram_mb": ">= 1000"}) == ["b"]


def test_unscoped_key_counts_only_where_the_host_has_it():
    states = _capability_states()
    # 'rack' is a stat of a only; b and c know nothing of it and pass.
    assert _caps(states, rack="r2") == ["b", "c"]
    # A scoped key the host lacks fails it.
    assert _caps(states, **{"capabilities:rack": "r1"}) == ["a"]


def test_other_scopes_are_ignored():
    states = _capability_states()
    assert _caps(states, **{"hw:cpu_policy": "dedicated",
                            "aggregate_instance_extra_specs:ssd": "true"}) == ["a", "b", "c"]


def test_several_specs_must_all_match():
    states = _capability_states()
    assert _caps(states, **{"capabilities:hypervisor_type": "QEMU",
                            "capabilities:gpu": "<or> 2 <or> 3"}) == ["a"]


# --- ImagePropertiesFilter ------------------------------------------------------

def _image_states():
    return hosts(
        record("kvm", supported_instances=[["x86_64", "kvm", "hvm"], ["i686", "kvm", "hvm"]],
               hypervisor_version=2011001),
        record("xen", supported_instances=[["x86_64", "xen", "xen"]], hypervisor_version=4001000),
        record("arm", supported_instances=[["aarch64", "qemu", "hvm"]], hypervisor_version=0),
        record("none", supported_instances=[]))


def _image(states, **props):
    return passing(ImagePropertiesFilter().filter_all(states, spec(image_properties=props)), states)


def test_image_without_relevant_properties_passes_everywhere():
    states = _image_states()
    assert _image(states, os_distro="ubuntu") == ["kvm", "xen", "arm", "none"]


def test_image_architecture_type_and_mode_are_canonicalised():
    states = _image_states()
    assert _image(states, hw_architecture="i386") == ["kvm"]
    assert _image(states, hw_architecture="AMD64") == ["kvm", "xen"]
    assert _image(states, img_hv_type="xapi") == ["xen"]
    assert _image(states, hw_vm_mode="PV") == ["xen"]
    assert _image(states, hw_architecture="x86_64", hw_vm_mode="hv") == ["kvm"]
    assert _image(states, hw_architecture="aarch64", img_hv_type="kvm") == []


def test_image_requested_hypervisor_version():
    states = _image_states()
    assert _image(states, hw_vm_mode="hvm", img_hv_requested_version=">=2.0, <3") == ["kvm", "arm"]
    assert _image(states, hw_vm_mode="hvm", img_hv_requested_version=">=3.0") == ["arm"]
    # Without a version-bearing host, the requirement is not checked (upstream).
    assert _image(states, hw_architecture="aarch64", img_hv_requested_version="==9") == ["arm"]


# --- server groups -----------------------------------------------------------------

def _group_states():
    return hosts(record("a"), record("b"), record("c", node="c1"), record("c", node="c2"))


def test_affinity_keeps_the_hosts_of_the_members():
    states = _group_states()
    f = ServerGroupAffinityFilter()
    group = InstanceGroup("g1", "affinity")
    assert f.filter_all(states, spec(instance_group=group)).all()  # no member yet
    states.set_group_hosts("g1", ["c"])
    assert passing(f.filter_all(states, spec(instance_group=group)), states) == ["c:c1", "c:c2"]
    # Members on a host the scheduler does not know: no known host qualifies.
    states.set_group_hosts("g1", ["gone"])
    assert not f.filter_all(states, spec(instance_group=group)).any()


def test_anti_affinity_counts_members_per_host():
    states = _group_states()
    f = ServerGroupAntiAffinityFilter()
    states.set_group_hosts("g1", ["a", "c", "c"])
    one = spec(instance_group=InstanceGroup("g1", "anti-affinity"))
    two = spec(instance_group=InstanceGroup("g1", "anti-affinity", {"max_server_per_host": 2}))
    three = spec(instance_group=InstanceGroup("g1", "anti-affinity", {"max_server_per_host": "3"}))
    assert passing(f.filter_all(states, one), states) == ["b"]
    assert passing(f.filter_all(states, two), states) == ["a", "b"]
    assert passing(f.filter_all(states, three), states) == ["a", "b", "c:c1", "c:c2"]


def test_group_filters_ignore_other_policies():
    states = _group_states()
    states.set_group_hosts("g1", ["a"])
    soft = spec(instance_group=InstanceGroup("g1", "soft-affinity"))
    assert ServerGroupAffinityFilter().filter_all(states, soft).all()
    assert ServerGroupAntiAffinityFilter().filter_all(states, soft).all()
    anti = spec(instance_group=InstanceGroup("g1", "anti-affinity"))
    assert ServerGroupAffinityFilter().filter_all(states, anti).all()


# --- AggregateInstanceExtraSpecsFilter ----------------------------------------------

def _aggregate_states():
    return hosts(record("a"), record("b"), record("c"), aggregates=[
        aggregate("fast", {"a", "b"}, ssd="true", gpus="2"),
        aggregate("big", {"b"}, gpus="4, 8"),
    ])


def _aggs(states, **extra_specs):
    f = AggregateInstanceExtraSpecsFilter()
    return passing(f.filter_all(states, spec(extra_specs=extra_specs)), states)


def test_aggregate_extra_specs_match_metadata():
    states = _aggregate_states()
    assert _aggs(states, ssd="true") == ["a", "b"]
    assert _aggs(states, **{"aggregate_instance_extra_specs:gpus": ">= 4"}) == ["b"]
    assert _aggs(states, **{"aggregate_instance_extra_specs:gpus": "8"}) == ["b"]
    assert _aggs(states, **{"aggregate_instance_extra_specs:gpus": "2"}) == ["a", "b"]


def test_aggregate_extra_specs_need_the_key_and_ignore_other_scopes():
    states = _aggregate_states()
    assert _aggs(states, color="red") == []
    assert _aggs(states, **{"capabilities:hypervisor_type": "QEMU"}) == ["a", "b", "c"]
    assert _aggs(states) == ["a", "b", "c"]
