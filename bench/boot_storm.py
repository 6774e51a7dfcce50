"""Boot storm: N servers over M fake compute services, on a real RabbitMQ and
MariaDB, the real Placement and Keystone (and, over HTTP, Glance).

    python bench/boot_storm.py [--servers 500] [--computes 50] [--conductors 2]
                               [--threads 32] [--against upstream] [--no-placement]
                               [--existing N] [--timeout 600] [--keep]
    python bench/boot_storm.py --in-process [--threads 8] [--per-request 1] ...

Options: --servers N (500), --computes M (50), --conductors C (nova-conductor's
[conductor] workers, 2), --threads T (client threads: 32 over HTTP, 8
in-process), --against upstream (then the same HTTP storm against upstream
Nova 34 from PyPI; prints both and their ratio), --in-process (the old storm,
below), --per-request K (in-process only), --no-placement, --existing N
(N servers already in the cloud before the storm: below), --query-log K
(over HTTP: MariaDB logs every statement of the storm, then the K that
examined the most rows are printed; it costs MariaDB CPU, so it is for
finding what grows, not for the figures), --timeout S (per server over
HTTP; after the last request in-process), --keep (keep the work directory:
configs and daemon logs).

What runs, each as its own process, as in a deployment (the harness's
private servers, as in the tests: harness/mariadb.py, harness/rabbitmq.py,
harness/keystone.py, harness/placement.py, harness/glance.py):

- one nova-conductor with [api_database] and [database]: the
  super-conductor and cell1's conductor (a single-cell deployment), with
  [conductor] workers = C processes (default 2: one per CPU, as
  nova-conductor's own default); they share one host name, services row
  and queue;
- one nova-scheduler (filter scheduler, default filters and weighers, with
  Placement's allocation candidates and claims unless --no-placement);
- M nova-compute processes (fake driver; [fake_driver] 128 vCPUs, 1 TiB RAM,
  8 TB disk each, so that the storm's and the existing servers fit), one per
  compute host: 50 of them together idle at under 5% of one core on the
  2-core machines and start in one to two minutes, so no compute host has
  to share a process with another;
- cells set up with nova-manage (api_db sync, map_cell0, create_cell, db
  sync), computes mapped with ``nova-manage cell_v2 discover_hosts`` once all
  of them reported; the flat network is 10.0.0.0/18 (16,381 addresses);
- over HTTP (the default): Keystone, with memcached as its own cache and as
  auth_token's token cache (as roles/keystone and the services' roles
  configure them), Glance with the ``cirros`` image, and nova-api (cheroot) with
  keystonemiddleware, policy, schemas, the Glance lookup and quota. The
  daemons run on the interpreter of the virtualenv this script runs from
  (the console scripts next to it): the deployment runs Debian's
  /usr/bin/python3, and so does the project's .venv; the figures say which.

Over HTTP (bench/storm_http.py): once the scheduler sees every compute, the
admin creates the m1.storm flavor (1 vCPU, 512 MB, 1 GB) and lifts the demo
project's instances/cores/RAM quota (-1; still counted per request). T
client threads, each with its own Keystone token of demo-member (fetched
once), do what ``openstack server create --wait`` does: POST /v2.1/servers
(one server, image cirros, ``networks: none``, microversion 2.37), then GET
/v2.1/servers/{id} every 0.5 s until ACTIVE or ERROR; then the next server.
A server's time to ACTIVE runs from its POST to the GET that saw it ACTIVE.

--existing N (cost as the cloud grows): before the conductor and the
computes start, N ACTIVE servers are written in bulk as builds leave them
(bench/api.py's writer: instance, instance_extra with flavor and network
info, metadata, system metadata, a virtual interface and a fixed address in
cell1; instance mapping and request spec in the API database), m1.tiny,
round-robin over the computes and over 10 projects, one of them the
storm's; each compute's resource tracker finds its host's instances in the
cell database when it starts, and once the computes reported, the servers'
allocations are written to Placement (POST /allocations). Only
nova_runtime's side (not with --against).

--against upstream (bench/upstream_nova.py): then nova_runtime's daemons
stop, their resource providers are deleted, and upstream Nova 34.x from
PyPI (its own cached virtualenv, harness/upstream.py) runs on the same
MariaDB, RabbitMQ (vhost ``upstream``), Keystone, memcached, Placement and
Glance: nova-api under uwsgi, nova-conductor, nova-scheduler and M
nova-compute with ``compute_driver = fake.FakeDriver``, and the same storm
runs against it. Upstream Nova asks Neutron for ports and security groups
even with ``networks: none``: a local stand-in answers every GET with an
empty list (the output says so; its CPU is reported as neutron-stub).

--in-process (the old storm, named for what it is): T threads call
nova_runtime.compute.api.API.create_servers in this process (what nova-api's
POST /servers handler calls), with no HTTP, token check, policy, schema,
Glance lookup or quota count: by default single-server requests
(--per-request K: min_count = max_count = K). Flavor: 1 vCPU, 512 MB RAM,
1 GB disk. One poller reads the cell databases every 0.1 s and notes when
each server became ACTIVE or ERROR.

Figures (JSON on the last line): servers/s from the first request to the
last server ACTIVE, p50/p90/max of each server's time from its request to
ACTIVE, how many ended ACTIVE, ERROR, or still in BUILD, how the servers
spread over the hosts, the VCPU that Placement holds for them, and where the
time went: CPU seconds of each component during the storm (cpu_s; over HTTP
also cpu_ms_per_server: nova-api, nova-conductor, nova-scheduler,
nova-compute (all computes), mariadb, rabbitmq, placement, keystone, glance,
memcached, client) and while idle before it (idle_cpu_s_per_s); over HTTP,
which interpreter runs the daemons; with --against upstream, both sides and
their ratio (servers/s; p50 and CPU per server as upstream's over ours).
Targets: >= 20 servers/s, none left in BUILD or ERROR (and with --against
upstream, >= 10x upstream's servers/s). Exit code 0 when they are met.
"""

