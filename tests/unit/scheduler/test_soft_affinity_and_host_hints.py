"""The soft-(anti-)affinity weighers and the same_host / different_host
hints: the filters over host columns, the scheduler's choice, and the
manager's lookup of the hinted instances' hosts."""

import random

import numpy as np
import pytest

from nova_runtime.conf import filter_scheduler as opts
from nova_runtime.scheduler import FilterScheduler, InstanceGroup, NoValidHost
from nova_runtime.scheduler.filters.different_host_filter import DifferentHostFilter
from nova_runtime.scheduler.filters.same_host_filter import SameHostFilter
from nova_runtime.scheduler.weighers.server_group_soft_affinity_weigher import (
    ServerGroupSoftAffinityWeigher,
)
from nova_runtime.scheduler.weighers.server_group_soft_anti_affinity_weigher import (
    ServerGroupSoftAntiAffinityWeigher,
)
from tests.unit.scheduler.helpers import conf, hosts, record, spec


def _states(members):
    states = hosts(record("a"), record("b", node="b1"), record("b", node="b2"), record("c"))
    states.set_group_hosts("g1", members)
    return states


def test_soft_weighers_count_the_groups_members_on_each_host():
    states, rows = _states(["a", "b", "b"]), np.arange(4)
    affinity = spec(instance_group=InstanceGroup("g1", "soft-affinity"))
    anti = spec(instance_group=InstanceGroup("g1", "soft-anti-affinity"))
    assert ServerGroupSoftAffinityWeigher().weigh_all(states, affinity, rows).tolist() == [
        1.0, 2.0, 2.0, 0.0]
    assert ServerGroupSoftAntiAffinityWeigher().weigh_all(states, anti, rows).tolist() == [
        -1.0, -2.0, -2.0, -0.0]
    # Another policy, or no group: no preference.
    for weigher in (ServerGroupSoftAffinityWeigher(), ServerGroupSoftAntiAffinityWeigher()):
        assert weigher.weigh_all(states, spec(), rows).tolist() == [0.0] * 4
    hard = spec(instance_group=InstanceGroup("g1", "affinity"))
    assert ServerGroupSoftAffinityWeigher().weigh_all(states, hard, rows).tolist() == [0.0] * 4


def test_soft_weighers_are_on_by_default_with_their_multipliers():
    assert "ServerGroupSoftAffinityWeigher" in conf().filter_scheduler.weight_classes
    assert "ServerGroupSoftAntiAffinityWeigher" in conf().filter_scheduler.weight_classes
    weigher = ServerGroupSoftAffinityWeigher(conf(
        filter_scheduler__soft_affinity_weight_multiplier=3.0))
    assert weigher.multiplier == 3.0
    with pytest.raises(ValueError):
        conf(filter_scheduler__soft_anti_affinity_weight_multiplier=-1.0)


def _scheduler(**overrides):
    return FilterScheduler(conf(filter_scheduler__weight_classes=[
        "RAMWeigher", "ServerGroupSoftAffinityWeigher", "ServerGroupSoftAntiAffinityWeigher"],
        **overrides), rng=random.Random(0))


def test_soft_affinity_stacks_and_soft_anti_affinity_spreads_a_request():
    # RAM alone would prefer "c" (most free RAM); the group's weight wins.
    states = hosts(record("a", free_ram_mb=8000), record("b", free_ram_mb=8000),
                   record("c", free_ram_mb=16000))
    states.set_group_hosts("g1", ["a"])
    together = spec(instance_group=InstanceGroup("g1", "soft-affinity"), num_instances=3)
    chosen = [one[0].host for one in _scheduler(
        filter_scheduler__ram_weight_multiplier=0.5).select_destinations(states, together)]
    assert chosen == ["a", "a", "a"]

    states = hosts(record("a"), record("b"), record("c"))
    states.set_group_hosts("g2", ["a"])
    apart = spec(instance_group=InstanceGroup("g2", "soft-anti-affinity"), num_instances=3)
    chosen = [one[0].host for one in _scheduler().select_destinations(states, apart)]
    assert sorted(chosen[:2]) == ["b", "c"]  # the host with a member comes last
    # Unlike anti-affinity, a fourth member still finds a host.
    more = spec(instance_group=InstanceGroup("g2", "soft-anti-affinity"), num_instances=4)
    assert len(_scheduler().select_destinations(hosts(record("a"), record("b")), more)) == 4


def test_same_host_and_different_host_filters():
    states = _states([])
    assert SameHostFilter().filter_all(states, spec()).tolist() == [True] * 4
    assert DifferentHostFilter().filter_all(states, spec()).tolist() == [True] * 4
    near = spec(same_host=frozenset({"b"}))
    assert SameHostFilter().filter_all(states, near).tolist() == [False, True, True, False]
    away = spec(different_host=frozenset({"a", "c"}))
    assert DifferentHostFilter().filter_all(states, away).tolist() == [False, True, True, False]
    # Instances that run nowhere (deleted, unknown): same_host finds no host.
    assert not SameHostFilter().filter_all(states, spec(same_host=frozenset())).any()
    assert DifferentHostFilter().filter_all(states, spec(different_host=frozenset())).all()
    # Host names are compared exactly, not without regard to case.
    assert not SameHostFilter().filter_all(states, spec(same_host=frozenset({"A"}))).any()


def test_host_hint_filters_are_in_the_default_list():
    enabled = conf().filter_scheduler.enabled_filters
    assert enabled[-2:] == ["SameHostFilter", "DifferentHostFilter"]
    assert {"SameHostFilter", "DifferentHostFilter"} <= set(opts.FILTER_NAMES)
    scheduler = FilterScheduler(conf(), rng=random.Random(0))
    states = hosts(record("a"), record("b"))
    [[chosen]] = scheduler.select_destinations(states, spec(same_host=frozenset({"b"})))
    assert chosen.host == "b"
    with pytest.raises(NoValidHost) as error:
        scheduler.select_destinations(states, spec(different_host=frozenset({"a", "b"})))
    assert "DifferentHostFilter" in str(error.value)
