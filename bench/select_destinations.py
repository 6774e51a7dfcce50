"""One scheduling decision through the whole path: nova-scheduler's RPC
select_destinations over N compute nodes, with Placement.

    python bench/select_destinations.py [--hosts 10000] [--requests 100]
                                        [--candidates-max-age S[,S...]] [--profile] [--keep]

What runs, each as its own process, as in a deployment (the harness's
private servers, as in the tests): MariaDB, RabbitMQ, Keystone, Placement
(upstream, under uwsgi, as harness/placement.py starts it) and the real
nova-scheduler daemon (default filters and weighers, [scheduler]
max_placement_results at its default, 1000). Before the calls, this
process times the scheduler's query, GET /allocation_candidates with
``limit``, alone: Placement 16 builds every candidate before it applies the
limit, so its cost grows with the number of providers.

The N compute nodes are what N nova-computes would have left behind, written
fast instead of by N processes:

- in the cell database, one nova-compute service row and one compute node
  row per host (bulk INSERTs with the project's models), 64 vCPUs, 256 GiB
  RAM and 2 TB disk each; a thread stands in for the computes' heartbeats
  (services.last_seen_up every 10 s);
- in the API database, the host mappings: ``nova-manage cell_v2
  discover_hosts``, as an operator maps new computes;
- in Placement, one resource provider per compute node (its uuid and name)
  with its VCPU, MEMORY_MB and DISK_GB inventories, through Placement's API
  (POST /resource_providers, PUT .../inventories) from a pool of threads:
  Placement has no bulk call for these.

Then this process calls select_destinations R times, one after the other,
over RPC as nova-conductor's super-conductor calls it
(scheduler.rpcapi.SchedulerAPI, return_alternates), with the request spec
nova-api builds for one server (flavor m1.bench: 1 vCPU, 512 MB RAM, 1 GB
disk; an image with properties). Each call is timed from the call to the
answer. The scheduler asks Placement for allocation candidates (with
``limit``), filters and weighs, and claims the chosen host in Placement
(PUT /allocations/{instance}). The claims are kept, as for servers that were
built, so later requests see fuller hosts; at the end the bench checks that
Placement holds exactly R claims.

--candidates-max-age S[,S...]: nova-scheduler's [scheduler]
placement_candidates_max_age (default: the option's default, then 0, a GET
/allocation_candidates for every decision as upstream Nova asks). With
several values, one nova-scheduler after the other on the same compute
nodes, R calls each; the first value's figures decide the exit code, the
others are printed beside them.

--profile: py-spy samples the scheduler daemon (every thread) during the
timed calls and prints its hottest functions.

Figures (JSON on the last line): p50/p90/max ms of the calls, hosts,
requests, and the CPU milliseconds per request of nova-scheduler, Placement,
MariaDB, RabbitMQ and this client. Target: p50 <= 150 ms; exit code 0 when
it is met.
"""

import argparse
import concurrent.futures
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

# The repository's root: the harness package (harness/) and bench/.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nova_runtime  # noqa: E402,F401  first: it selects oslo.service's threading backend

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from nova_runtime import config, context as nova_context, rpc  # noqa: E402
from nova_runtime.conf import scheduler as scheduler_conf  # noqa: E402
from nova_runtime.db import engines  # noqa: E402
from nova_runtime.db.main import models as main_models  # noqa: E402
from nova_runtime.scheduler import rpcapi as scheduler_rpcapi  # noqa: E402
from harness import cli, nova_conf  # noqa: E402
from harness.daemons import Daemon, stop_all  # noqa: E402
from harness.databases import nova_databases  # noqa: E402
from harness.keystone import ADMIN_PASSWORD, Keystone  # noqa: E402
from harness.measure import CpuMeter, interpreter, percentile  # noqa: E402
from harness.mariadb import MariaDB  # noqa: E402
from harness.placement import Placement  # noqa: E402
from harness.processes import wait_until  # noqa: E402
from harness.rabbitmq import RabbitMQ  # noqa: E402

DEFAULT_MAX_AGE = {opt.name: opt.default
                   for opt in scheduler_conf.opts}["placement_candidates_max_age"]

TARGET_P50_MS = 150