import argparse
import contextlib
import datetime
import itertools
import json
import os
import pathlib
import shutil
import signal
import sys
import tempfile
import threading
import time

# The repository's root: the harness package (harness/) and bench/.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nova_runtime  # noqa: E402,F401  first: it selects oslo.service's threading backend

import sqlalchemy as sa  # noqa: E402

from nova_runtime import cells, config, context as nova_context, rpc  # noqa: E402
from nova_runtime.compute import api as compute_api  # noqa: E402
from nova_runtime.db import engines  # noqa: E402
from nova_runtime.db.api import models as api_models  # noqa: E402
from nova_runtime.db.main import models as main_models  # noqa: E402
from bench import storm_http  # noqa: E402
from harness import bulk_servers, cli, nova_conf  # noqa: E402
from harness.cloud import IMAGE  # noqa: E402
from harness.daemons import Daemon, stop_all  # noqa: E402
from harness.databases import nova_databases  # noqa: E402
from harness.glance import Glance  # noqa: E402
from harness.measure import CpuMeter, interpreter, percentile  # noqa: E402
from harness.keystone import ADMIN_PASSWORD, DEMO_PASSWORD, NOVA_PASSWORD, Keystone  # noqa: E402
from harness.mariadb import MariaDB  # noqa: E402
from harness.memcached import start_memcached  # noqa: E402
from harness.placement import Placement  # noqa: E402
from harness.processes import free_port, stop, wait_for_http, wait_until  # noqa: E402
from harness.rabbitmq import RabbitMQ  # noqa: E402

TARGET_RATE = 20.0
TARGET_RATIO = 10.0  # --against upstream: nova_runtime's servers/s over upstream's
FLAVOR = {"id": 1, "flavorid": "1", "name": "m1.storm", "memory_mb": 512, "vcpus": 1,
          "root_gb": 1, "ephemeral_gb": 0, "swap": 0, "extra_specs": {}}
