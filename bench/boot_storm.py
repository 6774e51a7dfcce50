"""Boot storm: N servers over M fake compute services, on a real RabbitMQ and
MariaDB (and, by default, the real Placement behind a real Keystone).

    python bench/boot_storm.py [--servers 500] [--computes 50] [--conductors 2]
                               [--no-placement] [--threads 8] [--per-request 1] [--keep]

What runs, each as its own process, as in a deployment (the tests' private
servers: tests/mariadb.py, tests/rabbitmq.py, tests/keystone.py,
tests/placement.py):

- one nova-conductor with [api_database] and [database]: the
  super-conductor and cell1's conductor (a single-cell deployment), with
  [conductor] workers = C processes (default 2: one per CPU, as
  nova-conductor's own default); they share one host name, services row
  and queue;
- one nova-scheduler (filter scheduler, default filters and weighers, with
  Placement's allocation candidates and claims unless --no-placement);
- M nova-compute processes (fake driver; [fake_driver] 16 vCPUs, 16 GiB RAM,
  200 GB disk each, so that every server fits many times over), one per
  compute host: 50 of them together idle at under 5% of one core on the
  2-core machines and start in one to two minutes, so no compute host has
  to share a process with another;
- cells set up with nova-manage (api_db sync, map_cell0, create_cell, db
  sync), computes mapped with ``nova-manage cell_v2 discover_hosts`` once all
  of them reported; the flat network is 10.0.0.0/22 (1021 addresses).

How: once the scheduler sees every compute (and Placement has every
provider), T threads create the servers through nova_runtime.compute.api (what
nova-api's POST /servers handler calls): by default single-server requests,
as clients usually send them (--per-request K: min_count = max_count = K).
Flavor: 1 vCPU, 512 MB RAM, 1 GB disk. One poller reads the cell databases
every 0.1 s (one query per cell for the instances that left BUILD) and notes
when each server became ACTIVE or ERROR.

Figures (JSON on the last line): servers/s from the first request to the
last server ACTIVE, p50/p90/max of each server's time from its request to
ACTIVE, how many ended ACTIVE, ERROR, or still in BUILD at the deadline, how
the servers spread over the hosts, (with Placement) the VCPU that Placement
holds for them, and where the time went: CPU seconds of each component
during the storm (cpu_s) and while idle before it (idle_cpu_s_per_s).
Targets: >= 20 servers/s, none left in BUILD. Exit code 0 when both are met.
"""

import argparse
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # the tests' private servers (tests/*.py)

import nova_runtime  # noqa: E402,F401  first: it selects oslo.service's threading backend

import sqlalchemy as sa  # noqa: E402

from nova_runtime import config, context as nova_context, rpc  # noqa: E402
from nova_runtime.compute import api as compute_api  # noqa: E402
from nova_runtime.db import engines  # noqa: E402
from nova_runtime.db.api import models as api_models  # noqa: E402
from nova_runtime.db.main import models as main_models  # noqa: E402
from tests import cli, cloud as tests_cloud  # noqa: E402
from tests.mariadb import MariaDB  # noqa: E402
from tests.rabbitmq import RabbitMQ  # noqa: E402

TARGET_RATE = 20.0
FLAVOR = {"id": 1, "flavorid": "1", "name": "m1.storm", "memory_mb": 512, "vcpus": 1,
          "root_gb": 1, "ephemeral_gb": 0, "swap": 0, "extra_specs": {}}
IMAGE = {"id": "155d900f-4e14-4e4c-a73d-069cbf4541e6", "min_ram": 0, "min_disk": 0,
         "properties": {"os_type": "linux"}}
COMPUTE_RESOURCES = "[fake_driver]\nvcpus = 16\nmemory_mb = 16384\nlocal_gb = 200\n"
POLL_INTERVAL = 0.1
IDLE_SECONDS = 5  # CPU of the idle cloud, measured before the storm

