"""Benchmark of the filter scheduler over N random compute nodes.

    python bench/scheduler.py --hosts 10000 [--requests 300] [--seed 1]
                              [--against upstream] [--oracle R]

Builds N random compute node and service rows (as the cell databases hold
them, JSON columns included), turns them into HostStates, then runs R
scheduling requests with the default filters and weighers: mixed flavors,
some in an availability zone, some in server groups, some with extra specs or
image properties, some for several instances. Each placement is consumed, so
later requests see fuller hosts. Timed: FilterScheduler.select_destinations
over the prepared host states (filter, weigh, consume), not the RPC, the
host-state refresh, Placement or the claims of the deployed scheduler.

--against upstream: then the same rows, aggregates, server groups, warm-up
and requests through upstream Nova 34's own classes (HostState, the
HostFilterHandler with upstream's default enabled_filters, the
HostWeightHandler with all its weighers, consume_from_request), in upstream's
virtualenv (bench/upstream_scheduler.py, harness/upstream.py); the same step
is timed on both sides. Prints both sides' figures, the filters and weighers
one side runs and the other does not, and the ratio of the p50s. Target:
nova_runtime >= 100x faster (exit status 1 if missed).

--oracle R: also time R requests with the project's own test oracle
(harness/scheduler_reference.py), a plain per-host scheduler written for the
tests. It is not upstream Nova.

Prints a few readable lines, then the figures as JSON on its last line:
request latency (p50/p95/p99/max ms), host state build time, in-place refresh
time, and memory (with --against upstream: an "upstream" object and "ratio").
"""

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import types

import numpy as np

# The repository's root: the harness package (harness/).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nova_runtime import config  # noqa: E402
from nova_runtime.scheduler import (  # noqa: E402
    AggregateRecord,
    FilterScheduler,
    Flavor,
    HostDefaults,
    HostStates,
    InstanceGroup,
    NoValidHost,
    RequestSpec,
    db,
)
from harness.measure import percentile  # noqa: E402

FLAVORS = [
    Flavor(512, 1, 1, name="m1.tiny"),
    Flavor(2048, 1, 20, name="m1.small"),
    Flavor(4096, 2, 40, name="m1.medium"),
    Flavor(8192, 4, 80, name="m1.large"),
    Flavor(16384, 8, 160, name="m1.xlarge"),
    Flavor(4096, 2, 40, 10, 1024, name="m1.medium.eph"),
]
CPU_INFOS = [json.dumps({"arch": arch, "vendor": vendor, "features": ["sse4_2", "avx", "avx2"]})
             for arch in ("x86_64",) for vendor in ("Intel", "AMD")]
ZONES = ["az1", "az2", "az3", "az4"]
TARGET_RATIO = 100.0  # --against upstream: upstream's p50 over nova_runtime's
UPSTREAM_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "upstream_scheduler.py")


def fake_rows(n, rng, now):
    """ComputeNode and Service rows (attribute bags) for n hosts; heartbeats
    up to 30 s before ``now``."""
    nodes, services = [], []
    for i in range(n):
        host = f"compute{i:05d}"
        vcpus = rng.choice([16, 32, 48, 64, 96, 128])
        memory = rng.choice([65536, 131072, 262144, 524288])
        disk = rng.choice([500, 1000, 2000, 4000])
        running = rng.randint(0, 40)
        vcpus_used = min(vcpus * 4, running * rng.choice([1, 2, 4]))
        ram_used = min(memory, 512 + running * rng.choice([1024, 2048, 4096]))
        disk_used = min(disk, running * rng.choice([10, 20, 40]))
        nodes.append(types.SimpleNamespace(
            uuid=f"cn-{i:08d}", host=host, hypervisor_hostname=host,
            hypervisor_type=rng.choice(["QEMU", "QEMU", "QEMU", "kvm"]),
            hypervisor_version=rng.choice([2011001, 4002000, 6002000]),
            cpu_info=rng.choice(CPU_INFOS), host_ip=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
            vcpus=vcpus, memory_mb=memory, local_gb=disk, vcpus_used=vcpus_used,
            memory_mb_used=ram_used, local_gb_used=disk_used, free_ram_mb=memory - ram_used,
            free_disk_gb=disk - disk_used,
            disk_available_least=disk - disk_used - rng.randint(0, 20),
            supported_instances=json.dumps([["x86_64", "qemu", "hvm"], ["i686", "qemu", "hvm"]]
                                           if rng.random() < 0.9 else [["x86_64", "kvm", "hvm"]]),
            stats=json.dumps({"num_instances": running, "io_workload": rng.randint(0, 3),
                              "num_vm_active": running, "tier": rng.choice(["gold", "silver"])}),
            cpu_allocation_ratio=None if rng.random() < 0.8 else 4.0,
            ram_allocation_ratio=None if rng.random() < 0.8 else 1.0,
            disk_allocation_ratio=None,
            updated_at=None, created_at=None))
        services.append(types.SimpleNamespace(
            host=host, binary="nova-compute", disabled=rng.random() < 0.01,
            forced_down=rng.random() < 0.002, last_seen_up=now - rng.choice([0, 5, 10, 30]),
            updated_at=None, created_at=None))
    return nodes, services