# Room on every compute for the storm and --existing servers alike (the same in
# every run, so that runs with and without existing servers compare).
COMPUTE_RESOURCES = {"fake_driver": {"vcpus": 128, "memory_mb": 1048576, "local_gb": 8192}}
EXISTING_PROJECTS = 10  # --existing: the servers belong to 10 projects, one the storm's
POLL_INTERVAL = 0.1
IDLE_SECONDS = 5  # CPU of the idle cloud, measured before the storm

# Every nova.conf of the storm: the common options (harness/nova_conf.py),
# a flat network with room for the servers (a /18: 16,381 addresses, for
# --existing 5000 and more), and time for RPC calls under load.
OPTIONS = {"DEFAULT": {"fixed_range": "10.0.0.0/18", "rpc_response_timeout": 60}}


def log(message):
    print(message, flush=True)


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
        if args.query_log:
            # Before any client connects: a session takes long_query_time when it
            # opens, and the pools keep theirs. The log itself is off until the storm.
            self.mariadb.sql("SET GLOBAL long_query_time = 0; "
                             "SET GLOBAL log_slow_verbosity = 'query_plan'; "
                             f"SET GLOBAL slow_query_log_file = '{self.query_log_path()}';")
        self.rabbitmq = RabbitMQ().start()
        stack.callback(self.rabbitmq.destroy)
        self.keystone = self.placement = self.glance = None
        self.memcached = self.api = None
        http = not args.in_process
        if http:
            self._start_memcached(stack)
        if http or not args.no_placement:
            self.keystone = self._start_keystone(stack)
        if not args.no_placement:
            self.placement = self._start_placement(stack)
        if http:
            self.glance = self._start_glance(stack)
        self.urls = self._databases(stack)
        stack.callback(self._stop_daemons)

    def query_log_path(self):
        return os.path.join(self.mariadb.basedir, "storm-queries.log")

    @contextlib.contextmanager
    def query_log(self):
        """--query-log: MariaDB logs every statement of the block (slow query
        log, long_query_time 0); then the statements that examined the
        most rows are printed, grouped by their text without literals."""
        if not self.args.query_log:
            yield
            return
        self.mariadb.sql("SET GLOBAL slow_query_log = 1;")
        try:
            yield
        finally:
            self.mariadb.sql("SET GLOBAL slow_query_log = 0;")
            top = self.args.query_log
            for line in storm_http.query_log_summary(self.query_log_path(), top):
                log(line)

    def _start_keystone(self, stack):
        keystone = Keystone(tempfile.mkdtemp(dir=self.workdir, prefix="keystone-"),
                            memcached=self.memcached).start()
        stack.callback(keystone.stop)
        return keystone

    def _start_placement(self, stack):
        placement = Placement(tempfile.mkdtemp(dir=self.workdir, prefix="placement-"),
                              self.keystone, self.mariadb).start()
        stack.callback(placement.stop)
        return placement

    def _start_memcached(self, stack):
        """auth_token's token cache and Keystone's own cache, as deployed (both
        sides' nova-api use it)."""
        self.memcached_process, self.memcached = start_memcached(self.workdir)
        if self.memcached_process is not None:
            stack.callback(stop, self.memcached_process)

    def _start_glance(self, stack):
        glance = Glance(self.keystone, tempfile.mkdtemp(dir=self.workdir, prefix="glance-"))
        glance.start()
        stack.callback(glance.stop)
        return glance

    def start_api(self):
        """nova_runtime's nova-api (cheroot) with keystonemiddleware, its
        token cache in memcached, Glance; returns its /v2.1 URL."""
        port = free_port()
        cache = {"memcached_servers": self.memcached} if self.memcached else {}
        conf = self.write_conf("api", self.databases(), {
            "DEFAULT": {"enabled_apis": "osapi_compute", "osapi_compute_listen": "127.0.0.1",
                        "osapi_compute_listen_port": port},
            "glance": {"api_servers": self.glance.url},
            "keystone_authtoken": dict(self.keystone.authtoken("nova", NOVA_PASSWORD), **cache)})
        self.api = self.start("nova-api", conf, log_file=False)
        url = f"http://127.0.0.1:{port}/v2.1"
        wait_for_http(url, self.api.process, self.api.log_path)
        return url

    def _databases(self, stack):
        """nova_api, nova and nova_cell0, granted as the install guide does."""
        return stack.enter_context(nova_databases(self.mariadb, ""))

    def databases(self):
        """The nova.conf layer of the controller's databases."""
        return {"api_database": {"connection": self.urls["api"]},
                "database": {"connection": self.urls["main"]}}

    def write_conf(self, host, *layers):
        """<workdir>/<host>.conf: the common and the storm's options, the
        host's own, [placement] (unless --no-placement), then ``layers``."""
        placement = {"placement": self.placement.nova_options()} if self.placement else {}
        return nova_conf.write(
            os.path.join(self.workdir, f"{host}.conf"), nova_conf.COMMON, OPTIONS,
            nova_conf.host(host, self.rabbitmq.url, os.path.join(self.workdir, host)),
            placement, *layers)

    def process_groups(self):
        """{group name: pids} of what runs, for CpuMeter."""
        groups = self.shared_process_groups()
        for daemon in self.daemons:
            if daemon.process.poll() is None:
                groups.setdefault(daemon.binary, []).append(daemon.process.pid)
        return groups

    def shared_process_groups(self):
        """The client and the services both sides of a storm use (MariaDB,
        RabbitMQ, Placement, Keystone, Glance, memcached)."""
        groups = {"client": [os.getpid()], "mariadb": [self.mariadb.process.pid],
                  "rabbitmq": [self.rabbitmq.process.pid]}
        for name in ("placement", "keystone", "glance"):
            if getattr(self, name) is not None:
                groups[name] = [getattr(self, name).process.pid]
        if self.memcached:
            groups["memcached"] = [self.memcached_process.pid]
        return groups

    def start(self, binary, conf, log_file=True):
        log = os.path.join(self.workdir, f"{binary}-{pathlib.Path(conf).stem}.log")
        daemon = Daemon(binary, conf, log, log_file=log_file)
        self.daemons.append(daemon)
        return daemon

    def _stop_daemons(self):
        self.stop_daemons()
        rpc.cleanup()
        engines.dispose_all()

    def stop_daemons(self):
        """SIGTERM every daemon, wait (then kill) them."""
        stop_all(self.daemons)

    def _remove_workdir(self):
        if self.args.keep:
            log(f"Kept {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


# --in-process: no nova-api to lift the storm project's quota (os-quota-sets),
# and the super-conductor counts it again ([quota] recheck_quota): no limits.
NO_QUOTA = {"quota": {"instances": -1, "cores": -1, "ram": -1}}


def bring_up(cloud, computes, conductors, extra=None, existing=0, project=None):
    """Cells, ``existing`` servers already in the cloud (see
    add_existing_servers; ``project``: the storm's), the conductor, the
    computes (all reported), discovery, the scheduler (sees every compute);
    returns the controller's config file (``extra``: more of its options)."""
    controller = cloud.write_conf("controller", extra or {}, cloud.databases(),
                                  {"conductor": {"workers": conductors}})
    cli.setup_cells(controller)
    hosts = [f"c{index:03d}" for index in range(1, computes + 1)]
    written = None
    if existing:
        written = add_existing_servers(cloud, controller, existing, hosts, project)
    conductor = cloud.start("nova-conductor", controller)
    for host in hosts:
        cloud.start("nova-compute", cloud.write_conf(host, COMPUTE_RESOURCES))
    engine = engines.get_engine(cloud.urls["main"])

    def reported():
        with engine.connect() as connection:
            return connection.scalar(sa.select(sa.func.count()).select_from(
                main_models.ComputeNode).where(main_models.ComputeNode.deleted == 0)) == computes

    wait_until(reported, 120 + 3 * computes, f"not all {computes} computes reported",
               cloud.daemons)
    discovered = cli.manage(controller, "cell_v2", "discover_hosts")
    if discovered.returncode:
        raise RuntimeError(f"nova-manage cell_v2 discover_hosts failed: {discovered.stderr}")
    scheduler = cloud.start("nova-scheduler", controller)
    wait_until(lambda: f"Host states: {computes} compute node(s)" in scheduler.log(), 120,
               f"nova-scheduler does not see {computes} computes", [scheduler, conductor])
    wait_until(lambda: "nova-scheduler on host controller started" in scheduler.log(), 60,
               "nova-scheduler did not start", [scheduler])
    if cloud.placement is not None:
        wait_until(lambda: cloud.placement.providers_with_inventory() == computes, 120,
                   f"Placement does not have {computes} providers with inventories",
                   cloud.daemons)
        if written:
            allocate_existing_servers(cloud, written)
    return controller


# --- servers already in the cloud (--existing) --------------------------------------------

def add_existing_servers(cloud, controller, count, hosts, project):
    """``count`` ACTIVE servers written in bulk before the computes start,
    as the conductor and the computes leave them (harness/bulk_servers.py:
    instance, instance_extra, metadata, system metadata, virtual interface
    and fixed address in cell1; instance mapping and request spec in the API
    database), m1.tiny (1 vCPU, 512 MB, 1 GB), spread round-robin over
    ``hosts`` and over EXISTING_PROJECTS projects, one of them ``project``
    (the storm's). Each compute, when it starts, finds its host's instances
    in the cell database (its resource tracker counts them). Returns the
    servers written ({"instance": ...} dicts) for allocate_existing_servers."""
    import random

    started = time.monotonic()
    rng = random.Random(1)
    conf = config.new_conf()
    config.load(conf, ["--config-file", controller], prog="boot_storm", default_config_files=[])
    projects = [(project or "storm", "storm-user")] + [
        (f"{index:032x}", f"{index + 1000:032x}") for index in range(1, EXISTING_PROJECTS)]
    api = engines.get_engine(cloud.urls["api"])
    with api.begin() as connection:
        cell_id = connection.scalar(sa.select(api_models.CellMapping.id).where(
            api_models.CellMapping.uuid != cells.CELL0_UUID))  # cell1, the only other
        tiny = bulk_servers.add_flavors(connection)[0]
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    servers = []
    for index in range(count):
        owner, user = projects[index % len(projects)]
        created = now - datetime.timedelta(minutes=rng.randint(10, 60 * 24 * 60))
        servers.append(bulk_servers.server(index, tiny, owner, user, created, "active", 1,
                                           hosts[index % len(hosts)], rng))
    bulk_servers.write_cell(conf, cloud.urls["main"], servers, with_network=True, rng=rng)
    with api.begin() as connection:
        bulk_servers.write_api_rows(connection, {cell_id: servers})
    log(f"{count} existing servers written over {len(hosts)} hosts and {len(projects)} "
        f"projects in {time.monotonic() - started:.1f} s")
    return servers


def allocate_existing_servers(cloud, servers, batch=500):
    """The existing servers' allocations in Placement, against their
    computes' resource providers (POST /allocations, ``batch`` consumers a
    request), as the builds that made them left them."""
    import requests

    started = time.monotonic()
    table = main_models.ComputeNode.__table__
    with engines.get_engine(cloud.urls["main"]).connect() as connection:
        providers = dict(connection.execute(
            sa.select(table.c.host, table.c.uuid).where(table.c.deleted == 0)).all())
    token = cloud.keystone.token("admin", ADMIN_PASSWORD, "admin")
    for first in range(0, len(servers), batch):
        body = {}
        for server in servers[first:first + batch]:
            instance = server["instance"]
            body[instance["uuid"]] = {
                "allocations": {providers[instance["host"]]: {"resources": {
                    "VCPU": instance["vcpus"], "MEMORY_MB": instance["memory_mb"],
                    "DISK_GB": instance["root_gb"]}}},
                "project_id": instance["project_id"], "user_id": instance["user_id"],
                "consumer_generation": None}
        response = requests.post(f"{cloud.placement.url}/allocations", json=body, timeout=120,
                                 headers={"X-Auth-Token": token,
                                          "OpenStack-API-Version": "placement 1.28"})
        if response.status_code != 204:
            raise RuntimeError(f"POST /allocations: {response.status_code} "
                               f"{response.text[:500]}")
    log(f"{len(servers)} existing servers' allocations written to Placement in "
        f"{time.monotonic() - started:.1f} s")


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


def spread(url, uuids):
    """{host: servers} of ``uuids`` (None: of every server in the cell)."""
    table = main_models.Instance.__table__
    with engines.get_engine(url).connect() as connection:
        hosts = [host for uuid, host in connection.execute(
            sa.select(table.c.uuid, table.c.host).where(table.c.deleted == 0))
            if host and (uuids is None or uuid in uuids)]
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


def run_in_process(args):
    with contextlib.ExitStack() as stack:
        started = time.monotonic()
        cloud = Cloud(args, stack)
        controller = bring_up(cloud, args.computes, args.conductors, extra=NO_QUOTA,
                              existing=args.existing, project="storm")
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
            "servers": args.servers, "existing": args.existing, "computes": args.computes,
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


# --- through the front door: HTTP clients, nova_runtime and upstream Nova ---------------

def http_storm(cloud, groups, api_url, args, label):
    """The storm against ``api_url`` (one side); its figures."""
    keystone = cloud.keystone
    admin = keystone.token("admin", ADMIN_PASSWORD, "admin")
    flavor = storm_http.prepare(api_url, admin, keystone.ids["demo"])
    tokens = [keystone.token("demo-member", DEMO_PASSWORD, "demo") for _ in range(args.threads)]
    meter = CpuMeter(groups)
    meter.start()
    time.sleep(IDLE_SECONDS)
    idle = {name: round(seconds / IDLE_SECONDS, 3) for name, seconds in meter.stop().items()}
    log(f"[{label}] storm: {args.servers} servers from {args.threads} client threads "
        f"(POST /servers, then GET every {storm_http.POLL_INTERVAL} s)")
    meter.start()
    with cloud.query_log():
        records, began = storm_http.storm(api_url, tokens, flavor, cloud.glance.images["cirros"],
                                          args.servers, args.timeout, prefix=label)
        cpu = meter.stop()
    figures = storm_http.summarize(records, began)
    cloud.storm_ids = {record["id"] for record in records if record.get("id")}
    figures["cpu_s"] = cpu
    figures["cpu_ms_per_server"] = storm_http.per_server_ms(cpu, figures["active"])
    figures["cpu_ms_per_server_total"] = round(sum(
        value for name, value in figures["cpu_ms_per_server"].items() if name != "client"), 1)
    figures["idle_cpu_s_per_s"] = idle
    faults = {}
    for record in records:
        if record.get("fault") or record.get("error"):
            message = record.get("fault") or record["error"]
            faults[message] = faults.get(message, 0) + 1
    if faults:
        figures["faults"] = faults
    if cloud.placement is not None:
        usages = cloud.placement.get(f"/usages?project_id={keystone.ids['demo']}")["usages"]
        figures["placement_vcpu_allocated"] = usages.get("VCPU", 0)
    for message, count in faults.items():
        log(f"[{label}] {count} server(s): {message}")
    log(f"[{label}] {figures['active']} of {args.servers} servers ACTIVE in "
        f"{figures['elapsed_s']} s ({figures['servers_per_s']} servers/s); time to ACTIVE "
        f"p50 {figures['time_to_active_p50_s']} s, p90 {figures['time_to_active_p90_s']} s; "
        f"{figures['error']} in ERROR, {figures['build']} still in BUILD, "
        f"{figures['request_errors']} requests refused; POST p50 {figures['post_p50_ms']} ms")
    log(f"[{label}] CPU ms per server: " + ", ".join(
        f"{name} {ms}" for name, ms in figures["cpu_ms_per_server"].items())
        + f" (all but the client: {figures['cpu_ms_per_server_total']})")
    return figures


def run_http(args):
    results, pythons = {}, {}
    with contextlib.ExitStack() as stack:
        started = time.monotonic()
        cloud = Cloud(args, stack)
        log(f"Shared servers up (MariaDB, RabbitMQ, Keystone, memcached, "
            f"{'Placement, ' if cloud.placement else ''}Glance) after "
            f"{time.monotonic() - started:.0f} s")
        pythons["nova_runtime"] = interpreter(cli.BIN)
        log(f"nova_runtime's daemons run on {pythons['nova_runtime']}")
        if not os.path.realpath(os.path.join(cli.BIN, "python3")).startswith("/usr/bin/"):
            log("WARNING: not Debian's /usr/bin/python3, which the deployment runs on")
        started = time.monotonic()
        bring_up(cloud, args.computes, args.conductors, existing=args.existing,
                 project=cloud.keystone.ids["demo"])
        api_url = cloud.start_api()
        ready = time.monotonic() - started
        log(f"[nova_runtime] {args.computes} computes, conductor, scheduler and nova-api up "
            f"after {ready:.0f} s")
        results["nova_runtime"] = http_storm(cloud, cloud.process_groups(), api_url, args,
                                             "nova_runtime")
        results["nova_runtime"]["startup_s"] = round(ready, 1)
        results["nova_runtime"]["spread"] = _spread_summary(
            spread(cloud.urls["main"], cloud.storm_ids))
        if args.against == "upstream":
            from bench.upstream_nova import UpstreamNova

            cloud.stop_daemons()
            if cloud.placement is not None:  # what one side leaves is not the other's to scan
                cloud.placement.delete_providers(lambda name: name.startswith("c"))
            started = time.monotonic()
            nova = UpstreamNova(cloud, args.computes, args.conductors, stack)
            pythons["upstream"] = interpreter(nova.bin)
            log(f"upstream Nova's daemons run on {pythons['upstream']}")
            api_url = nova.start()
            ready = time.monotonic() - started
            log(f"[upstream] {args.computes} computes, conductor, scheduler and nova-api up "
                f"after {ready:.0f} s; Neutron: a local stand-in answering empty lists")
            results["upstream"] = http_storm(cloud, nova.process_groups(), api_url, args,
                                             "upstream")
            results["upstream"]["startup_s"] = round(ready, 1)
            results["upstream"]["spread"] = _spread_summary(spread(nova.urls["main"], None))
            nova.stop()
            if cloud.placement is not None:
                cloud.placement.delete_providers(lambda name: name.startswith("u"))
    ours = results["nova_runtime"]
    figures = {
        "mode": "http", "servers": args.servers, "existing": args.existing,
        "computes": args.computes,
        "conductors": args.conductors, "client_threads": args.threads,
        "poll_s": storm_http.POLL_INTERVAL, "microversion": storm_http.MICROVERSION,
        "placement": not args.no_placement, "python": pythons, **results,
    }
    met = (ours["servers_per_s"] >= TARGET_RATE and not ours["build"] and not ours["error"]
           and not ours["request_errors"])
    if "upstream" in results:
        theirs = results["upstream"]
        figures["neutron"] = ("upstream side only: a local stand-in answering every GET with "
                              "an empty list (bench/storm_http.py NEUTRON_STUB)")
        figures["ratio"] = {
            "servers_per_s": storm_http.ratio(ours["servers_per_s"], theirs["servers_per_s"]),
            "time_to_active_p50": storm_http.ratio(theirs["time_to_active_p50_s"],
                                                   ours["time_to_active_p50_s"]),
            "cpu_per_server": storm_http.ratio(theirs["cpu_ms_per_server_total"],
                                               ours["cpu_ms_per_server_total"]),
        }
        log(f"nova_runtime {ours['servers_per_s']} servers/s, upstream Nova "
            f"{theirs['servers_per_s']} servers/s: {figures['ratio']['servers_per_s']}x; "
            f"time to ACTIVE p50 {ours['time_to_active_p50_s']} s vs "
            f"{theirs['time_to_active_p50_s']} s; CPU per server "
            f"{ours['cpu_ms_per_server_total']} ms vs {theirs['cpu_ms_per_server_total']} ms")
        met = met and (figures["ratio"]["servers_per_s"] or 0) >= TARGET_RATIO
    print(json.dumps(figures))
    return 0 if met else 1


def _spread_summary(per_host):
    return {"hosts_used": len(per_host), "max_per_host": max(per_host.values(), default=0),
            "min_per_host": min(per_host.values(), default=0)}


def _rounded(value):
    return None if value is None else round(value, 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", type=int, default=500)
    parser.add_argument("--existing", type=int, default=0, metavar="N",
                        help="N ACTIVE servers already in the cloud before the storm "
                             "(written in bulk, with their allocations in Placement)")
    parser.add_argument("--query-log", type=int, default=0, metavar="K",
                        help="log every MariaDB statement during the storm and print the K "
                             "that examined the most rows (costs MariaDB CPU: for finding "
                             "what grows, not for the figures)")
    parser.add_argument("--computes", type=int, default=50)
    parser.add_argument("--conductors", type=int, default=2,
                        help="nova-conductor's [conductor] workers (default 2: one per core, "
                             "nova-conductor's own default)")
    parser.add_argument("--threads", type=int, default=None,
                        help="client threads (default 32 over HTTP, 8 --in-process)")
    parser.add_argument("--per-request", type=int, default=1,
                        help="--in-process only: servers per create request (max_count; "
                             "default 1)")
    parser.add_argument("--in-process", action="store_true",
                        help="the old storm: compute_api.API.create_servers called in this "
                             "process (no HTTP, Keystone, policy, schemas, Glance, quota)")
    parser.add_argument("--against", choices=["upstream"],
                        help="then the same HTTP storm against upstream Nova 34 from PyPI "
                             "on the same servers; prints both and their ratio")
    parser.add_argument("--no-placement", action="store_true",
                        help="run without Placement (--in-process: no Keystone either)")
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds to wait, after the last request, for every server")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (configs and daemon logs)")
    args = parser.parse_args()
    # A SIGTERM (timeout, CI) still stops the daemons and servers started here.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))
    if args.threads is None:
        args.threads = 8 if args.in_process else 32
    for name in ("servers", "computes", "conductors", "threads", "per_request"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.existing < 0:
        parser.error("--existing must be at least 0")
    if args.existing and args.against:
        parser.error("--existing is for nova_runtime's storm alone (not with --against)")
    if args.existing and args.no_placement:
        parser.error("--existing writes the servers' allocations: it needs Placement")
    if args.in_process and args.against:
        parser.error("--against runs the HTTP storm; it does not go with --in-process")
    if args.against and args.no_placement:
        parser.error("--against upstream needs Placement (upstream Nova cannot run without)")
    if not args.in_process and args.per_request != 1:
        parser.error("--per-request is for --in-process (clients send one server per POST)")
    return run_in_process(args) if args.in_process else run_http(args)


if __name__ == "__main__":
    sys.exit(main())
