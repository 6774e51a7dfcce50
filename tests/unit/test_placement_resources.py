"""What a compute node offers Placement and what a flavor asks of it."""

import pytest

from nova_runtime import config, placement
from nova_runtime.placement import resources
from nova_runtime.scheduler import manager


def conf(**overrides):
    c = config.new_conf()
    config.load(c, [], prog="test", default_config_files=[])
    for name, value in overrides.items():
        c.set_override(name, value)
    return c


NODE = {"vcpus": 8, "memory_mb": 16384, "local_gb": 200}


def test_inventories_carry_the_reservations_and_ratios():
    found = resources.inventories(NODE, conf(
        reserved_host_cpus=1, reserved_host_memory_mb=1024, reserved_host_disk_mb=1025,
        cpu_allocation_ratio=4.0, ram_allocation_ratio=1.5, disk_allocation_ratio=2.0))
    assert found == {
        "VCPU": {"total": 8, "reserved": 1, "min_unit": 1, "max_unit": 8, "step_size": 1,
                 "allocation_ratio": 4.0},
        "MEMORY_MB": {"total": 16384, "reserved": 1024, "min_unit": 1, "max_unit": 16384,
                      "step_size": 1, "allocation_ratio": 1.5},
        # 1025 MB reserved is 2 GB: the reservation rounds up, as upstream's.
        "DISK_GB": {"total": 200, "reserved": 2, "min_unit": 1, "max_unit": 200,
                    "step_size": 1, "allocation_ratio": 2.0}}
    assert [resources.capacity(found[rc]) for rc in ("VCPU", "MEMORY_MB", "DISK_GB")] == [
        28, 23040, 396]


def test_defaults_and_what_cannot_be_offered():
    found = resources.inventories(dict(NODE, local_gb=0, memory_mb=256), conf())
    # No disk at all: no DISK_GB inventory (Placement refuses total 0). 512 MB
    # reserved of 256: capacity 0 rather than an inventory Placement refuses.
    assert sorted(found) == ["MEMORY_MB", "VCPU"]
    assert (found["MEMORY_MB"]["reserved"], resources.capacity(found["MEMORY_MB"])) == (256, 0)
    assert (found["VCPU"]["allocation_ratio"], found["MEMORY_MB"]["allocation_ratio"]) == (
        16.0, 1.5)


def test_capacity_rounds_down_as_placement_does():
    inventory = {"total": 3, "reserved": 0, "allocation_ratio": 1.5}
    assert resources.capacity(inventory) == 4


