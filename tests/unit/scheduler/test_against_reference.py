"""Property tests: the vectorised filters, weighers and scheduler agree with the
plain per-host reference (harness/scheduler_reference.py) on random hosts and requests."""

import collections
import random

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nova_runtime.conf.filter_scheduler import FILTER_NAMES, WEIGHER_NAMES
from nova_runtime.scheduler import (
    AggregateRecord,
    FilterScheduler,
    Flavor,
    HostDefaults,
    HostRecord,
    HostStates,
    InstanceGroup,
    NoValidHost,
    RequestSpec,
    loader,
)
from harness import scheduler_reference as reference
from tests.unit.scheduler.helpers import NOW, conf

HOSTS = ["h0", "h1", "h2", "h3", "Mixed"]
HV_SPECS = [["x86_64", "qemu", "hvm"], ["AMD64", "kvm", "HVM"], ["i386", "xapi", "pv"],
            ["aarch64", "qemu", "hvm"], ["x86_64", "xen", "xen"]]
CPU_INFOS = ["", "not json", '{"arch": "x86_64", "vendor": "Intel"}', '{"arch": "aarch64"}',
             "[1, 2]"]
EXTRA_SPECS = [
    ("capabilities:hypervisor_type", "s== QEMU"), ("hypervisor_type", "<in> xe"),
    ("capabilities:cpu_info:arch", "x86_64"),
    ("capabilities:cpu_info:vendor", "<or> Intel <or> AMD"),
    ("gpu", ">= 1"), ("capabilities:gpu", "= 1"), ("rack", "r1"), ("capabilities:nested:a", "1"),
    ("capabilities:free_ram_mb", ">= 1000"), ("capabilities:vcpus_total", "== 16"),
    ("capabilities:num_instances", "<= 2"), ("ssd", "true"),
    ("aggregate_instance_extra_specs:gpu", "<or> 2 <or> 3"),
    ("aggregate_instance_extra_specs:ssd", "s!= false"), ("hw:cpu_policy", "dedicated"),
    ("capabilities:host_ip", "10.0.0.1"), ("capabilities:cpu_allocation_ratio", ">= 2"),
    ("capabilities:hypervisor_version", ">= 2000000"), ("capabilities:vcpus_used:x", "1"),
]

stats = st.fixed_dictionaries({}, optional={
    "num_instances": st.integers(0, 4).map(str),
    "io_workload": st.integers(0, 4).map(str),
    "gpu": st.sampled_from(["0", "1", "2", "x", None]),
    "rack": st.sampled_from(["r1", "r2"]),
    "nested": st.sampled_from(['{"a": "1"}', '{"a": 2}', "bad", None]),
})


