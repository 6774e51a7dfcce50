"""Benchmark of GET /v2.1/servers/detail over 1,000 servers, on real parts.

    python bench/api.py [--servers 1000] [--requests 50] [--warmup 5]
                        [--microversion 2.1 --microversion latest] [--profile N]
                        [--against upstream [--upstream-requests 20]] [--dump DIR]

Starts what a controller runs, each as its own process as in the functional
tests: a private MariaDB (harness/mariadb.py), the real upstream Keystone under
uwsgi (harness/keystone.py, harness/upstream.py), memcached for auth_token's
token cache (harness/memcached.py), and nova-api (cheroot) with keystonemiddleware validating every token
against that Keystone. The databases are made with nova-manage (api_db sync,
map_cell0, create_cell, db sync), 20 compute services are registered in cell1
and mapped with discover_hosts.

Then N servers are written in bulk, as the conductor and the computes leave
them (no API calls): each instance in its cell database with its
instance_extra (flavor JSON, network_info of the flat network), user metadata,
system metadata (image properties), a virtual interface and an allocated
fixed address; its instance mapping and request spec in the API database.
Most are ACTIVE in cell1 over 20 hosts and two projects; a few are SHUTOFF or
PAUSED, 1% are in ERROR in cell1 and 2% in ERROR in cell0 (no valid host),
each of those with an instance fault.

Measured: R requests (after W warm-up ones) of
GET /v2.1/servers/detail?all_tenants=1 as the admin, on one keep-alive
connection with one token reused, as a client does; no ``limit`` is sent, so
the page size is nova-api's default, [api] max_limit (1000, upstream's
default), and every response must hold min(N, 1000) servers. Each
microversion given is measured in turn (default: 2.1, and the highest that
nova-api serves, which openstacksdk asks for).

Prints a few readable lines, then the figures as JSON on its last line: per
microversion p50/p90/min/max/mean latency in ms (client side, until the
whole body is read), servers per response, body size, and the CPU time that
nova-api and MariaDB spent per request (other work on a shared machine
inflates it far less than latency); the top-level p50_ms is the worst
microversion's. Target on the 2-core machines: p50 <= 100 ms.

With ``--against upstream``, after nova_runtime's measurement (its nova-api
stopped), the same servers are served by upstream Nova 34's nova-api (PyPI,
harness/upstream.py's cached virtualenv; bench/upstream_nova.py) on the same
MariaDB, Keystone and memcached: its own databases (up_nova_api, up_nova,
up_nova_cell0) made by its own nova-manage, then the same servers (UUIDs,
names, projects, states, flavors, images, metadata, addresses, faults,
cells) written by upstream's own objects (Instance.create with the flavor,
info_cache and metadata, a root BDM, the fault, InstanceMapping,
RequestSpec), run by upstream's interpreter; the same 20 compute services.
nova-api runs under uwsgi as bench/upstream_nova.py runs it; it asks Neutron
for ports and security groups, which a local stand-in answers with empty
lists (so upstream's servers show no security_groups). Measured at 2.1, the
highest microversion nova_runtime serves (the highest both serve) and
upstream's highest, R' requests each (--upstream-requests: each takes
seconds there). Both sides must show the same servers (ids and statuses).
Prints both sides' p50/p90 and upstream p50 / nova_runtime p50 per shared
microversion; target: >= 10x at each.

Which Python runs each side's nova-api is printed (sys.executable and its
realpath, the process's executable; uwsgi: the libpython it embeds): the
deployment runs its daemons on Debian's /usr/bin/python3, and so should the
benchmark (the .venv made from it), or its figures are not the deployment's.
The exit status is 1 when a target is missed.

--profile N runs N more requests through the same WSGI stack inside this
process (same nova.conf, same Keystone and memcached) under cProfile and
prints the functions that take the most time, to find hot spots.
"""

import argparse
import collections
import contextlib
import cProfile
import datetime
import hashlib
import io
import json
import os
import pathlib
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import requests
import sqlalchemy as sa
import webob

# The repository's root: the harness package (harness/).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nova_runtime import cells, config  # noqa: E402
from nova_runtime.api import app  # noqa: E402
from nova_runtime.db.api import models as api_models  # noqa: E402
from nova_runtime.db.main import models as cell_models  # noqa: E402
from bench import upstream_nova  # noqa: E402
from harness import cli, nova_conf  # noqa: E402
from harness import bulk_servers  # noqa: E402
from harness.databases import nova_databases  # noqa: E402
from harness.keystone import NOVA_PASSWORD, Keystone  # noqa: E402
from harness.mariadb import MariaDB  # noqa: E402
from harness.measure import CpuMeter, percentile  # noqa: E402
from harness.memcached import start_memcached  # noqa: E402
from harness.processes import free_port, stop, wait_for_http  # noqa: E402

