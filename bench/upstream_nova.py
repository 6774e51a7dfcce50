"""Upstream Nova 34.x from PyPI, on the boot storm's own servers: what
``bench/boot_storm.py --against upstream`` compares with.

The virtualenv: harness/upstream.py ``upstream_nova_venv()`` (cached under
/var/tmp, built once on the interpreter that runs the benchmark:
``nova>=34,<35``, uwsgi, PyMySQL, python-memcached under constraints.txt;
nova's requirements that constraints.txt does not pin are resolved by pip
at build time).

What runs, each its own process as upstream deploys it, on the storm's
MariaDB (databases up_nova_api, up_nova, up_nova_cell0), RabbitMQ (vhost
``upstream``), Keystone + memcached, Placement and Glance:
nova-api (nova.wsgi.osapi_compute under uwsgi: 2 processes of 4 threads,
``--lazy-apps``), one nova-conductor ([conductor] workers as nova_runtime's),
one nova-scheduler ([scheduler] workers = 1), M nova-compute with
``compute_driver = fake.FakeDriver`` (hosts u001...), cells made with
nova-manage as the install guide does. Upstream Nova asks Neutron for ports
and security groups even for ``networks: none``: a local stand-in
(bench/storm_http.py NEUTRON_STUB) answers every GET with an empty list.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import sqlalchemy as sa

from bench import storm_http
from harness import nova_conf, upstream
from harness.daemons import Daemon, stop_all
from harness.databases import nova_databases
from harness.keystone import NOVA_PASSWORD
from harness.measure import children
from harness.processes import free_port, stop, wait_for_http, wait_until

VHOST = "upstream"
DB_PREFIX = "up_"


class UpstreamNova:
    def __init__(self, cloud, computes, conductors, stack):
        """``cloud``: bench/boot_storm.py's Cloud, whose servers this uses."""
        self.cloud, self.computes, self.conductors = cloud, computes, conductors
        self.venv = upstream.upstream_nova_venv()
        self.bin = os.path.join(self.venv, "bin")
        self.workdir = os.path.join(cloud.workdir, "upstream")
        self.etc = os.path.join(self.workdir, "etc")
        os.makedirs(self.etc)
        os.makedirs(os.path.join(self.workdir, "lock"))
        self.daemons = []
        self.api_process = None
        self.urls = stack.enter_context(nova_databases(cloud.mariadb, DB_PREFIX))
        self.transport_url = cloud.rabbitmq.add_vhost(VHOST)
        self.neutron_port = free_port()
        stub = os.path.join(self.workdir, "neutron_stub.py")
        with open(stub, "w") as handle:
            handle.write(storm_http.NEUTRON_STUB)
        self.neutron = subprocess.Popen([sys.executable, stub, str(self.neutron_port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(self.stop)
        wait_for_http(f"http://127.0.0.1:{self.neutron_port}/", self.neutron,
                      "(neutron stand-in)")

    # --- nova.conf ------------------------------------------------------------------

    def write_conf(self, host, databases=True, path=None):
        """<workdir>/<host>.conf (or ``path``): the common options
        (harness/nova_conf.py) and what upstream Nova needs besides."""
        cloud = self.cloud
        authtoken = cloud.keystone.authtoken("nova", NOVA_PASSWORD)
        cache = {"memcached_servers": cloud.memcached} if cloud.memcached else {}
        state = os.path.join(self.workdir, host)
        return nova_conf.write(
            path or os.path.join(self.workdir, f"{host}.conf"), nova_conf.COMMON,
            nova_conf.host(host, self.transport_url, state), {
                "DEFAULT": {"instances_path": f"{state}/instances", "rpc_response_timeout": 60,
                            # the default 60 s makes a run's end slow
                            "graceful_shutdown_timeout": 5},
                "conductor": {"workers": self.conductors},
                "scheduler": {"workers": 1},
                "oslo_concurrency": {"lock_path": f"{self.workdir}/lock"},
                "wsgi": {"api_paste_config": f"{self.etc}/api-paste.ini"},
                "glance": {"api_servers": cloud.glance.url},
                "neutron": dict({k: v for k, v in authtoken.items()
                                 if k != "www_authenticate_uri"}, region_name="RegionOne",
                                endpoint_override=f"http://127.0.0.1:{self.neutron_port}"),
                "keystone_authtoken": dict(authtoken, **cache),
                "placement": cloud.placement.nova_options() if cloud.placement else {},
                "api_database": {"connection": self.urls["api"]} if databases else {},
                "database": {"connection": self.urls["main"]} if databases else {}})

    def manage(self, conf, *args):
        result = subprocess.run([os.path.join(self.bin, "nova-manage"), "--config-file", conf,
                                 *args], capture_output=True, text=True, timeout=600)
        if result.returncode not in (0,):
            raise RuntimeError(f"upstream nova-manage {' '.join(args)} failed "
                               f"({result.returncode}): {result.stderr[-2000:]}")
        return result.stdout

    # --- life cycle -----------------------------------------------------------------

    def start_daemon(self, binary, conf):
        log = os.path.join(self.workdir, f"{binary}-{pathlib.Path(conf).stem}.log")
        daemon = Daemon(binary, conf, log, bin_dir=self.bin)
        self.daemons.append(daemon)
        return daemon

    def start(self):
        """Cells, conductor, computes (all reported), discovery, scheduler
        (listening), Placement providers, then nova-api; returns its /v2.1 URL."""
        controller = make_cells(self)
        self.start_daemon("nova-conductor", controller)
        for index in range(1, self.computes + 1):
            self.start_daemon("nova-compute", self.write_conf(f"u{index:03d}", databases=False))
        engine = sa.create_engine(self.urls["main"])
        count = sa.text("SELECT COUNT(*) FROM compute_nodes WHERE deleted = 0")

        def reported():
            with engine.connect() as connection:
                return connection.scalar(count) == self.computes

        try:
            wait_until(reported, 180 + 4 * self.computes,
                       f"not all {self.computes} upstream computes reported", self.daemons)
        finally:
            engine.dispose()
        self.manage(controller, "cell_v2", "discover_hosts")
        self.start_daemon("nova-scheduler", controller)
        wait_until(self._listening, 180, "upstream conductor/scheduler not consuming",
                   self.daemons)
        if self.cloud.placement is not None:
            wait_until(lambda: self.cloud.placement.providers_with_inventory()
                       == self.computes, 180,
                       f"Placement does not have {self.computes} upstream providers",
                       self.daemons)
        return self._start_api()

    def _listening(self):
        queues = self.cloud.rabbitmq.ctl("list_queues", "-p", VHOST, "name", "consumers",
                                         "--quiet", "--no-table-headers").stdout
        consumers = dict(line.split() for line in queues.splitlines() if line.strip())
        return all(int(consumers.get(topic, 0)) >= 1 for topic in ("conductor", "scheduler"))

    def _start_api(self):
        shutil.copy(os.path.join(self.venv, "etc", "nova", "api-paste.ini"), self.etc)
        self.write_conf("upstream-api", path=os.path.join(self.etc, "nova.conf"))
        wsgi_file = os.path.join(self.workdir, "nova-api-wsgi.py")
        with open(wsgi_file, "w") as handle:
            handle.write("import os\n"
                         f"os.environ['OS_NOVA_CONFIG_DIR'] = {self.etc!r}\n"
                         "from nova.wsgi.osapi_compute import application  # noqa\n")
        port = free_port()
        self.api_log = os.path.join(self.workdir, "nova-api.log")
        self.api_process = upstream.start_uwsgi(self.venv, wsgi_file, port, self.api_log,
                                                self.workdir, threads=4, processes=2,
                                                extra=("--lazy-apps",))
        url = f"http://127.0.0.1:{port}/v2.1"
        wait_for_http(url, self.api_process, self.api_log, timeout=180)
        return url

    def process_groups(self):
        groups = dict(self.cloud.shared_process_groups(), **{
            "nova-api": [self.api_process.pid], "neutron-stub": [self.neutron.pid]})
        for daemon in self.daemons:
            groups.setdefault(daemon.binary, []).append(daemon.process.pid)
        return groups

    def stop(self):
        if self.api_process is not None:
            stop(self.api_process)
        stop_all(self.daemons)
        stop(self.neutron)


# --- the API alone, over servers written in bulk (bench/api.py --against upstream) ----

class APIParts:
    """What UpstreamNova reads of the boot storm's Cloud when only nova-api
    runs (bench/api.py): MariaDB, Keystone and memcached. No RabbitMQ: the
    transport URL names a closed loopback port (listing servers sends
    nothing on RPC; a call would fail at once instead of reaching another
    broker). Glance and Placement are not asked either."""

    placement = None

    def __init__(self, workdir, mariadb, keystone, memcached, closed_port):
        self.workdir, self.mariadb, self.keystone = workdir, mariadb, keystone
        self.memcached = memcached
        self.rabbitmq = _NoBroker(f"rabbit://guest:guest@127.0.0.1:{closed_port}/")
        self.glance = _NoGlance(f"http://127.0.0.1:{closed_port}")

    def shared_process_groups(self):
        return {"mariadb": [self.mariadb.process.pid]}


class _NoBroker:
    def __init__(self, url):
        self.url = url

    def add_vhost(self, vhost):
        return self.url


class _NoGlance:
    def __init__(self, url):
        self.url = url


def make_cells(nova):
    """The controller's nova.conf and upstream's databases, made by upstream's
    own nova-manage as the install guide does (api_db sync, map_cell0,
    create_cell, db sync); no daemon is started. Returns the nova.conf's path."""
    controller = nova.write_conf("controller")
    for step in (("api_db", "sync"), ("cell_v2", "map_cell0"),
                 ("cell_v2", "create_cell", "--name=cell1"), ("db", "sync")):
        nova.manage(controller, *step)
    return controller


def write_servers(nova, conf, servers_file):
    """Write the servers of ``servers_file`` (JSON: bench/api.py's
    ``upstream_servers``) into upstream's databases with upstream's own
    objects, run by the upstream virtualenv's interpreter (WRITE_SERVERS
    below); then map the computes (discover_hosts). Returns what the script
    printed as JSON (counts, seconds)."""
    script = os.path.join(nova.workdir, "write_servers.py")
    with open(script, "w") as handle:
        handle.write(WRITE_SERVERS)
    result = subprocess.run([os.path.join(nova.bin, "python"), script, conf, servers_file],
                            capture_output=True, text=True, timeout=1800)
    if result.returncode:
        raise RuntimeError(f"writing upstream's servers failed ({result.returncode}): "
                           f"{result.stderr[-3000:]}")
    nova.manage(conf, "cell_v2", "discover_hosts")
    return json.loads(result.stdout.strip().splitlines()[-1])


def start_api(nova):
    """Upstream's nova-api under uwsgi, as UpstreamNova.start() ends; its /v2.1 URL."""
    return nova._start_api()


def interpreter(nova):
    """Which Python runs upstream's nova-api: uwsgi embeds libpython (the one
    its workers mapped, from /proc), the virtualenv's interpreter's
    sys.executable and its realpath."""
    pids = [nova.api_process.pid, *children(nova.api_process.pid)]
    libpython = None
    for pid in pids:
        try:
            with open(f"/proc/{pid}/maps") as handle:
                libpython = next((line.split()[-1] for line in handle
                                  if "/libpython" in line), None)
        except OSError:
            continue
        if libpython:
            break
    python = os.path.join(nova.bin, "python")
    executable = subprocess.run(
        [python, "-c", "import sys; print(sys.executable)"],
        capture_output=True, text=True, check=True).stdout.strip()
    return {"process": os.path.realpath(f"/proc/{nova.api_process.pid}/exe"),
            "libpython": libpython and os.path.realpath(libpython),
            "sys_executable": executable, "realpath": os.path.realpath(executable)}


# Run by the upstream virtualenv's python: argv = nova.conf, servers JSON.
# Each server as upstream's conductor and compute leave an ACTIVE (or
# stopped, paused, errored) one: Instance.create() (instances, instance_extra
# with the flavor as an o.vo primitive, info_cache with a network_info of
# nova.network.model, metadata, system_metadata), its root BDM (image ->
# local disk), its fault, its InstanceMapping and RequestSpec; before them
# the flavors (API database) and, in cell1, the compute services and nodes.
WRITE_SERVERS = r'''
import datetime, json, sys, time

import sqlalchemy

from nova import config, context, objects
from nova.network import model as network_model

started = time.monotonic()
objects.register_all()
config.parse_args(["write_servers", "--config-file", sys.argv[1]])  # rpc: transport_url
with open(sys.argv[2]) as handle:
    data = json.load(handle)
admin = context.get_admin_context()
cells = {cell.name or "cell0": cell for cell in objects.CellMappingList.get_all(admin)}
now = datetime.datetime.now(datetime.timezone.utc)


def when(text):
    return text and datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone.utc)


flavors = {}
for spec in data["flavors"]:
    flavor = objects.Flavor(admin, flavorid=spec["flavorid"], name=spec["name"],
                            memory_mb=spec["memory_mb"], vcpus=spec["vcpus"],
                            root_gb=spec["root_gb"], ephemeral_gb=0, swap=0,
                            rxtx_factor=1.0, is_public=True, disabled=False,
                            extra_specs=spec["extra_specs"])
    flavor.create()
    flavors[spec["flavorid"]] = flavor

nodes = {}
with context.target_cell(admin, cells["cell1"]) as cell:
    for host in data["hosts"]:
        service = objects.Service(cell, host=host["name"], binary="nova-compute",
                                  topic="compute", report_count=1,
                                  disabled=host["disabled"], last_seen_up=now)
        service.create()
        node = objects.ComputeNode(
            cell, service_id=service.id, host=host["name"],
            hypervisor_hostname=host["name"], hypervisor_type="QEMU",
            hypervisor_version=7002000, cpu_info="{}", host_ip="127.0.0.1", vcpus=64,
            memory_mb=262144, local_gb=2000, vcpus_used=0, memory_mb_used=512,
            local_gb_used=0, free_ram_mb=261632, free_disk_gb=2000, running_vms=0,
            current_workload=0, disk_available_least=2000, supported_hv_specs=[],
            cpu_allocation_ratio=16.0, ram_allocation_ratio=1.5,
            disk_allocation_ratio=1.0)
        node.create()
        nodes[host["name"]] = node.id


def network_info(vifs):
    return network_model.NetworkInfo([network_model.VIF(
        id=vif["id"], address=vif["address"], type="bridge", active=True,
        devname=f"tap{vif['id'][:11]}", vnic_type="normal",
        network=network_model.Network(
            id=vif["network_id"], bridge=vif["bridge"], label=vif["label"],
            subnets=[network_model.Subnet(
                cidr=vif["cidr"], gateway=network_model.IP(address=vif["gateway"]),
                dns=[network_model.IP(address=dns) for dns in vif["dns"]],
                ips=[network_model.FixedIP(address=vif["fixed_ip"])])]))
        for vif in vifs])


counts = {"cell0": 0, "cell1": 0}
faulted = {}  # InstanceFault.create() stamps now: given the server's time after
for server in data["servers"]:
    spec = server["instance"]
    flavor = flavors[server["flavorid"]]
    cell_mapping = cells[server["cell"]]
    host = spec["host"]
    with context.target_cell(admin, cell_mapping) as cell:
        instance = objects.Instance(
            cell, uuid=spec["uuid"], display_name=spec["display_name"],
            display_description=spec["display_description"], hostname=spec["hostname"],
            project_id=spec["project_id"], user_id=spec["user_id"],
            image_ref=spec["image_ref"], memory_mb=flavor.memory_mb, vcpus=flavor.vcpus,
            root_gb=flavor.root_gb, ephemeral_gb=0, instance_type_id=flavor.id,
            key_name=spec["key_name"], key_data=spec["key_data"], user_data=None,
            availability_zone=spec["availability_zone"], vm_state=spec["vm_state"],
            task_state=None, power_state=spec["power_state"],
            reservation_id=spec["reservation_id"], launch_index=0, locked=False,
            config_drive="", progress=0, host=host, node=host, kernel_id="", ramdisk_id="",
            compute_id=nodes.get(host), launched_on=host, os_type=spec["os_type"],
            launched_at=when(spec["launched_at"]), created_at=when(spec["created_at"]),
            updated_at=when(spec["updated_at"]), flavor=flavor, old_flavor=None,
            new_flavor=None, metadata=server["metadata"],
            system_metadata=server["system_metadata"],
            info_cache=objects.InstanceInfoCache(
                network_info=network_info(server["network_info"])))
        instance.create()
        objects.BlockDeviceMapping(
            cell, instance_uuid=spec["uuid"], source_type="image",
            destination_type="local", image_id=spec["image_ref"], boot_index=0,
            device_name="/dev/vda", device_type="disk", delete_on_termination=True,
            volume_id=None, snapshot_id=None).create()
        if server["fault"]:
            objects.InstanceFault(cell, instance_uuid=spec["uuid"], host=host,
                                  **server["fault"]).create()
            faulted.setdefault(server["cell"], []).append(
                {"u": spec["uuid"], "c": datetime.datetime.fromisoformat(spec["created_at"])})
    objects.InstanceMapping(admin, instance_uuid=spec["uuid"], cell_mapping=cell_mapping,
                            project_id=spec["project_id"], user_id=spec["user_id"],
                            queued_for_delete=False).create()
    objects.RequestSpec(
        admin, instance_uuid=spec["uuid"], flavor=flavor,
        image=objects.ImageMeta.from_dict({"id": spec["image_ref"],
                                           "properties": {"os_type": "linux"}}),
        project_id=spec["project_id"], user_id=spec["user_id"], num_instances=1,
        availability_zone=None, scheduler_hints={}, ignore_hosts=None, force_hosts=None,
        force_nodes=None, instance_group=None, is_bfv=False).create()
    counts[server["cell"]] += 1

for name, faults in faulted.items():
    engine = sqlalchemy.create_engine(cells[name].database_connection)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(
            "UPDATE instance_faults SET created_at = :c WHERE instance_uuid = :u"), faults)
    engine.dispose()
print(json.dumps(dict(counts, seconds=round(time.monotonic() - started, 1))))
'''
