import random

import pytest

from nova_runtime.scheduler import ChanceScheduler, NoValidHost
from tests.unit.scheduler.helpers import NOW, conf, hosts, record, spec


def chance(seed=0, **overrides):
    return ChanceScheduler(conf(**overrides), rng=random.Random(seed))


def test_picks_only_enabled_hosts_that_are_up():
    states = hosts(record("a"), record("off", disabled=True),
                   record("down", last_heartbeat=NOW - 999),
                   record("b"))
    seen = {chance(seed).select_destinations(states, spec())[0][0].host for seed in range(30)}
    assert seen == {"a", "b"}


def test_distinct_hosts_while_there_are_enough():
    states = hosts(*(record(f"h{i}") for i in range(5)))
    result = chance().select_destinations(states, spec(num_instances=5))
    assert sorted(s[0].host for s in result) == [f"h{i}" for i in range(5)]
    result = chance().select_destinations(states, spec(num_instances=7))
    assert len(result) == 7


def test_does_not_consume_and_ignores_resources():
    states = hosts(record("a", free_ram_mb=0))
    chance().select_destinations(states, spec(memory_mb=99999))
    assert states.free_ram_mb.tolist() == [0]


def test_alternates_are_other_hosts():
    states = hosts(*(record(f"h{i}") for i in range(6)))
    result = chance(scheduler__max_attempts=3).select_destinations(
        states, spec(num_instances=2), return_alternates=True)
    chosen = {one[0].host for one in result}
    for one in result:
        assert len(one) == 3
        assert not {s.host for s in one[1:]} & chosen


def test_no_host_up_and_all_ignored_raise():
    with pytest.raises(NoValidHost, match="Is the appropriate service running"):
        chance().select_destinations(hosts(record("a", disabled=True)), spec())
    with pytest.raises(NoValidHost, match="Could not find another compute"):
        chance().select_destinations(hosts(record("a")), spec(ignore_hosts=["a"]))
