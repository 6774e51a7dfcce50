import logging
import random

import pytest

from nova_runtime.scheduler import (
    FilterScheduler,
    InstanceGroup,
    NoValidHost,
    get_scheduler,
)
from tests.unit.scheduler.helpers import aggregate, conf, hosts, record, spec


def scheduler(rng=None, **overrides):
    return FilterScheduler(conf(**overrides), rng=rng)


def picked(selections):
    return [s[0].host for s in selections]


def test_picks_the_host_with_most_free_resources():
    states = hosts(record("a", free_ram_mb=4000), record("b", free_ram_mb=9000),
                   record("c", free_ram_mb=6000))
    assert picked(scheduler().select_destinations(states, spec())) == ["b"]


def test_negative_multiplier_stacks():
    states = hosts(record("a", free_ram_mb=4000), record("b", free_ram_mb=9000))
    s = scheduler(filter_scheduler__ram_weight_multiplier=-1.0)
    assert picked(s.select_destinations(states, spec())) == ["a"]


def test_weights_are_normalised_before_multipliers():
    # a has much more RAM (in MiB); b has more vCPUs. Normalised, the CPU
    # weigher's double multiplier wins although raw MiB dwarf vCPU counts.
    states = hosts(record("a", free_ram_mb=16000, vcpus=4, local_gb=100),
                   record("b", free_ram_mb=2000, vcpus=8, local_gb=100))
    s = scheduler(filter_scheduler__cpu_weight_multiplier=2.0)
    selection = s.select_destinations(states, spec())[0][0]
    assert selection.host == "b"
    assert selection.weight == 2.0


def test_ties_go_to_the_first_row():
    states = hosts(record("a"), record("b"), record("c"))
    assert picked(scheduler().select_destinations(states, spec())) == ["a"]


def test_consumes_the_chosen_host_and_spreads_a_multi_instance_request():
    states = hosts(record("a"), record("b"), record("c"))
    result = scheduler().select_destinations(states, spec(memory_mb=2048, vcpus=2, root_gb=10,
                                                            num_instances=3))
    assert picked(result) == ["a", "b", "c"]
    assert states.free_ram_mb.tolist() == [14336] * 3
    assert states.vcpus_used.tolist() == [2] * 3
    assert states.free_disk_mb.tolist() == [90 * 1024] * 3
    assert states.num_instances.tolist() == [1] * 3


def test_consecutive_requests_see_earlier_placements():
    states = hosts(record("a", memory_mb=4096, free_ram_mb=4096, ram_allocation_ratio=1.0),
                   record("b", memory_mb=4096, free_ram_mb=3000, ram_allocation_ratio=1.0))
    s = scheduler()
    assert picked(s.select_destinations(states, spec(memory_mb=2048))) == ["a"]  # 4096 free
    assert picked(s.select_destinations(states, spec(memory_mb=2048))) == ["b"]  # 2048 < 3000
    assert picked(s.select_destinations(states, spec(memory_mb=2048))) == ["a"]  # b: 952 left
    with pytest.raises(NoValidHost):
        s.select_destinations(states, spec(memory_mb=2048))


def test_limits_of_the_filters_that_ran():
    states = hosts(record("a", memory_mb=1000, free_ram_mb=1000, vcpus=4, local_gb=10))
    selection = scheduler().select_destinations(states, spec(memory_mb=10))[0][0]
    assert selection.limits == {"memory_mb": 1500.0, "vcpu": 64.0, "disk_gb": 10.0}
    assert selection.compute_node_uuid == "uuid-a-a"
    only_compute = scheduler(filter_scheduler__enabled_filters=["ComputeFilter"])
    assert only_compute.select_destinations(states, spec(memory_mb=10))[0][0].limits == {}


def test_host_subset_size_picks_at_random_among_the_best():
    seen = set()
    for seed in range(40):
        states = hosts(*(record(f"h{i}", free_ram_mb=16000 - i) for i in range(10)))
        s = scheduler(rng=random.Random(seed), filter_scheduler__host_subset_size=3)
        seen.update(picked(s.select_destinations(states, spec(memory_mb=0))))
    assert seen == {"h0", "h1", "h2"}


def test_affinity_lands_a_multi_instance_request_on_one_host():
    states = hosts(record("a"), record("b"), record("c"))
    group = InstanceGroup("g", "affinity")
    result = scheduler().select_destinations(states, spec(num_instances=3, instance_group=group))
    assert picked(result) == ["a", "a", "a"]
    assert states.group_counts("g") == {"a": 3}


def test_anti_affinity_spreads_and_runs_out():
    states = hosts(record("a"), record("b"))
    group = InstanceGroup("g", "anti-affinity")
    s = scheduler()
    assert picked(s.select_destinations(states, spec(num_instances=2, instance_group=group))) == \
        ["a", "b"]
    with pytest.raises(NoValidHost) as raised:
        s.select_destinations(states, spec(instance_group=group))
    assert raised.value.filter_results[-1].name == "ServerGroupAntiAffinityFilter"