TARGET_P50_MS = 100
HOSTS = [f"compute{i:02d}" for i in range(1, 21)]
TARGET_RATIO = 10  # upstream p50 / ours, with --against upstream
DEBIAN_PYTHON = "/usr/bin/python3"  # what the deployment runs the daemons on


# --- the parts: MariaDB, Keystone, memcached, databases, nova-api ------------------------

def write_conf(workdir, urls, keystone, memcached, port):
    cache = {"memcached_servers": memcached} if memcached else {}
    return nova_conf.write(pathlib.Path(workdir, "nova.conf"), {
        "DEFAULT": {"transport_url": nova_conf.TRANSPORT_URL, "enabled_apis": "osapi_compute",
                    "osapi_compute_listen": "127.0.0.1", "osapi_compute_listen_port": port,
                    "fixed_range": "10.0.0.0/18"},  # room for every server's fixed address (16,381)
        "api_database": {"connection": urls["api"]},
        "database": {"connection": urls["main"]},
        "keystone_authtoken": dict(keystone.authtoken("nova", NOVA_PASSWORD), **cache)})


def add_computes(cell_url):
    """The services and compute nodes that 20 nova-computes write when they start."""
    engine = sa.create_engine(cell_url)
    now = sa.func.utc_timestamp()
    with engine.begin() as connection:
        for host in HOSTS:
            service_id = connection.execute(sa.insert(cell_models.Service).values(
                uuid=str(uuid.uuid4()), host=host, binary="nova-compute", topic="compute",
                report_count=1, last_seen_up=now, created_at=now, updated_at=now,
                disabled=host == HOSTS[-1])).inserted_primary_key[0]
            connection.execute(sa.insert(cell_models.ComputeNode).values(
                uuid=str(uuid.uuid4()), service_id=service_id, host=host,
                hypervisor_hostname=host, hypervisor_type="QEMU", hypervisor_version=7002000,
                cpu_info="{}", host_ip="127.0.0.1", vcpus=64, memory_mb=262144, local_gb=2000,
                vcpus_used=0, memory_mb_used=512, local_gb_used=0, free_ram_mb=261632,
                free_disk_gb=2000, running_vms=0, current_workload=0,
                disk_available_least=2000))
    engine.dispose()


def start_api(conf_path, workdir, port):
    log = os.path.join(workdir, "nova-api.log")
    with open(log, "ab") as handle:
        process = subprocess.Popen(
            [os.path.join(cli.BIN, "nova-api"), "--config-file", str(conf_path)],
            stdout=handle, stderr=subprocess.STDOUT)
    wait_for_http(f"http://127.0.0.1:{port}/v2.1", process, log)
    return process, log


# --- N servers, written in bulk ----------------------------------------------------------

def populate(conf, urls, projects, count, rng):
    """Write ``count`` servers as build, the conductor and the computes leave
    them; returns {"cell1": n, "cell0": n, "seconds": s}."""
    started = time.monotonic()
    api = sa.create_engine(urls["api"])
    with api.begin() as connection:
        cell_ids = dict(connection.execute(sa.select(
            api_models.CellMapping.uuid, api_models.CellMapping.id)).all())
        flavors = bulk_servers.add_flavors(connection)
    cell0_count = count * 2 // 100
    error_count = count // 100
    servers = []
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    for index in range(count):
        in_cell0 = index < cell0_count
        flavor = rng.choice(flavors)
        project, user = rng.choice(projects)
        created = now - datetime.timedelta(minutes=rng.randint(10, 60 * 24 * 60))
        if in_cell0 or index < cell0_count + error_count:
            vm_state, power = "error", 0
        else:
            vm_state = rng.choices(["active", "stopped", "paused"], [90, 8, 2])[0]
            power = {"active": 1, "stopped": 4, "paused": 3}[vm_state]
        servers.append(bulk_servers.server(index, flavor, project, user, created, vm_state,
                                           power, None if in_cell0 else rng.choice(HOSTS), rng))
    by_cell = {cells.CELL0_UUID: servers[:cell0_count]}
    cell1_uuid = next(uuid for uuid in cell_ids if uuid != cells.CELL0_UUID)
    by_cell[cell1_uuid] = servers[cell0_count:]
    cell_urls = {cells.CELL0_UUID: urls["cell0"], cell1_uuid: urls["main"]}
    for cell_uuid, members in by_cell.items():
        bulk_servers.write_cell(conf, cell_urls[cell_uuid], members,
                                with_network=cell_uuid == cell1_uuid, rng=rng)
    with api.begin() as connection:
        bulk_servers.write_api_rows(connection, {
            cell_ids[cell_uuid]: members for cell_uuid, members in by_cell.items()})
    api.dispose()
    for cell_uuid, members in by_cell.items():
        for server in members:
            server["cell"] = "cell0" if cell_uuid == cells.CELL0_UUID else "cell1"
    return {"cell1": len(by_cell[cell1_uuid]), "cell0": cell0_count,
            "seconds": round(time.monotonic() - started, 1), "servers": servers}