# One compute node: what a nova-compute with this much hardware reports.
VCPUS, MEMORY_MB, LOCAL_GB, RESERVED_MB = 64, 262144, 2000, 512
CPU_RATIO, RAM_RATIO, DISK_RATIO = 16.0, 1.5, 1.0

FLAVOR = {"id": 1, "flavorid": "1", "name": "m1.bench", "memory_mb": 512, "vcpus": 1,
          "root_gb": 1, "ephemeral_gb": 0, "swap": 0, "extra_specs": {}}
IMAGE = {"id": "155d900f-4e14-4e4c-a73d-069cbf4541e6",
         "properties": {"os_type": "linux", "hw_architecture": "x86_64"}}
PROJECT, USER = "bench-project", "bench-user"

HEARTBEAT = 10  # seconds between two heartbeats of the stand-in computes


def log(message):
    print(message, flush=True)


# --- the compute nodes ------------------------------------------------------------------

def host_names(count):
    return [f"c{index:05d}" for index in range(1, count + 1)]


def write_compute_rows(cell_url, hosts):
    """The services and compute nodes rows of ``hosts``, in bulk; {host: node uuid}."""
    services = main_models.Service.__table__
    nodes = main_models.ComputeNode.__table__
    now = sa.func.utc_timestamp()
    node_uuids = {host: str(uuid.uuid4()) for host in hosts}
    with engines.get_engine(cell_url).begin() as connection:
        connection.execute(sa.insert(services).values(
            created_at=now, updated_at=now, last_seen_up=now, deleted=0), [
            {"uuid": str(uuid.uuid4()), "host": host, "binary": "nova-compute",
             "topic": "compute", "report_count": 1, "disabled": False, "forced_down": False,
             "version": 0} for host in hosts])
        service_ids = {host: service_id for host, service_id in connection.execute(
            sa.select(services.c.host, services.c.id).where(services.c.binary == "nova-compute"))}
        connection.execute(sa.insert(nodes).values(
            created_at=now, updated_at=now, deleted=0), [
            {"uuid": node_uuids[host], "service_id": service_ids[host], "host": host,
             "hypervisor_hostname": host, "hypervisor_type": "QEMU",
             "hypervisor_version": 7002000, "cpu_info": "{}", "host_ip": "127.0.0.1",
             "vcpus": VCPUS, "memory_mb": MEMORY_MB, "local_gb": LOCAL_GB, "vcpus_used": 0,
             "memory_mb_used": RESERVED_MB, "local_gb_used": 0,
             "free_ram_mb": MEMORY_MB - RESERVED_MB, "free_disk_gb": LOCAL_GB,
             "disk_available_least": LOCAL_GB, "current_workload": 0, "running_vms": 0,
             "supported_instances": json.dumps([["x86_64", "qemu", "hvm"]]),
             "stats": json.dumps({"num_instances": "0", "io_workload": "0"}),
             "cpu_allocation_ratio": CPU_RATIO, "ram_allocation_ratio": RAM_RATIO,
             "disk_allocation_ratio": DISK_RATIO, "mapped": 0} for host in hosts])
    return node_uuids


class Heartbeats(threading.Thread):
    """What the computes' service reports do to the scheduler's view: every
    compute's services.last_seen_up is now, every HEARTBEAT seconds."""

    def __init__(self, cell_url):
        super().__init__(name="heartbeats", daemon=True)
        self.cell_url = cell_url
        self.stop = threading.Event()

    def run(self):
        services = main_models.Service.__table__
        while not self.stop.wait(HEARTBEAT):
            with engines.get_engine(self.cell_url).begin() as connection:
                connection.execute(sa.update(services).where(
                    services.c.binary == "nova-compute").values(
                    last_seen_up=sa.func.utc_timestamp()))


class PlacementClient:
    """Placement's API as the admin, for many threads (a token fetched once)."""

    def __init__(self, placement):
        self.url = placement.url
        self.headers = {"X-Auth-Token": placement.keystone.token("admin", ADMIN_PASSWORD, "admin"),
                        "OpenStack-API-Version": "placement 1.36"}

    def call(self, method, path, body=None):
        response = requests.request(method, self.url + path, json=body, headers=self.headers,
                                    timeout=60)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def create_provider(self, name, node_uuid):
        """The provider of one compute node and its inventories, as the
        compute's resource tracker reports them."""
        self.call("POST", "/resource_providers", {"uuid": node_uuid, "name": name})
        self.call("PUT", f"/resource_providers/{node_uuid}/inventories", {
            "resource_provider_generation": 0, "inventories": {
                "VCPU": {"total": VCPUS, "allocation_ratio": CPU_RATIO, "max_unit": VCPUS},
                "MEMORY_MB": {"total": MEMORY_MB, "reserved": RESERVED_MB,
                              "allocation_ratio": RAM_RATIO, "max_unit": MEMORY_MB},
                "DISK_GB": {"total": LOCAL_GB, "allocation_ratio": DISK_RATIO,
                            "max_unit": LOCAL_GB}}})