def test_failed_multi_instance_request_releases_what_it_consumed():
    states = hosts(record("a"), record("b"))
    group = InstanceGroup("g", "anti-affinity")
    with pytest.raises(NoValidHost) as raised:
        scheduler().select_destinations(states, spec(num_instances=3, instance_group=group))
    assert "2 of 3 instances" in raised.value.reason
    assert states.free_ram_mb.tolist() == [16384, 16384]
    assert states.num_instances.tolist() == [0, 0]
    assert states.group_counts("g") == {}


def test_no_valid_host_says_which_filter_removed_which_hosts(caplog):
    states = hosts(record("small1", memory_mb=512, free_ram_mb=512),
                   record("small2", memory_mb=512, free_ram_mb=512),
                   record("off", disabled=True),
                   record("elsewhere"),
                   aggregates=[aggregate("z", {"elsewhere"}, availability_zone="az9")])
    caplog.set_level(logging.INFO, logger="nova_runtime.scheduler")
    with pytest.raises(NoValidHost) as raised:
        scheduler().select_destinations(states, spec(memory_mb=2048, availability_zone="nova"))
    results = {r.name: r for r in raised.value.filter_results}
    zone = results["AvailabilityZoneFilter"]
    assert (zone.start, zone.end) == (4, 3)
    assert results["AvailabilityZoneFilter"].removed == ("elsewhere",)
    assert results["RamFilter"].removed == ("small1", "small2")
    assert results["ComputeFilter"].removed == ("off",)
    assert list(results)[-1] == "ComputeFilter"  # the filters after it saw no host
    message = str(raised.value)
    assert "RamFilter: 3 -> 1 host(s), removed small1, small2" in message
    assert "ComputeFilter: 1 -> 0 host(s), removed off" in message
    assert "RamFilter: 3 -> 1 host(s), removed small1, small2" in caplog.text


def test_no_valid_host_names_a_few_hosts_and_counts_the_rest():
    states = hosts(*(record(f"h{i}", memory_mb=512, free_ram_mb=512) for i in range(8)))
    with pytest.raises(NoValidHost) as raised:
        scheduler().select_destinations(states, spec(memory_mb=2048))
    assert "removed h0, h1, h2, h3, h4 and 3 more" in str(raised.value)


def test_ignore_hosts_and_forced_hosts():
    states = hosts(record("a", free_ram_mb=9000), record("b", free_ram_mb=5000),
                   record("c", free_ram_mb=1000, disabled=True))
    s = scheduler()
    assert picked(s.select_destinations(states, spec(memory_mb=0, ignore_hosts=["A"]))) == ["b"]
    # Forcing skips the filters: the disabled host c is taken.
    forced = s.select_destinations(states, spec(memory_mb=0, force_hosts=["c"]))
    assert picked(forced) == ["c"]
    assert forced[0][0].limits == {}
    assert picked(s.select_destinations(states, spec(memory_mb=0, force_nodes=["b"]))) == ["b"]
    with pytest.raises(NoValidHost) as raised:
        s.select_destinations(states, spec(force_hosts=["zz"]))
    assert raised.value.filter_results[0].name == "ignore/force hosts"


def test_retried_hosts_are_skipped():
    states = hosts(record("a", free_ram_mb=9000), record("b", free_ram_mb=5000))
    s = scheduler()
    assert picked(s.select_destinations(states, spec(memory_mb=0, retry_hosts=[("a", "a")]))) == \
        ["b"]


def _cells():
    return hosts(record("a", free_ram_mb=9000, cell_uuid="c1"),
                 record("b", free_ram_mb=8000, cell_uuid="c2"),
                 record("c", free_ram_mb=7000, cell_uuid="c1"),
                 record("d", free_ram_mb=6000, cell_uuid="c1"),
                 record("e", free_ram_mb=5000, cell_uuid="c1"))


def test_alternates_come_from_the_same_cell_and_exclude_chosen_hosts():
    result = scheduler(scheduler__max_attempts=3).select_destinations(
        _cells(), spec(memory_mb=0), return_alternates=True)
    assert [[s.host for s in one] for one in result] == [["a", "c", "d"]]
    result = scheduler(scheduler__max_attempts=3).select_destinations(
        _cells(), spec(memory_mb=0, num_instances=2), return_alternates=True)
    assert [[s.host for s in one] for one in result] == [["a", "c", "d"], ["b"]]
    alternates = [s.weight for s in result[0][1:]]
    assert alternates == sorted(alternates, reverse=True) and alternates[0] > alternates[1]


def test_get_scheduler_follows_the_driver_option():
    assert type(get_scheduler(conf())).__name__ == "FilterScheduler"
    assert type(get_scheduler(conf(scheduler__driver="chance_scheduler"))).__name__ == \
        "ChanceScheduler"