# --- measuring ---------------------------------------------------------------------------

def measure(url, token, microversion, requests_, warmup, expected, pids, dump=None):
    """Latencies (ms) of GET /servers/detail on one keep-alive session, and
    the CPU time that nova-api and MariaDB spent per request (``pids``: their
    process ids, each counted with its children): on a machine shared with
    other work, latencies include waiting for a core, CPU time does not.
    ``dump``: a file name ({version}: the microversion) to write the last
    response's body to."""
    session = requests.Session()
    session.headers.update({"X-Auth-Token": token, "Accept": "application/json",
                            "OpenStack-API-Version": f"compute {microversion}"})
    target = f"{url}/servers/detail?all_tenants=1"
    latencies, sizes, version, meter = [], [], None, None
    for index in range(warmup + requests_):
        if index == warmup:
            meter = CpuMeter({name: [pid] for name, pid in pids.items()}, alone=())
            meter.start()
        start = time.perf_counter()
        response = session.get(target, timeout=300)
        body = response.content
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise SystemExit(f"GET {target}: {response.status_code} {body[:500]!r}")
        version = response.headers.get("OpenStack-API-Version", "").split()[-1]
        servers = json.loads(body)["servers"]
        if len(servers) != expected:
            raise SystemExit(f"GET {target} returned {len(servers)} servers, expected {expected}")
        if index >= warmup:
            latencies.append(elapsed)
            sizes.append(len(body))
    cpu = {name: seconds * 1000 / requests_ for name, seconds in meter.stop().items()}
    session.close()
    if dump:
        with open(dump.format(version=version), "wb") as handle:
            handle.write(body)
    ids = "\n".join(sorted(server["id"] for server in servers)).encode()
    return {
        "microversion": version,
        "requests": requests_,
        "servers_per_response": expected,
        "statuses": dict(sorted(collections.Counter(s["status"] for s in servers).items())),
        "ids_sha1": hashlib.sha1(ids).hexdigest()[:12],
        "p50_ms": round(statistics.median(latencies), 1),
        "p90_ms": round(percentile(latencies, 0.9), 1),
        "min_ms": round(min(latencies), 1),
        "max_ms": round(max(latencies), 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
        "body_kb": round(statistics.fmean(sizes) / 1024, 1),
        **{f"{name}_cpu_ms": round(value, 1) for name, value in cpu.items()},
    }


def max_microversion(url):
    """The highest microversion that the Compute API at ``url`` (its /v2.1) serves."""
    response = requests.get(url, timeout=60)
    response.raise_for_status()
    return response.json()["version"]["version"]


def version_key(microversion):
    major, minor = microversion.split(".")
    return int(major), int(minor)


def print_run(side, run):
    print(f"{side}: GET /servers/detail, microversion {run['microversion']}: "
          f"{run['servers_per_response']} servers ({_statuses(run)}), {run['body_kb']} KiB; "
          f"p50 {run['p50_ms']} ms, p90 {run['p90_ms']} ms, max {run['max_ms']} ms "
          f"({run['requests']} requests); CPU per request: " + ", ".join(
              f"{name.removesuffix('_cpu_ms')} {value} ms" for name, value in run.items()
              if name.endswith("_cpu_ms")), flush=True)


def _cpu(run):
    return run["nova_api_cpu_ms"] + run["mariadb_cpu_ms"]


def _statuses(run):
    return ", ".join(f"{count} {status}" for status, count in run["statuses"].items())


def our_interpreter(process):
    """Which Python runs nova_runtime's nova-api (``process``): the console
    script's interpreter (its #! line), its sys.executable and realpath,
    and the running process's executable (from /proc)."""
    script = os.path.join(cli.BIN, "nova-api")
    with open(script) as handle:
        shebang = handle.readline()[2:].strip().split()[0]
    executable = subprocess.run([shebang, "-c", "import sys; print(sys.executable)"],
                                capture_output=True, text=True, check=True).stdout.strip()
    return {"process": os.path.realpath(f"/proc/{process.pid}/exe"),
            "sys_executable": executable, "realpath": os.path.realpath(executable)}


def is_debian_python(interpreter):
    """Whether ``interpreter`` (our_interpreter / upstream_nova.interpreter)
    is Debian's /usr/bin/python3 (uwsgi: the libpython it embeds is Debian's)."""
    debian = os.path.realpath(DEBIAN_PYTHON)
    if interpreter.get("libpython") is not None:
        return (interpreter["realpath"] == debian
                and interpreter["libpython"].startswith("/usr/lib/"))
    return interpreter["realpath"] == debian and interpreter["process"] == debian


def describe_interpreter(side, interpreter):
    where = (f"uwsgi {interpreter['process']} embedding {interpreter['libpython']}; "
             if interpreter.get("libpython") is not None else
             f"process {interpreter['process']}; ")
    debian = "Debian's python3" if is_debian_python(interpreter) else \
        f"NOT Debian's {DEBIAN_PYTHON}"
    print(f"{side} nova-api runs on: {where}sys.executable {interpreter['sys_executable']} "
          f"-> {interpreter['realpath']} ({debian})")


# --- the same servers on upstream Nova -------------------------------------------------

def upstream_servers(servers, hosts_disabled):
    """bench/upstream_nova.py WRITE_SERVERS's input: the flavors, the compute
    hosts and every server as written here (same UUIDs, names, projects,
    states, flavors, images, metadata, addresses, faults and cells)."""
    def iso(value):
        return value.isoformat() if isinstance(value, datetime.datetime) else value

    fields = ("uuid", "display_name", "display_description", "hostname", "project_id",
              "user_id", "image_ref", "key_name", "key_data", "availability_zone", "vm_state",
              "power_state", "reservation_id", "host", "os_type", "launched_at", "created_at",
              "updated_at")
    return {
        "flavors": [{"flavorid": f[0], "name": f[1], "memory_mb": f[2], "vcpus": f[3],
                     "root_gb": f[4], "extra_specs": f[5]} for f in bulk_servers.FLAVORS],
        "hosts": [{"name": host, "disabled": host in hosts_disabled} for host in HOSTS],
        "servers": [{
            "cell": s["cell"], "flavorid": s["flavor"]["flavorid"],
            "instance": {key: iso(s["instance"][key]) for key in fields},
            "metadata": s["metadata"], "system_metadata": s["system_metadata"],
            "network_info": s["network_info"],
            "fault": ({"code": 500, "message": bulk_servers.FAULT_MESSAGE,
                       "details": bulk_servers.FAULT_DETAILS}
                      if s["instance"]["vm_state"] == "error" else None),
        } for s in servers]}


def run_upstream(stack, workdir, mariadb, keystone, memcached_server, servers, microversions,
                 requests_, warmup, expected, dump):
    """The same servers on upstream Nova 34's nova-api; (runs by microversion,
    interpreter, how the servers were written)."""
    parts = upstream_nova.APIParts(workdir, mariadb, keystone, memcached_server, free_port())
    nova = upstream_nova.UpstreamNova(parts, computes=0, conductors=1, stack=stack)
    started = time.monotonic()
    conf_path = upstream_nova.make_cells(nova)
    cells_s = time.monotonic() - started
    servers_file = os.path.join(workdir, "upstream-servers.json")
    with open(servers_file, "w") as handle:
        json.dump(upstream_servers(servers, {HOSTS[-1]}), handle)  # as add_computes
    written = upstream_nova.write_servers(nova, conf_path, servers_file)
    url = upstream_nova.start_api(nova)
    interpreter = upstream_nova.interpreter(nova)
    print(f"upstream Nova 34 ({nova.venv}): databases made by its nova-manage in "
          f"{cells_s:.0f} s; the same {len(servers)} servers written with its own objects "
          f"(Instance.create, BlockDeviceMapping, InstanceFault, InstanceMapping, RequestSpec) "
          f"in {written['seconds']} s (cell1 {written['cell1']}, cell0 {written['cell0']}); "
          f"nova-api under uwsgi (2 processes x 4 threads); Neutron: a local stand-in "
          f"answering empty lists (no ports, no security groups)", flush=True)
    describe_interpreter("upstream", interpreter)
    token = keystone.token()
    runs = {}
    for microversion in microversions:
        run = measure(url, token, microversion, requests_, warmup, expected,
                      {"nova_api": nova.api_process.pid, "mariadb": mariadb.process.pid,
                       "keystone": keystone.process.pid, "neutron_stub": nova.neutron.pid},
                      dump and os.path.join(dump, "upstream-{version}.json"))
        runs[run["microversion"]] = run
        print_run("upstream", run)
    return runs, interpreter, written


def profile(conf_path, url, token, microversion, count, expected):
    """``count`` requests through the WSGI stack in this process, under cProfile."""
    conf = config.new_conf()
    config.load(conf, ["--config-file", str(conf_path)], prog="nova-api",
                default_config_files=[])
    application = app.build(conf)
    headers = {"X-Auth-Token": token, "OpenStack-API-Version": f"compute {microversion}"}
    base = url.rsplit("/v2.1", 1)[0]

    def get():
        request = webob.Request.blank("/v2.1/servers/detail?all_tenants=1", base_url=base,
                                      headers=headers)
        response = request.get_response(application)
        assert response.status_int == 200, response.text[:500]
        assert len(json.loads(response.body)["servers"]) == expected
    get()  # warm-up: token cache, engines, policy
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        get()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(35)
    stats.sort_stats("tottime").print_stats(25)
    print(out.getvalue())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--microversion", action="append", metavar="V",
                        help="microversion(s) to measure (repeat; default: 2.1 and latest; "
                             "with --against upstream also the highest both serve)")
    parser.add_argument("--against", choices=["upstream"],
                        help="then the same servers on upstream Nova 34's nova-api")
    parser.add_argument("--upstream-requests", type=int, default=20, metavar="R",
                        help="requests per microversion on upstream (default 20: each "
                             "takes seconds there)")
    parser.add_argument("--upstream-warmup", type=int, default=4, metavar="W",
                        help="warm-up requests on upstream (default 4: both uwsgi workers)")
    parser.add_argument("--dump", metavar="DIR",
                        help="write each side's last response body per microversion to DIR")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="then profile N requests in-process with cProfile")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.servers < 1 or args.requests < 1 or args.upstream_requests < 1:
        parser.error("--servers and --requests must be at least 1")
    microversions = args.microversion or ["2.1", "latest"]
    rng = random.Random(args.seed)
    upstream_runs = None

    with contextlib.ExitStack() as stack:
        workdir = tempfile.mkdtemp(prefix="nova-runtime-bench-api-")
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        started = time.monotonic()
        mariadb = MariaDB().start()
        stack.callback(mariadb.stop)
        keystone = Keystone(workdir).start()
        stack.callback(keystone.stop)
        memcached, memcached_server = start_memcached(workdir)
        if memcached is not None:
            stack.callback(stop, memcached)
        urls = stack.enter_context(nova_databases(mariadb, ""))
        port = free_port()
        conf_path = write_conf(workdir, urls, keystone, memcached_server, port)
        cli.setup_cells(conf_path)
        add_computes(urls["main"])
        discovered = cli.manage(conf_path, "cell_v2", "discover_hosts")
        if discovered.returncode:
            raise SystemExit(f"discover_hosts failed: {discovered.stderr}")
        setup_s = time.monotonic() - started

        conf = config.new_conf()
        config.load(conf, ["--config-file", str(conf_path)], prog="bench",
                    default_config_files=[])
        projects = [(keystone.ids["admin-project"], "admin"),
                    (keystone.ids["demo"], keystone.ids["demo-member"])]
        populated = populate(conf, urls, projects, args.servers, rng)

        process, log = start_api(conf_path, workdir, port)
        stack.callback(stop, process)
        url = f"http://127.0.0.1:{port}/v2.1"
        token = keystone.token()
        expected = min(args.servers, conf.api.max_limit)
        print(f"{args.servers} servers written in bulk in {populated['seconds']} s "
              f"(cell1 {populated['cell1']}, cell0 {populated['cell0']}); parts up in "
              f"{setup_s:.0f} s; token cache: {memcached_server or 'in-process (no memcached)'}",
              flush=True)
        interpreters = {"nova_runtime": our_interpreter(process)}
        describe_interpreter("nova_runtime", interpreters["nova_runtime"])
        our_max = max_microversion(url)
        runs = {}
        for microversion in microversions:
            run = measure(url, token, microversion, args.requests, args.warmup, expected,
                          {"nova_api": process.pid, "mariadb": mariadb.process.pid,
                           "keystone": keystone.process.pid},
                          args.dump and os.path.join(args.dump, "nova_runtime-{version}.json"))
            runs[run["microversion"]] = run
            print_run("nova_runtime", run)
        if args.profile:
            profile(conf_path, url, token, microversions[-1], args.profile, expected)
        stop(process)  # its CPU and memory are not upstream's to share

        if args.against == "upstream":
            # Each side's highest and the highest both serve (upstream 34
            # serves more than nova_runtime: its latest is not ours).
            upstream_versions = list(microversions)
            if args.microversion is None:
                upstream_versions.insert(1, our_max)
            upstream_runs, interpreters["upstream"], written = run_upstream(
                stack, workdir, mariadb, keystone, memcached_server, populated["servers"],
                upstream_versions, args.upstream_requests, args.upstream_warmup, expected,
                args.dump)

    worst = max(runs.values(), key=lambda run: run["p50_ms"])
    met = worst["p50_ms"] <= TARGET_P50_MS
    figures = {
        "servers": args.servers,
        "servers_per_response": expected,
        "limit": f"none sent: [api] max_limit = {conf.api.max_limit}",
        "requests": args.requests,
        "warmup": args.warmup,
        "p50_ms": worst["p50_ms"],
        "p90_ms": worst["p90_ms"],
        "max_ms": worst["max_ms"],
        "target_p50_ms": TARGET_P50_MS,
        "by_microversion": runs,
        "populate_s": populated["seconds"],
        "token_cache": "memcached" if memcached_server else "in-process",
        "python": sys.version.split()[0],
        "interpreters": interpreters,
        "debian_python": {side: is_debian_python(i) for side, i in interpreters.items()},
    }
    if upstream_runs is not None:
        ratios = {version: round(upstream_runs[version]["p50_ms"] / run["p50_ms"], 1)
                  for version, run in runs.items() if version in upstream_runs}
        alike = all(upstream_runs[version]["ids_sha1"] == run["ids_sha1"]
                    and upstream_runs[version]["statuses"] == run["statuses"]
                    for version, run in runs.items() if version in upstream_runs)
        print(f"both sides showed {'the same' if alike else 'DIFFERENT'} {expected} servers "
              "(ids and statuses)")
        # CPU per request (nova-api + MariaDB): what other work on a shared
        # machine inflates far less than latency; shown, not a target.
        cpu_ratios = {version: round(_cpu(upstream_runs[version]) / _cpu(run), 1)
                      for version, run in runs.items()
                      if version in upstream_runs and _cpu(run)}
        for version, ratio in ratios.items():
            print(f"microversion {version}: upstream p50 {upstream_runs[version]['p50_ms']} ms "
                  f"/ nova_runtime p50 {runs[version]['p50_ms']} ms = {ratio}x "
                  f"(target >= {TARGET_RATIO}x); CPU per request (nova-api + MariaDB) "
                  f"{_cpu(upstream_runs[version]):.0f} / {_cpu(runs[version]):.0f} ms = "
                  f"{cpu_ratios.get(version)}x")
        met = met and alike and bool(ratios) and min(ratios.values()) >= TARGET_RATIO
        figures.update({
            "upstream": {"nova": "34 (PyPI)", "requests": args.upstream_requests,
                         "warmup": args.upstream_warmup, "servers_written_s": written["seconds"],
                         "servers": "the same servers (UUIDs, names, states, flavors, images, "
                                    "metadata, addresses, faults, cells), written with "
                                    "upstream's own objects into databases made by its "
                                    "nova-manage",
                         "neutron": "local stand-in answering empty lists",
                         "by_microversion": upstream_runs},
            "same_servers": alike,
            "ratio_p50": ratios,
            "ratio_cpu": cpu_ratios,
            "min_ratio_p50": min(ratios.values()) if ratios else None,
            "target_ratio": TARGET_RATIO,
        })
    for side, debian in figures["debian_python"].items():
        if not debian:
            print(f"WARNING: {side}'s nova-api does not run on Debian's {DEBIAN_PYTHON}, "
                  "which the deployment uses: its figures are not the deployment's")
    figures["met"] = met
    print(json.dumps(figures))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