def create_providers(client, node_uuids, threads=8):
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(client.create_provider, host, node)
                       for host, node in node_uuids.items()]:
            future.result()


# --- the calls ----------------------------------------------------------------------------

def request_spec():
    """The request spec nova-api (compute.api.API.create_servers) sends for one server."""
    return {"flavor": dict(FLAVOR), "image": {"id": IMAGE["id"], "properties": IMAGE["properties"]},
            "availability_zone": None, "instance_group": None, "scheduler_hints": {},
            "force_hosts": [], "force_nodes": [], "ignore_hosts": [], "num_instances": 1,
            "project_id": PROJECT, "user_id": USER}


def timed_calls(conf_path, count):
    """``count`` select_destinations calls, one after the other; [(seconds, host lists)]."""
    conf = config.new_conf()
    rpc.set_defaults(conf)
    config.load(conf, ["--config-file", str(conf_path)], prog="select_destinations_bench",
                default_config_files=[])
    scheduler = scheduler_rpcapi.SchedulerAPI(rpc.get_transport(conf))
    context = nova_context.RequestContext(user_id=USER, project_id=PROJECT, overwrite=False)
    scheduler.ping(context, timeout=30)
    results = []
    for _ in range(count):
        instance = str(uuid.uuid4())
        started = time.perf_counter()
        host_lists = scheduler.select_destinations(context, request_spec(), [instance],
                                                   return_alternates=True)
        results.append((time.perf_counter() - started, instance, host_lists))
    return results


STAGES = re.compile(
    r"Selected \S+ for (?P<instance>[0-9a-f-]{36}) in (?P<total>\d+) ms \(host states "
    r"(?P<host_states>\d+), Placement candidates (?P<candidates>\d+), filters and weighers "
    r"(?P<filters>\d+), claims (?P<claims>\d+)\)")


def scheduler_stages(text, instances):
    """{stage: [ms, ...]} from nova-scheduler's "Selected ..." lines of ``instances``."""
    stages = {}
    for match in STAGES.finditer(text):
        if match["instance"] in instances:
            for name in ("total", "host_states", "candidates", "filters", "claims"):
                stages.setdefault(name, []).append(int(match[name]))
    return stages


def hot_functions(raw_path, top=15):
    """The functions py-spy saw most (own time and with callees), from its raw output."""
    own, total, samples = {}, {}, 0
    with open(raw_path) as handle:
        for line in handle:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            count = int(count)
            frames = [frame.split(" (")[0] + " (" + frame.split(" (")[-1]
                      for frame in stack.split(";")[1:]]
            if not frames:
                continue
            samples += count
            own[frames[-1]] = own.get(frames[-1], 0) + count
            for frame in set(frames):
                total[frame] = total.get(frame, 0) + count
    lines = [f"py-spy: {samples} samples of nova-scheduler's threads (idle threads included)"]
    for title, table in (("own", own), ("with callees", total)):
        lines.append(f"  top {title}:")
        for frame, count in sorted(table.items(), key=lambda item: -item[1])[:top]:
            lines.append(f"    {count:6d}  {frame}")
    return "\n".join(lines)


# --- the run ------------------------------------------------------------------------------

def start_scheduler(workdir, layers, max_age, hosts, daemons):
    """nova-scheduler with [scheduler] placement_candidates_max_age =
    ``max_age``, once it sees every host."""
    conf = nova_conf.write(os.path.join(workdir, f"controller-{max_age}.conf"),
                           nova_conf.COMMON, *layers,
                           {"scheduler": {"placement_candidates_max_age": max_age}})
    scheduler = Daemon("nova-scheduler", conf,
                       os.path.join(workdir, f"nova-scheduler-{max_age}.log"))
    daemons.append(scheduler)
    wait_until(lambda: f"Host states: {hosts} compute node(s)" in scheduler.log(), 300,
               f"nova-scheduler does not see {hosts} compute nodes", [scheduler])
    wait_until(lambda: "nova-scheduler on host controller started" in scheduler.log(), 120,
               "nova-scheduler did not start", [scheduler])
    return scheduler, conf