@st.composite
def records(draw):
    count = draw(st.integers(1, 14))
    result, pairs = [], set()
    for i in range(count):
        host = draw(st.sampled_from(HOSTS))
        node = host if (host, host) not in pairs and draw(st.booleans()) else f"n{i}"
        pairs.add((host, node))
        memory = draw(st.sampled_from([0, 512, 2048, 8192, 8192]))
        local_gb = draw(st.sampled_from([0, 10, 100, 100]))
        offset = draw(st.sampled_from([0, 0, 0, 0, 30, 30, 1000, None]))
        result.append(HostRecord(
            uuid=f"u{i}", host=host, nodename=node,
            vcpus=draw(st.sampled_from([0, 1, 4, 16, 16])),
            vcpus_used=draw(st.sampled_from([0, 0, 2, 8, 40])),
            memory_mb=memory,
            free_ram_mb=memory - draw(st.sampled_from([0, 0, 256, memory // 2, memory + 512])),
            local_gb=local_gb,
            free_disk_gb=local_gb - draw(st.sampled_from([0, 0, 5, local_gb + 5])),
            disk_available_least=draw(st.none() | st.integers(0, local_gb)),
            cell_uuid=draw(st.sampled_from([None, "c1", "c2"])),
            hypervisor_type=draw(st.sampled_from(["QEMU", "xen", ""])),
            hypervisor_version=draw(st.sampled_from([0, 1005, 2011001, 6000000])),
            cpu_info=draw(st.sampled_from(CPU_INFOS)),
            host_ip=draw(st.sampled_from([None, "10.0.0.1"])),
            supported_instances=draw(st.lists(st.sampled_from(HV_SPECS), max_size=3)),
            stats=draw(stats),
            cpu_allocation_ratio=draw(st.sampled_from([None, 0.0, 0.5, 1.0, 16.0])),
            ram_allocation_ratio=draw(st.sampled_from([None, 0.0, 1.0, 1.5])),
            disk_allocation_ratio=draw(st.sampled_from([None, 1.0, 2.0])),
            disabled=draw(st.booleans()) and draw(st.booleans()),
            forced_down=draw(st.booleans()) and draw(st.booleans()),
            last_heartbeat=None if offset is None else NOW - offset))
    return result


aggregates = st.lists(st.builds(
    AggregateRecord,
    name=st.sampled_from(["a1", "a2", "a3"]),
    hosts=st.frozensets(st.sampled_from(HOSTS + ["ghost"])),
    metadata=st.fixed_dictionaries({}, optional={
        "availability_zone": st.sampled_from(["az1", "az2", "nova", "az1, az2"]),
        "ssd": st.sampled_from(["true", "false"]),
        "gpu": st.sampled_from(["1", "2, 3"]),
    })), max_size=4)

groups = st.fixed_dictionaries({}, optional={
    g: st.lists(st.sampled_from(HOSTS + ["ghost"]), max_size=4) for g in ("g1", "g2")})


# The hosts of the instances a same_host / different_host hint names.
hint_hosts = st.frozensets(st.sampled_from(HOSTS + ["ghost"]), max_size=3)


@st.composite
def requests(draw, pairs):
    rare = st.booleans().map(lambda b: b and draw(st.booleans()))
    flavor = Flavor(
        memory_mb=draw(st.sampled_from([0, 256, 256, 1024, 4096])), vcpus=draw(st.integers(1, 8)),
        root_gb=draw(st.sampled_from([0, 0, 1, 20])), ephemeral_gb=draw(st.sampled_from([0, 0, 5])),
        swap=draw(st.sampled_from([0, 0, 512])),
        extra_specs=dict(draw(st.lists(st.sampled_from(EXTRA_SPECS), max_size=2)))
        if draw(rare) else {})
    group = draw(st.none() | st.none() | st.builds(
        InstanceGroup, uuid=st.sampled_from(["g1", "g2", "g3"]),
        policy=st.sampled_from(["affinity", "anti-affinity", "soft-affinity",
                                "soft-anti-affinity"]),
        rules=st.sampled_from([{}, {"max_server_per_host": 2}])))
    return RequestSpec(
        flavor=flavor,
        image_properties=draw(st.fixed_dictionaries({}, optional={
            "hw_architecture": st.sampled_from(["x86_64", "i686", "amd64", "aarch64"]),
            "img_hv_type": st.sampled_from(["qemu", "kvm", "xen", "XAPI"]),
            "hw_vm_mode": st.sampled_from(["hvm", "xen", "PV"]),
            "img_hv_requested_version": st.sampled_from([">=2.0", "<6, >=1.0", "==6.0", "junk"]),
        })) if draw(rare) else {},
        availability_zone=draw(st.sampled_from(["az1", "az2", "nova", "mars"])) if draw(rare)
        else None,
        instance_group=group,
        retry_hosts=draw(st.lists(st.sampled_from(sorted(pairs) + [("ghost", "ghost")]),
                                  max_size=2)),
        ignore_hosts=draw(st.lists(st.sampled_from(["h0", "H1", "ghost"]), max_size=1))
        if draw(rare) else (),
        force_hosts=draw(st.lists(st.sampled_from(["h2", "mixed"]), min_size=1, max_size=2))
        if draw(rare) and draw(rare) else (),
        force_nodes=["n1"] if draw(rare) and draw(rare) else (),
        num_instances=draw(st.integers(1, 3)),
        same_host=draw(hint_hosts) if draw(rare) else None,
        different_host=draw(hint_hosts) if draw(rare) else None)


@st.composite
def scenarios(draw):
    recs = draw(records())
    pairs = {(r.host, r.nodename) for r in recs}
    return dict(
        records=recs, aggregates=draw(aggregates), groups=draw(groups),
        requests=draw(st.lists(requests(pairs), min_size=1, max_size=3)),
        filters=draw(st.permutations(FILTER_NAMES)),
        weighers=draw(st.lists(st.sampled_from(WEIGHER_NAMES), unique=True)),
        multipliers={**{name: draw(st.sampled_from([1.0, -1.0, 0.0, 2.5, 0.5]))
                        for name in ("ram_weight_multiplier", "cpu_weight_multiplier",
                                     "disk_weight_multiplier")},
                     **{name: draw(st.sampled_from([1.0, 0.0, 2.5, 0.5]))
                        for name in ("soft_affinity_weight_multiplier",
                                     "soft_anti_affinity_weight_multiplier")}},
        host_subset_size=draw(st.integers(1, 3)), max_attempts=draw(st.integers(1, 4)),
        alternates=draw(st.booleans()), seed=draw(st.integers(0, 1000)),
        default_az=draw(st.sampled_from(["nova", "az1"])))


def _build(s):
    defaults = HostDefaults(default_availability_zone=s["default_az"])
    states = HostStates(s["records"], s["aggregates"], defaults)
    world = reference.World(
        s["records"], s["aggregates"], defaults, s["filters"], s["weighers"], s["multipliers"],
        host_subset_size=s["host_subset_size"], max_attempts=s["max_attempts"],
        service_down_time=60)
    for group, members in s["groups"].items():
        states.set_group_hosts(group, members)
        world.group_hosts[group] = list(members)
    overrides = {f"filter_scheduler__{k}": v for k, v in s["multipliers"].items()}
    c = conf(filter_scheduler__enabled_filters=list(s["filters"]),
             filter_scheduler__weight_classes=list(s["weighers"]),
             filter_scheduler__host_subset_size=s["host_subset_size"],
             scheduler__max_attempts=s["max_attempts"], **overrides)
    return states, world, c


def _columns(states, world):
    mine = (states.free_ram_mb.tolist(), states.free_disk_mb.tolist(),
            states.vcpus_used.tolist(), states.num_instances.tolist(), states.num_io_ops.tolist())
    theirs = tuple([getattr(h, name) for h in world.hosts] for name in
                   ("free_ram_mb", "free_disk_mb", "vcpus_used", "num_instances", "num_io_ops"))
    return mine, theirs


PROPERTY = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY
@given(scenarios())
def test_each_filter_and_weigher_agrees_with_the_reference(s):
    states, world, c = _build(s)
    for request in s["requests"]:
        for f in loader.load_filters(c):
            fn = reference.FILTERS[f.name][0]
            expected = [fn(host, request, world) for host in world.hosts]
            assert f.filter_all(states, request).tolist() == expected, f.name
        rows = np.arange(len(states))
        for w in loader.load_weighers(c):
            option, weigh = reference.WEIGHERS[w.name]
            assert w.weigh_all(states, request, rows).tolist() == \
                [float(weigh(h, request, world)) for h in world.hosts], w.name


@PROPERTY
@given(scenarios())
def test_scheduler_chooses_what_the_reference_chooses(s):
    states, world, c = _build(s)
    ours = FilterScheduler(c, rng=random.Random(s["seed"]))
    theirs = random.Random(s["seed"])
    for request in s["requests"]:
        try:
            expected = world.select(request, theirs, s["alternates"])
        except NoValidHost:
            expected = NoValidHost
        try:
            result = ours.select_destinations(states, request, s["alternates"])
            got = [[(sel.host, sel.nodename, sel.weight) for sel in one] for one in result]
        except NoValidHost:
            got = NoValidHost
        assert got == expected
        mine, ref = _columns(states, world)
        assert mine == ref
        for group in ("g1", "g2", "g3"):
            assert dict(states.group_counts(group)) == \
                dict(collections.Counter(world.group_hosts.get(group, [])))