@pytest.mark.parametrize("flavor, wanted", [
    ({"vcpus": 2, "memory_mb": 2048, "root_gb": 20, "ephemeral_gb": 5, "swap": 0},
     {"VCPU": 2, "MEMORY_MB": 2048, "DISK_GB": 25}),
    # swap is MiB: 1 MiB still takes a whole GB.
    ({"vcpus": 1, "memory_mb": 512, "root_gb": 1, "ephemeral_gb": 0, "swap": 1},
     {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 2}),
    ({"vcpus": 1, "memory_mb": 512, "root_gb": 0, "ephemeral_gb": 0, "swap": 2048},
     {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 2}),
    # A boot-from-volume flavor asks for no disk at all.
    ({"vcpus": 1, "memory_mb": 512, "root_gb": 0, "ephemeral_gb": 0, "swap": 0},
     {"VCPU": 1, "MEMORY_MB": 512}),
    ({"vcpus": 4, "memory_mb": 512, "root_gb": 1, "extra_specs": {
        "resources:VCPU": "0", "resources:PCPU": "4", "resources:CUSTOM_GPU": "1",
        "hw:cpu_policy": "dedicated"}},
     {"PCPU": 4, "CUSTOM_GPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}),
])
def test_flavor_resources(flavor, wanted):
    assert resources.flavor_resources(flavor) == wanted


@pytest.mark.parametrize("extra_specs, message", [
    ({"resources:VCPU": "two"}, "must be an integer"),
    ({"resources:VCPU": "-1"}, "must not be negative"),
    ({"resources:vcpu": "1"}, "not a resource class"),
    ({"trait:HW_CPU_X86_AVX2": "preferred"}, "'required' or 'forbidden'"),
    ({"trait:avx": "required"}, "not a trait name"),
])
def test_malformed_extra_specs_are_refused(extra_specs, message):
    flavor = {"vcpus": 1, "memory_mb": 512, "extra_specs": extra_specs}
    with pytest.raises(resources.BadRequest, match=message):
        resources.candidates_query(resources.flavor_resources(flavor),
                                   *resources.flavor_traits(flavor))


def test_allocation_candidates_query():
    flavor = {"vcpus": 1, "memory_mb": 512, "root_gb": 1, "extra_specs": {
        "trait:HW_CPU_X86_AVX2": "required", "trait:COMPUTE_STATUS_DISABLED": "forbidden"}}
    query = resources.candidates_query(resources.flavor_resources(flavor),
                                       *resources.flavor_traits(flavor))
    assert query == {"resources": "DISK_GB:1,MEMORY_MB:512,VCPU:1",
                     "required": "HW_CPU_X86_AVX2,!COMPUTE_STATUS_DISABLED"}
    assert resources.describe(query) == ("DISK_GB:1, MEMORY_MB:512, VCPU:1 with traits "
                                         "HW_CPU_X86_AVX2,!COMPUTE_STATUS_DISABLED")
    with pytest.raises(resources.BadRequest, match="no resources"):
        resources.candidates_query({})


def test_traits_from_capabilities_and_architecture():
    capabilities = {"supports_pause": True, "supports_migrate_to_same_host": True,
                    "supports_multiattach": False}
    assert resources.traits(capabilities, {"arch": "x86_64"}) == {
        "COMPUTE_NODE", "COMPUTE_SAME_HOST_COLD_MIGRATE", "COMPUTE_ARCH_X86_64"}
    assert resources.traits({}, {"arch": "arm64"}) == {"COMPUTE_NODE", "COMPUTE_ARCH_AARCH64"}
    assert resources.traits({}, {"arch": "sparc"}) == {"COMPUTE_NODE"}
    assert resources.traits({}, None) == {"COMPUTE_NODE"}


def test_managed_traits_change_and_others_stay():
    current = {"COMPUTE_NODE", "COMPUTE_SAME_HOST_COLD_MIGRATE", "CUSTOM_RACK_A",
               "HW_CPU_X86_AVX2"}
    assert resources.merged_traits(current, {"COMPUTE_NODE", "COMPUTE_ARCH_X86_64"}) == {
        "COMPUTE_NODE", "COMPUTE_ARCH_X86_64", "CUSTOM_RACK_A", "HW_CPU_X86_AVX2"}


def test_allocation_requests_by_compute_node():
    answer = {
        "allocation_requests": [
            {"allocations": {"n1": {"resources": {"VCPU": 1}}}},
            {"allocations": {"n1": {"resources": {"VCPU": 1}},
                             "gpu-of-n1": {"resources": {"VGPU": 1}}}},
            # Spans two trees (shared storage): not one compute node's.
            {"allocations": {"n2": {"resources": {"VCPU": 1}},
                             "shared": {"resources": {"DISK_GB": 1}}}},
            {"allocations": {"n3": {"resources": {"VCPU": 1}}}},
        ],
        "provider_summaries": {
            "n1": {"root_provider_uuid": "n1"}, "gpu-of-n1": {"root_provider_uuid": "n1"},
            "n2": {"root_provider_uuid": "n2"}, "shared": {"root_provider_uuid": "shared"},
            "n3": {"root_provider_uuid": "n3"}},
    }
    assert manager.node_allocation_requests(answer) == {
        "n1": {"allocations": {"n1": {"resources": {"VCPU": 1}}}},
        "n3": {"allocations": {"n3": {"resources": {"VCPU": 1}}}}}
    assert manager.node_allocation_requests({"allocation_requests": [],
                                             "provider_summaries": {}}) == {}


def test_no_auth_type_means_no_placement():
    assert placement.from_conf(conf()) is None
    c = conf()
    c.set_override("auth_type", "password", group="placement")
    with pytest.raises(placement.PlacementConfigError, match=r"\[placement\].*auth.url"):
        placement.from_conf(c)