def measure(args, scheduler, conf, groups, workdir):
    """R timed calls to ``scheduler``; (figures, scheduler's stages, results)."""
    timed_calls(conf, 3)  # warm up: connections, the first query
    groups = dict(groups, **{"nova-scheduler": [scheduler.process.pid]})
    meter = CpuMeter(groups)
    spy = None
    if args.profile:
        raw = os.path.join(workdir, f"py-spy-{scheduler.process.pid}.txt")
        spy = subprocess.Popen(["py-spy", "record", "--format", "raw", "--rate", "200",
                                "--output", raw, "--pid", str(scheduler.process.pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2)
    load_before = os.getloadavg()
    meter.start()
    began = time.monotonic()
    results = timed_calls(conf, args.requests)
    wall = time.monotonic() - began
    cpu = meter.stop()
    load_after = os.getloadavg()
    if spy is not None:
        spy.send_signal(2)  # SIGINT: py-spy writes what it sampled
        spy.wait(60)
        log(hot_functions(raw))
    # Where the scheduler's time went: its own log line per decision.
    stages = scheduler_stages(scheduler.log(), {instance for _, instance, _ in results})
    times_ms = [seconds * 1000 for seconds, _, _ in results]
    figures = {
        "p50_ms": round(statistics.median(times_ms), 1),
        "p90_ms": round(percentile(times_ms, 0.9), 1), "max_ms": round(max(times_ms), 1),
        "mean_ms": round(statistics.fmean(times_ms), 1),
        "cpu_ms_per_request": {name: round(1000 * seconds / args.requests, 1)
                               for name, seconds in cpu.items()},
        "scheduler_stages_p50_ms": {name: round(statistics.median(values), 1)
                                    for name, values in stages.items()},
        "distinct_hosts": len({host_lists[0][0]["host"] for _, _, host_lists in results}),
        "selections_per_instance": max(len(host_lists[0]) for _, _, host_lists in results),
        "wall_s": round(wall, 1),
        "load_average": [round(v, 2) for v in load_before + load_after],
    }
    return figures, stages


def run(args, stack, workdir):
    mariadb = MariaDB().start()
    stack.callback(mariadb.stop)
    rabbitmq = RabbitMQ().start()
    stack.callback(rabbitmq.destroy)
    keystone = Keystone(tempfile.mkdtemp(dir=workdir, prefix="keystone-")).start()
    stack.callback(keystone.stop)
    placement = Placement(tempfile.mkdtemp(dir=workdir, prefix="placement-"),
                          keystone, mariadb).start()
    stack.callback(placement.stop)
    urls = stack.enter_context(nova_databases(mariadb, ""))
    daemons = []
    stack.callback(lambda: (stop_all(daemons), rpc.cleanup(), engines.dispose_all()))
    layers = (nova_conf.host("controller", rabbitmq.url, os.path.join(workdir, "controller")),
              {"DEFAULT": {"rpc_response_timeout": 60},
               "api_database": {"connection": urls["api"]},
               "database": {"connection": urls["main"]},
               "placement": placement.nova_options()})
    controller = nova_conf.write(os.path.join(workdir, "controller.conf"), nova_conf.COMMON,
                                 *layers)
    cli.setup_cells(controller)
    log(f"Servers up (MariaDB, RabbitMQ, Keystone, Placement); cells set up in {workdir}")

    hosts = host_names(args.hosts)
    began = time.monotonic()
    node_uuids = write_compute_rows(urls["main"], hosts)
    rows_s = time.monotonic() - began
    began = time.monotonic()
    discovered = cli.manage(controller, "cell_v2", "discover_hosts")
    if discovered.returncode:
        raise RuntimeError(f"nova-manage cell_v2 discover_hosts: {discovered.stderr}")
    discover_s = time.monotonic() - began
    heartbeats = Heartbeats(urls["main"])
    heartbeats.start()
    stack.callback(heartbeats.stop.set)
    began = time.monotonic()
    client = PlacementClient(placement)
    create_providers(client, node_uuids)
    providers_s = time.monotonic() - began
    log(f"{args.hosts} compute nodes: cell rows {rows_s:.1f} s, nova-manage cell_v2 "
        f"discover_hosts {discover_s:.1f} s, Placement providers and inventories "
        f"{providers_s:.1f} s ({2 * args.hosts / providers_s:.0f} requests/s)")

    # Placement's share: the scheduler's query alone, from here.
    query = "resources=DISK_GB:1,MEMORY_MB:512,VCPU:1&limit=1000"
    candidates_ms = []
    for _ in range(5):
        started = time.perf_counter()
        answer = client.call("GET", f"/allocation_candidates?{query}")
        candidates_ms.append(1000 * (time.perf_counter() - started))
    log(f"GET /allocation_candidates?{query} alone: p50 "
        f"{statistics.median(candidates_ms):.1f} ms, {len(answer['allocation_requests'])} "
        f"candidates")

    groups = {"placement": [placement.process.pid], "mariadb": [mariadb.process.pid],
              "rabbitmq": [rabbitmq.process.pid], "client": [os.getpid()]}
    modes, calls = {}, 0
    for max_age in args.candidates_max_age:
        scheduler, conf = start_scheduler(workdir, layers, max_age=max_age,
                                          hosts=args.hosts, daemons=daemons)
        if not modes:
            log(f"nova-scheduler up ({interpreter(cli.BIN)})")
        figures, stages = measure(args, scheduler, conf, groups, workdir)
        calls += args.requests + 3
        stop_all([scheduler])
        modes[max_age] = figures
        label = ("a fresh GET /allocation_candidates per decision" if not max_age else
                 f"allocation candidates reused for up to {max_age} s")
        log(f"select_destinations over RPC, {args.hosts} hosts, {args.requests} calls, "
            f"{label}: p50 {figures['p50_ms']} ms, p90 {figures['p90_ms']} ms, "
            f"max {figures['max_ms']} ms")
        log("  CPU per request (ms): " + ", ".join(
            f"{name} {value}" for name, value in figures["cpu_ms_per_request"].items()))
        if stages:
            log("  nova-scheduler's own timing, p50 / max ms: " + ", ".join(
                f"{name} {statistics.median(values):.0f} / {max(values):.0f}"
                for name, values in stages.items()))

    # Every call claimed its host in Placement, and the claims were kept.
    claimed = client.call("GET", f"/usages?project_id={PROJECT}")["usages"].get("VCPU", 0)
    log(f"Placement holds {claimed} VCPU claimed by {PROJECT} (expected {calls}: every call "
        "claimed one, none released)")
    first = modes[args.candidates_max_age[0]]
    figures = dict(
        {"hosts": args.hosts, "requests": args.requests,
         "placement_candidates_max_age": args.candidates_max_age[0]}, **first,
        placement_candidates_alone_p50_ms=round(statistics.median(candidates_ms), 1),
        claims_in_placement=claimed, claims_expected=calls,
        interpreter=interpreter(cli.BIN), target_p50_ms=TARGET_P50_MS)
    if len(modes) > 1:
        figures["by_candidates_max_age"] = {
            str(age): {key: mode[key] for key in ("p50_ms", "p90_ms", "max_ms",
                                                  "cpu_ms_per_request")}
            for age, mode in modes.items()}
    ok = first["p50_ms"] <= TARGET_P50_MS and claimed == calls
    return figures, ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=10000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--candidates-max-age", type=lambda text: [int(v) for v in text.split(",")],
                        default=[DEFAULT_MAX_AGE, 0],
                        metavar="S[,S...]",
                        help="nova-scheduler's [scheduler] placement_candidates_max_age; "
                             "several: one nova-scheduler after the other, R calls each "
                             "(default: the option's default, then 0, upstream's way)")
    parser.add_argument("--profile", action="store_true",
                        help="sample nova-scheduler with py-spy during the calls")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (configs, logs)")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="nova-select-destinations-")
    with contextlib.ExitStack() as stack:
        stack.callback(lambda: log(f"Kept {workdir}") if args.keep
                       else shutil.rmtree(workdir, ignore_errors=True))
        figures, ok = run(args, stack, workdir)
    print(json.dumps(figures), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