def aggregates(n, rng):
    hosts = [f"compute{i:05d}" for i in range(n)]
    zones = [AggregateRecord(name=f"zone-{z}", hosts=frozenset(hosts[k::5]),
                             metadata={"availability_zone": z}) for k, z in enumerate(ZONES)]
    ssd = AggregateRecord(name="ssd", hosts=frozenset(rng.sample(hosts, n // 3)),
                          metadata={"ssd": "true"})
    return zones + [ssd]


def group_policy(uuid):
    return "anti-affinity" if int(uuid[1:]) % 2 else "affinity"


def requests(count, rng, groups):
    for k in range(count):
        flavor = rng.choice(FLAVORS)
        extra = {}
        if rng.random() < 0.1:
            extra = {"capabilities:hypervisor_type": "s== QEMU",
                     "capabilities:cpu_info:vendor": "<or> Intel <or> AMD"}
        image = {"hw_architecture": "x86_64", "hw_vm_mode": "hvm"} if rng.random() < 0.2 else {}
        group = None
        if rng.random() < 0.1:
            uuid = rng.choice(groups)
            group = InstanceGroup(uuid, group_policy(uuid))
        yield RequestSpec(
            flavor=Flavor(flavor.memory_mb, flavor.vcpus, flavor.root_gb, flavor.ephemeral_gb,
                          flavor.swap, extra, flavor.name),
            image_properties=image,
            availability_zone=rng.choice(ZONES) if rng.random() < 0.3 else None,
            instance_group=group,
            num_instances=rng.choice([2, 3, 5]) if rng.random() < 0.1 else 1,
            instance_uuids=())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--against", choices=["upstream"],
        help="then the same hosts and requests through upstream Nova 34's own filter and "
             "weigher classes, in upstream's virtualenv; print both and the ratio")
    parser.add_argument(
        "--oracle", type=int, default=0, metavar="R",
        help="also time R requests with the project's own test oracle "
             "(harness/scheduler_reference.py: a plain per-host scheduler, not upstream Nova)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    conf = config.new_conf()
    conf([], project="nova", default_config_files=[])
    defaults = HostDefaults.from_conf(conf)

    now = time.time()
    nodes, services = fake_rows(args.hosts, rng, now)
    aggs = aggregates(args.hosts, rng)

    t0 = time.perf_counter()
    records = db.records_from_rows(nodes, services, cell_uuid="cell1")
    t1 = time.perf_counter()
    hosts = HostStates(records, aggs, defaults)
    t2 = time.perf_counter()
    group_uuids = [f"g{k}" for k in range(40)]
    group_hosts = {}
    for uuid in group_uuids:
        group_hosts[uuid] = rng.sample(hosts.hosts, 3)
        hosts.set_group_hosts(uuid, group_hosts[uuid])

    scheduler = FilterScheduler(conf, rng=random.Random(args.seed))
    warmup = list(requests(20, random.Random(args.seed + 1), group_uuids))
    for spec in warmup:
        try:
            scheduler.select_destinations(hosts, spec)
        except NoValidHost:
            pass

    specs = list(requests(args.requests, rng, group_uuids))
    latencies, failures, instances, chosen = [], 0, 0, []
    for spec in specs:
        start = time.perf_counter()
        try:
            selections = scheduler.select_destinations(hosts, spec)
        except NoValidHost:
            selections = []
            failures += 1
        latencies.append((time.perf_counter() - start) * 1000)
        instances += len(selections)
        chosen.append([s[0].host for s in selections])

    # A periodic refresh: 1% of the nodes report new usage.
    changed = records[:: max(1, len(records) // max(1, args.hosts // 100))]
    t3 = time.perf_counter()
    hosts.refresh([_reported(r) for r in changed])
    refresh_ms = (time.perf_counter() - t3) * 1000

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    measured = HostStates(records, aggs, defaults)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()

    if args.oracle:
        figures_oracle = _time_oracle(args, conf, records, aggs, defaults, group_uuids)

    figures = {
        "hosts": len(hosts),
        "requests": args.requests,
        "instances_placed": instances,
        "no_valid_host": failures,
        "p50_ms": round(statistics.median(latencies), 3),
        "p95_ms": round(percentile(latencies, 0.95), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "max_ms": round(max(latencies), 3),
        "mean_ms": round(statistics.fmean(latencies), 3),
        "records_from_rows_ms": round((t1 - t0) * 1000, 1),
        "host_states_build_ms": round((t2 - t1) * 1000, 1),
        "refresh_ms": round(refresh_ms, 2),
        "refreshed_nodes": len(changed),
        "columns_mb": round(measured.nbytes() / 2**20, 2),
        "host_states_mb": round(held / 2**20, 2),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "filters": [f.name for f in scheduler.filters],
        "weighers": [w.name for w in scheduler.weighers],
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }
    if args.oracle:
        figures.update(figures_oracle)
    print(f"{figures['hosts']} hosts, {args.requests} requests ({instances} instances placed, "
          f"{failures} NoValidHost)")
    print(f"per request: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, "
          f"max {figures['max_ms']} ms")
    print(f"build: rows -> records {figures['records_from_rows_ms']} ms, "
          f"records -> HostStates {figures['host_states_build_ms']} ms; "
          f"refresh of {len(changed)} nodes {figures['refresh_ms']} ms")
    print(f"memory: columns {figures['columns_mb']} MiB, "
          f"HostStates {figures['host_states_mb']} MiB, "
          f"max RSS {figures['max_rss_mb']} MiB")
    if args.oracle:
        print(f"test oracle (harness/scheduler_reference.py, not upstream): "
              f"p50 {figures['oracle_p50_ms']} ms over {args.oracle} requests")
    status = 0
    if args.against == "upstream":
        up = _run_upstream({
            "now": now, "seed": args.seed,
            "nodes": [vars(n) for n in nodes], "services": [vars(s) for s in services],
            "aggregates": [{"name": a.name, "hosts": sorted(a.hosts),
                            "metadata": dict(a.metadata)} for a in aggs],
            "groups": {uuid: {"policy": group_policy(uuid), "hosts": names}
                       for uuid, names in group_hosts.items()},
            "defaults": {"cpu_allocation_ratio": defaults.cpu_allocation_ratio,
                         "ram_allocation_ratio": defaults.ram_allocation_ratio,
                         "disk_allocation_ratio": defaults.disk_allocation_ratio},
            "service_down_time": conf.service_down_time,
            "warmup": [_request_data(spec) for spec in warmup],
            "requests": [_request_data(spec) for spec in specs],
        })
        figures["upstream"] = _upstream_figures(up, figures, chosen)
        figures["ratio"] = round(statistics.median(up["latencies_ms"])
                                 / statistics.median(latencies), 1)
        figures["ratio_target"] = TARGET_RATIO
        figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
        _print_against(figures)
        status = 0 if figures["ratio"] >= TARGET_RATIO else 1
    print(json.dumps(figures))
    return status


def _run_upstream(data):
    """bench/upstream_scheduler.py's figures for ``data`` (its input: see its
    docstring), run by upstream Nova's interpreter."""
    from harness import upstream

    python = os.path.join(upstream.upstream_nova_venv(), "bin", "python")
    with tempfile.TemporaryDirectory(prefix="bench-scheduler-") as tmp:
        path = os.path.join(tmp, "work.json")
        with open(path, "w") as f:
            json.dump(data, f)
        result = subprocess.run([python, UPSTREAM_SCRIPT, path], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{UPSTREAM_SCRIPT} failed ({result.returncode}):\n"
                         f"{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _request_data(spec):
    f = spec.flavor
    return {"flavor": {"name": f.name, "memory_mb": f.memory_mb, "vcpus": f.vcpus,
                       "root_gb": f.root_gb, "ephemeral_gb": f.ephemeral_gb, "swap": f.swap,
                       "extra_specs": dict(f.extra_specs)},
            "image_properties": dict(spec.image_properties),
            "availability_zone": spec.availability_zone,
            "group": spec.instance_group.uuid if spec.instance_group else None,
            "num_instances": spec.num_instances}


# What upstream 34 leaves to Placement (allocation candidates, and its
# request filters for availability zones), so that its scheduler has no
# filter for it; this step does not include Placement on either side.
PLACEMENT_DOES = {"RamFilter", "CoreFilter", "DiskFilter", "AvailabilityZoneFilter"}


def _upstream_figures(up, figures, chosen):
    latencies = up["latencies_ms"]
    ours_filters, ours_weighers = set(figures["filters"]), set(figures["weighers"])
    return {
        "requests": len(latencies),
        "instances_placed": up["instances_placed"],
        "no_valid_host": up["no_valid_host"],
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
        "host_states_build_s": up["host_states_build_s"],
        "max_rss_mb": up["max_rss_mb"],
        "filters": up["filters"],
        "weighers": up["weighers"],
        "filters_only_nova_runtime": [f for f in figures["filters"] if f not in up["filters"]],
        "filters_only_upstream": [f for f in up["filters"] if f not in ours_filters],
        "weighers_only_nova_runtime": [w for w in figures["weighers"]
                                       if w not in up["weighers"]],
        "weighers_only_upstream": [w for w in up["weighers"] if w not in ours_weighers],
        # Requests for which both sides chose the same hosts (they run
        # different filters and weighers, and break ties differently).
        "same_hosts_chosen": sum(a == b for a, b in zip(chosen, up["chosen"])),
        "nova": up["nova"],
        "python": up["python"],
        "interpreter": up["interpreter"],
    }


def _print_against(figures):
    up = figures["upstream"]
    print(f"upstream Nova {up['nova']} classes, same hosts and requests: "
          f"{up['instances_placed']} instances placed, {up['no_valid_host']} NoValidHost; "
          f"HostStates built in {up['host_states_build_s']} s, max RSS {up['max_rss_mb']} MiB")
    print(f"per request, filter + weigh + consume: nova_runtime p50 {figures['p50_ms']} ms, "
          f"p95 {figures['p95_ms']} ms; upstream p50 {up['p50_ms']} ms, p95 {up['p95_ms']} ms")
    only = up["filters_only_nova_runtime"]
    if only:
        left = sorted(PLACEMENT_DOES.intersection(only))
        print("filters only nova_runtime runs: " + ", ".join(only)
              + (f" (upstream leaves {', '.join(left)} to Placement, not part of this step)"
                 if left else ""))
    for key, label in (("filters_only_upstream", "filters only upstream runs"),
                       ("weighers_only_nova_runtime", "weighers only nova_runtime runs"),
                       ("weighers_only_upstream", "weighers only upstream runs")):
        if up[key]:
            print(f"{label}: {', '.join(up[key])}")
    print(f"same hosts chosen for {up['same_hosts_chosen']} of {up['requests']} requests "
          "(the sides differ in filters, weighers and tie-breaking)")
    verdict = "met" if figures["ratio"] >= TARGET_RATIO else "MISSED"
    print(f"ratio (upstream p50 / nova_runtime p50): {figures['ratio']}x "
          f"(target >= {TARGET_RATIO:g}x: {verdict}); load average "
          f"{' '.join(map(str, figures['load_average']))}; interpreters: {sys.executable} "
          f"and {up['interpreter']}")


def _time_oracle(args, conf, records, aggs, defaults, group_uuids):
    """p50 of the project's test oracle (harness/scheduler_reference.py: one
    object per host, each filter asked about each host), on the same hosts and
    kind of requests. It is written for the tests, not taken from upstream."""
    from harness import scheduler_reference as reference

    fs = conf.filter_scheduler
    world = reference.World(
        records, aggs, defaults, fs.enabled_filters, fs.weight_classes,
        {option: fs[option] for option, _ in reference.WEIGHERS.values()},
        host_subset_size=fs.host_subset_size, service_down_time=conf.service_down_time)
    rng, latencies = random.Random(args.seed), []
    for spec in requests(args.oracle, random.Random(args.seed + 2), group_uuids):
        start = time.perf_counter()
        try:
            world.select(spec, rng)
        except NoValidHost:
            pass
        latencies.append((time.perf_counter() - start) * 1000)
    return {"oracle_requests": args.oracle,
            "oracle_p50_ms": round(statistics.median(latencies), 1)}


def _reported(record):
    """The record as its compute would report it a moment later."""
    import dataclasses
    return dataclasses.replace(record, free_ram_mb=record.free_ram_mb - 1024,
                               vcpus_used=record.vcpus_used + 1, updated_at=time.time())


if __name__ == "__main__":
    sys.exit(main())
