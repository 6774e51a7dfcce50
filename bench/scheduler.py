"""Benchmark of the filter scheduler over N random compute nodes.

    python bench/scheduler.py --hosts 10000 [--requests 300] [--seed 1]

Builds N random compute node and service rows (as the cell databases hold
them, JSON columns included), turns them into HostStates, then runs R
scheduling requests with the default filters and weighers: mixed flavors,
some in an availability zone, some in server groups, some with extra specs or
image properties, some for several instances. Each placement is consumed, so
later requests see fuller hosts.

Prints a few readable lines, then the figures as JSON on its last line:
request latency (p50/p95/p99/max ms), host state build time, in-place refresh
time, and memory.
"""

import argparse
import json
import os
import random
import resource
import statistics
import sys
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


def fake_rows(n, rng):
    """ComputeNode and Service rows (attribute bags) for n hosts."""
    now = time.time()
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
            group = InstanceGroup(uuid, "anti-affinity" if int(uuid[1:]) % 2 else "affinity")
        yield RequestSpec(
            flavor=Flavor(flavor.memory_mb, flavor.vcpus, flavor.root_gb, flavor.ephemeral_gb,
                          flavor.swap, extra, flavor.name),
            image_properties=image,
            availability_zone=rng.choice(ZONES) if rng.random() < 0.3 else None,
            instance_group=group,
            num_instances=rng.choice([2, 3, 5]) if rng.random() < 0.1 else 1,
            instance_uuids=())


def percentile(values, q):
    return float(np.percentile(np.asarray(values), q))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--reference", type=int, default=0, metavar="R",
        help="also time R requests with the per-host reference of the tests "
             "(harness/scheduler_reference.py)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    conf = config.new_conf()
    conf([], project="nova", default_config_files=[])
    defaults = HostDefaults.from_conf(conf)

    nodes, services = fake_rows(args.hosts, rng)
    aggs = aggregates(args.hosts, rng)

    t0 = time.perf_counter()
    records = db.records_from_rows(nodes, services, cell_uuid="cell1")
    t1 = time.perf_counter()
    hosts = HostStates(records, aggs, defaults)
    t2 = time.perf_counter()
    group_uuids = [f"g{k}" for k in range(40)]
    for uuid in group_uuids:
        hosts.set_group_hosts(uuid, rng.sample(hosts.hosts, 3))

    scheduler = FilterScheduler(conf, rng=random.Random(args.seed))
    for spec in requests(20, random.Random(args.seed + 1), group_uuids):  # warm-up
        try:
            scheduler.select_destinations(hosts, spec)
        except NoValidHost:
            pass

    latencies, failures, instances = [], 0, 0
    for spec in requests(args.requests, rng, group_uuids):
        start = time.perf_counter()
        try:
            instances += len(scheduler.select_destinations(hosts, spec))
        except NoValidHost:
            failures += 1
        latencies.append((time.perf_counter() - start) * 1000)

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

    if args.reference:
        figures_reference = _time_reference(args, conf, records, aggs, defaults, group_uuids)

    figures = {
        "hosts": len(hosts),
        "requests": args.requests,
        "instances_placed": instances,
        "no_valid_host": failures,
        "p50_ms": round(statistics.median(latencies), 3),
        "p95_ms": round(percentile(latencies, 95), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
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
    if args.reference:
        figures.update(figures_reference)
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
    print(json.dumps(figures))


def _time_reference(args, conf, records, aggs, defaults, group_uuids):
    """p50 of the per-host reference implementation (one object per host, each
    filter asked about each host), on the same hosts and kind of requests."""
    from harness import scheduler_reference as reference

    fs = conf.filter_scheduler
    world = reference.World(
        records, aggs, defaults, fs.enabled_filters, fs.weight_classes,
        {option: fs[option] for option, _ in reference.WEIGHERS.values()},
        host_subset_size=fs.host_subset_size, service_down_time=conf.service_down_time)
    rng, latencies = random.Random(args.seed), []
    for spec in requests(args.reference, random.Random(args.seed + 2), group_uuids):
        start = time.perf_counter()
        try:
            world.select(spec, rng)
        except NoValidHost:
            pass
        latencies.append((time.perf_counter() - start) * 1000)
    return {"reference_requests": args.reference,
            "reference_p50_ms": round(statistics.median(latencies), 1)}


def _reported(record):
    """The record as its compute would report it a moment later."""
    import dataclasses
    return dataclasses.replace(record, free_ram_mb=record.free_ram_mb - 1024,
                               vcpus_used=record.vcpus_used + 1, updated_at=time.time())


if __name__ == "__main__":
    main()