COMMON = """\
[DEFAULT]
host = {host}
transport_url = {transport_url}
my_ip = 127.0.0.1
state_path = {state_path}
compute_driver = fake.FakeDriver
fixed_range = 10.0.0.0/22
rpc_response_timeout = 60
[oslo_messaging_rabbit]
rabbit_retry_interval = 1
rabbit_retry_backoff = 1
rabbit_interval_max = 2
"""


def log(message):
    print(message, flush=True)


class Daemon:
    """A nova_runtime console script with --config-file and --log-file."""

    def __init__(self, binary, conf, workdir):
        self.binary = binary
        label = os.path.basename(conf)[:-5]
        self.log_path = os.path.join(workdir, f"{binary}-{label}.log")
        with open(self.log_path + ".stderr", "w") as err:
            self.process = subprocess.Popen(
                [os.path.join(cli.BIN, binary), "--config-file", conf,
                 "--log-file", self.log_path], stdout=subprocess.DEVNULL, stderr=err)

    def log(self):
        try:
            with open(self.log_path) as handle:
                return handle.read()
        except FileNotFoundError:
            return ""

    def check_running(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.binary} exited with {self.process.returncode}; see "
                               f"{self.log_path} and {self.log_path}.stderr")


def wait_until(predicate, timeout, what, daemons=()):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        for daemon in daemons:
            daemon.check_running()
        if time.monotonic() > deadline:
            raise RuntimeError(f"after {timeout} s: {what}")
        time.sleep(0.5)


def manage(conf, *args):
    result = cli.run("nova-manage", *args, config_file=conf)
    if result.returncode:
        raise RuntimeError(f"nova-manage {' '.join(args)} failed ({result.returncode}): "
                           f"{result.stderr.strip()}")
    return result.stdout


class Cloud:
    """The servers, databases, configuration files and daemons of one run."""

    def __init__(self, args, stack):
        self.args = args
        self.workdir = tempfile.mkdtemp(prefix="nova-boot-storm-")
        self.daemons = []
        # ExitStack runs these last first: daemons and our clients stop
        # before the servers they use, the work directory goes last.
        stack.callback(self._remove_workdir)
        log(f"Work directory (configs, daemon logs): {self.workdir}")
        self.mariadb = MariaDB().start()
        stack.callback(self.mariadb.stop)
        self.rabbitmq = RabbitMQ().start()
        stack.callback(self.rabbitmq.destroy)
        self.placement = None
        if not args.no_placement:
            self.placement = self._start_placement(stack)
        self.urls = self._databases(stack)
        stack.callback(self._stop_daemons)

    def _start_placement(self, stack):
        from tests.keystone import Keystone
        from tests.placement import Placement

        keystone = Keystone(tempfile.mkdtemp(dir=self.workdir, prefix="keystone-")).start()
        stack.callback(keystone.stop)
        placement = Placement(tempfile.mkdtemp(dir=self.workdir, prefix="placement-"),
                              keystone, self.mariadb).start()
        stack.callback(placement.stop)
        return placement

    def _databases(self, stack):
        """nova_api, nova and nova_cell0, granted as the install guide does."""
        return stack.enter_context(tests_cloud.nova_databases(self.mariadb, ""))

    def write_conf(self, host, extra=""):
        path = os.path.join(self.workdir, f"{host}.conf")
        placement = self.placement.nova_conf_section() if self.placement else ""
        with open(path, "w") as handle:
            handle.write(COMMON.format(host=host, transport_url=self.rabbitmq.url,
                                       state_path=os.path.join(self.workdir, host))
                         + placement + extra)
        return path

    def process_groups(self):
        """{group name: pids} of what runs, for CpuMeter."""
        groups = {"client": [os.getpid()], "mariadb": [self.mariadb.process.pid],
                  "rabbitmq": [self.rabbitmq.process.pid]}
        for daemon in self.daemons:
            groups.setdefault(daemon.binary, []).append(daemon.process.pid)
        if self.placement is not None:
            groups["placement"] = [self.placement.process.pid]
            groups["keystone"] = [self.placement.keystone.process.pid]
        return groups

    def start(self, binary, conf):
        daemon = Daemon(binary, conf, self.workdir)
        self.daemons.append(daemon)
        return daemon

    def _stop_daemons(self):
        for daemon in self.daemons:
            if daemon.process.poll() is None:
                daemon.process.send_signal(signal.SIGTERM)
        for daemon in self.daemons:
            try:
                daemon.process.wait(30)
            except subprocess.TimeoutExpired:
                daemon.process.kill()
                daemon.process.wait()
        rpc.cleanup()
        engines.dispose_all()

    def _remove_workdir(self):
        if self.args.keep:
            log(f"Kept {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def bring_up(cloud, computes, conductors):
    """Cells, the conductor, the computes (all reported), discovery, the
    scheduler (sees every compute); returns the controller's config file."""
    controller = cloud.write_conf("controller", extra=(
        f"[api_database]\nconnection = {cloud.urls['api']}\n"
        f"[database]\nconnection = {cloud.urls['main']}\n"
        f"[conductor]\nworkers = {conductors}\n"))
    manage(controller, "api_db", "sync")
    manage(controller, "cell_v2", "map_cell0")
    manage(controller, "cell_v2", "create_cell", "--name=cell1")
    manage(controller, "db", "sync")
    conductor = cloud.start("nova-conductor", controller)
    hosts = [f"c{index:03d}" for index in range(1, computes + 1)]
    for host in hosts:
        cloud.start("nova-compute", cloud.write_conf(host, extra=COMPUTE_RESOURCES))
    engine = engines.get_engine(cloud.urls["main"])

    def reported():
        with engine.connect() as connection:
            return connection.scalar(sa.select(sa.func.count()).select_from(
                main_models.ComputeNode).where(main_models.ComputeNode.deleted == 0)) == computes

    wait_until(reported, 120 + 3 * computes, f"not all {computes} computes reported",
               cloud.daemons)
    manage(controller, "cell_v2", "discover_hosts")
    scheduler = cloud.start("nova-scheduler", controller)
    wait_until(lambda: f"Host states: {computes} compute node(s)" in scheduler.log(), 120,
               f"nova-scheduler does not see {computes} computes", [scheduler, conductor])
    wait_until(lambda: "nova-scheduler on host controller started" in scheduler.log(), 60,
               "nova-scheduler did not start", [scheduler])
    if cloud.placement is not None:
        wait_until(lambda: providers_with_inventory(cloud.placement) == computes, 120,
                   f"Placement does not have {computes} providers with inventories",
                   cloud.daemons)
    return controller


def providers_with_inventory(placement):
    providers = placement.get("/resource_providers?resources=VCPU:1")["resource_providers"]
    return len(providers)


# --- where the CPU goes -----------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def _process_tree():
    """{pid: parent pid} of every process."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return parents


def _cpu_seconds(pid):
    """User + system CPU of the process (all its threads), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


class CpuMeter:
    """CPU seconds that each group of processes (and their descendants,
    except for the groups named in ``alone``) used between ``start`` and
    ``stop``: where a storm's time goes."""

    def __init__(self, groups, alone=("client",)):
        parents = _process_tree()
        children = {}
        for pid, parent in parents.items():
            children.setdefault(parent, []).append(pid)
        self.groups = {}
        for name, pids in groups.items():
            found, todo = [], list(pids)
            while todo:
                pid = todo.pop()
                found.append(pid)
                if name not in alone:  # the client's descendants are the daemons
                    todo += children.get(pid, [])
            self.groups[name] = found
        self.before = {}

    def _read(self):
        return {name: sum(_cpu_seconds(pid) for pid in pids) for name, pids in self.groups.items()}

    def start(self):
        self.before = self._read()

    def stop(self):
        after = self._read()
        return {name: round(after[name] - self.before[name], 1) for name in self.groups}


# --- the storm ------------------------------------------------------------------------

class Poller(threading.Thread):
    """Notes when each instance left BUILD: one query per cell database
    every POLL_INTERVAL for the instances no longer building."""

    def __init__(self, urls):
        super().__init__(name="poller", daemon=True)
        self.urls = urls
        self.settled = {}  # uuid -> (vm_state, monotonic time first seen)
        self.stop = threading.Event()

    def run(self):
        table = main_models.Instance.__table__
        query = sa.select(table.c.uuid, table.c.vm_state).where(
            table.c.deleted == 0, table.c.vm_state != "building")
        while not self.stop.wait(POLL_INTERVAL):
            now = time.monotonic()
            for url in self.urls:
                with engines.get_engine(url).connect() as connection:
                    for uuid, vm_state in connection.execute(query):
                        if uuid not in self.settled:
                            self.settled[uuid] = (vm_state, now)


def storm(controller, urls, servers, threads, per_request, timeout):
    """Create the servers from ``threads`` threads; returns (requested
    {uuid: monotonic time of its request}, poller, first request time)."""
    conf = config.new_conf()
    rpc.set_defaults(conf)
    config.load(conf, ["--config-file", controller], prog="boot_storm", default_config_files=[])
    poller = Poller([urls["main"], urls["cell0"]])
    poller.start()
    requested, lock = {}, threading.Lock()
    counter = itertools.count()
    errors = []

    def worker():
        api = compute_api.API(conf)
        context = nova_context.RequestContext(user_id="storm-user", project_id="storm",
                                              overwrite=False)
        while True:
            first = next(counter) * per_request
            if first >= servers:
                return
            count = min(per_request, servers - first)
            started = time.monotonic()
            try:
                created = api.create_servers(context, FLAVOR, IMAGE, count,
                                             name=f"storm-{first}")
            except Exception as exc:  # counted and reported: the storm goes on
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                for instance in created:
                    requested[instance["uuid"]] = started

    began = time.monotonic()
    workers = [threading.Thread(target=worker, name=f"client-{n}") for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    submitted = time.monotonic() - began
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(uuid in poller.settled for uuid in requested):
        time.sleep(POLL_INTERVAL)
    poller.stop.set()
    poller.join()
    return requested, poller.settled, began, submitted, errors


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def spread(url, uuids):
    table = main_models.Instance.__table__
    with engines.get_engine(url).connect() as connection:
        hosts = [host for uuid, host in connection.execute(
            sa.select(table.c.uuid, table.c.host).where(table.c.deleted == 0))
            if uuid in uuids]
    per_host = {}
    for host in hosts:
        per_host[host] = per_host.get(host, 0) + 1
    return per_host


def error_faults(urls, uuids):
    """{fault message: how many} of the instances in ERROR: why they failed."""
    table = main_models.InstanceFault.__table__
    counts = {}
    for url in urls:
        with engines.get_engine(url).connect() as connection:
            for uuid, message in connection.execute(
                    sa.select(table.c.instance_uuid, table.c.message)
                    .order_by(table.c.id.desc())):
                if uuid in uuids:
                    uuids = uuids - {uuid}  # its newest fault only
                    counts[message] = counts.get(message, 0) + 1
    return counts


def build_requests_left(url):
    with engines.get_engine(url).connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(api_models.BuildRequest))


def run(args):
    with contextlib.ExitStack() as stack:
        started = time.monotonic()
        cloud = Cloud(args, stack)
        controller = bring_up(cloud, args.computes, args.conductors)
        ready = time.monotonic() - started
        log(f"{args.computes} computes up and mapped, scheduler ready "
            f"({'with' if cloud.placement else 'without'} Placement) after {ready:.0f} s")
        meter = CpuMeter(cloud.process_groups())
        meter.start()
        time.sleep(IDLE_SECONDS)
        idle = {name: round(seconds / IDLE_SECONDS, 3) for name, seconds in meter.stop().items()}
        meter.start()
        requested, settled, began, submitted, errors = storm(
            controller, cloud.urls, args.servers, args.threads, args.per_request, args.timeout)
        cpu = meter.stop()
        active = {uuid: settled[uuid][1] - requested[uuid] for uuid in requested
                  if settled.get(uuid, ("",))[0] == "active"}
        errored_uuids = {uuid for uuid in requested if uuid in settled and uuid not in active}
        errored = len(errored_uuids)
        building = sum(1 for uuid in requested if uuid not in settled)
        last = max((settled[uuid][1] for uuid in active), default=time.monotonic())
        elapsed = last - began
        per_host = spread(cloud.urls["main"], set(active))
        figures = {
            "servers": args.servers, "computes": args.computes,
            "conductors": args.conductors,
            "placement": cloud.placement is not None, "client_threads": args.threads,
            "servers_per_request": args.per_request,
            "active": len(active), "error": errored, "build": building,
            "request_errors": len(errors),
            "submit_s": round(submitted, 2), "elapsed_s": round(elapsed, 2),
            "servers_per_s": round(len(active) / elapsed, 2) if active else 0.0,
            "time_to_active_p50_s": _rounded(percentile(list(active.values()), 0.5)),
            "time_to_active_p90_s": _rounded(percentile(list(active.values()), 0.9)),
            "time_to_active_max_s": _rounded(max(active.values(), default=None)),
            "hosts_used": len(per_host), "max_per_host": max(per_host.values(), default=0),
            "min_per_host": min(per_host.values(), default=0),
            "build_requests_left": build_requests_left(cloud.urls["api"]),
            "startup_s": round(ready, 1),
            "cpu_s": cpu, "idle_cpu_s_per_s": idle,
        }
        if cloud.placement is not None:
            usages = cloud.placement.get("/usages?project_id=storm")["usages"]
            figures["placement_vcpu_allocated"] = usages.get("VCPU", 0)
        if errored_uuids:
            figures["error_faults"] = error_faults(
                [cloud.urls["main"], cloud.urls["cell0"]], errored_uuids)
        for error in errors[:5]:
            log(f"request failed: {error}")
        for message, count in figures.get("error_faults", {}).items():
            log(f"{count} server(s) in ERROR with fault: {message}")
        log(f"{figures['active']} of {args.servers} servers ACTIVE in {elapsed:.1f} s "
            f"({figures['servers_per_s']} servers/s, target >= {TARGET_RATE:g}); "
            f"time to ACTIVE p50 {figures['time_to_active_p50_s']} s, "
            f"p90 {figures['time_to_active_p90_s']} s; {errored} in ERROR, "
            f"{building} still in BUILD; requests sent within {submitted:.1f} s")
        log("CPU seconds during the storm: " + ", ".join(
            f"{name} {seconds}" for name, seconds in cpu.items()))
        log(f"Spread: {len(per_host)} hosts, {figures['min_per_host']}-"
            f"{figures['max_per_host']} servers each")
    print(json.dumps(figures))
    return 0 if figures["servers_per_s"] >= TARGET_RATE and not building and not errored else 1


def _rounded(value):
    return None if value is None else round(value, 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", type=int, default=500)
    parser.add_argument("--computes", type=int, default=50)
    parser.add_argument("--conductors", type=int, default=2,
                        help="nova-conductor's [conductor] workers (default 2: one per core, "
                             "nova-conductor's own default)")
    parser.add_argument("--threads", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--per-request", type=int, default=1,
                        help="servers per create request (max_count; default 1)")
    parser.add_argument("--no-placement", action="store_true",
                        help="run without Placement (no Keystone either)")
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds to wait, after the last request, for every server")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (configs and daemon logs)")
    args = parser.parse_args()
    # A SIGTERM (timeout, CI) still stops the daemons and servers started here.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))
    for name in ("servers", "computes", "conductors", "threads", "per_request"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
