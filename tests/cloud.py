"""Clouds of real nova_runtime processes for the functional tests.

``Cloud`` is the one base: on the tests' private MariaDB and RabbitMQ it
writes a nova.conf per host (``write_conf``: the options below, the cloud's
own, then the host's), sets up the cells with nova-manage as the install
guide does, and runs nova-conductor, nova-computes with the fake driver
(``Compute``: RAM, vCPUs, disk, driver, cell, options) and nova-scheduler as
processes; ``running`` starts them for a module fixture, stops them all at
the end and then requires every daemon to have exited 0 with no traceback
(nor "without Placement" when the cloud has Placement) in its log. Its
client side (``create``, ``get``, ``wait_settled``, ``delete_all``,
``allocations``, ``usages``) drives nova_runtime.compute.api from the test
process and asks the databases and Placement what happened. A test module
says only what differs: options, computes, hosts disabled at start,
schedulers, or a small subclass (test_cells's two cells).

``module_databases(tag)`` makes a module's ``databases`` fixture:
<tag><pid>_nova_api, _nova and _nova_cell0 (or others: ``keys``) with the
install guide's grants, dropped after the module.

``full_cloud`` (module fixture) is the end-to-end API tests' cloud,
``FullCloud``: the session's Keystone and Glance (tests/keystone.py,
tests/glance.py), nova-api, two nova-conductors (the super-conductor and the
cell's conductor; with one message queue for the API level and cell1 they
share the conductor topic, as in a single-cell deployment), nova-scheduler
and three nova-computes (c1, c2, c3, 4 GiB RAM and 4 vCPUs each, nothing
reserved, the scheduler's default weighers). The compute and image endpoints
are registered in a region of their own (``RegionFull-<port>``), so that this
cloud does not collide with other clouds' compute endpoints in the same Keystone. ``FullCloud.openstack`` runs the real ``openstack`` command against
it as the admin, a member or a reader of the demo project; the m1.tiny
flavor (512 MB, 1 vCPU, 1 GB) and the ``cirros`` image exist.

``FullCloud(..., placement=...)`` (tests/placement.py) has its daemons use
Placement, as deployed (the fault-injection suite's cloud); the API tests'
``full_cloud`` runs without.
"""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import contextlib
import dataclasses
import functools
import json
import os
import pathlib
import subprocess
import tempfile
import time
import uuid

import pytest
import requests

from nova_runtime import config, context as nova_context, rpc
from nova_runtime.compute import api as compute_api
from nova_runtime.db import engines
from nova_runtime.objects import compute_nodes, exceptions, instance_actions, services
from tests import cli
from tests.functional.test_manage import setup_cells
from tests.functional.test_services import Daemon, wait_until
from tests.keystone import ADMIN_PASSWORD, DEMO_PASSWORD, NOVA_PASSWORD
from tests.upstream import free_port, stop, wait_for_http

DB_PASSWORD = "NOVA_DBPASS"
REFRESH = 1  # [scheduler] host_state_refresh_interval
RESERVED_MB = 256

# Every nova.conf, unless the cloud or the host says otherwise: fast
# heartbeats and reconnects (the tests wait seconds, not minutes), the fake
# driver, and a scheduler that weighs by free RAM only, so that the tests
# know where a server lands.
OPTIONS = {
    "DEFAULT": {"my_ip": "127.0.0.1", "report_interval": 2, "periodic_interval": 2,
                "rpc_response_timeout": 10, "compute_driver": "fake.FakeDriver",
                "reserved_host_memory_mb": RESERVED_MB, "ram_allocation_ratio": 1.0},
    "scheduler": {"host_state_refresh_interval": REFRESH},
    "filter_scheduler": {"weight_classes": "RAMWeigher"},
    "oslo_messaging_rabbit": {"rabbit_retry_interval": 1, "rabbit_retry_backoff": 1,
                              "rabbit_interval_max": 2},
}

IMAGE = {"id": "155d900f-4e14-4e4c-a73d-069cbf4541e6", "min_ram": 0, "min_disk": 0,
         "properties": {"os_type": "linux"}}


def flavor(memory_mb=1024, name="m1.test", vcpus=1, root_gb=1, swap=0):
    return {"id": 1, "flavorid": "1", "name": name, "memory_mb": memory_mb, "vcpus": vcpus,
            "root_gb": root_gb, "ephemeral_gb": 0, "swap": swap, "extra_specs": {}}


SMALL = flavor(1024, "m1.small")
MEDIUM = dict(SMALL, id=2, flavorid="2", name="m1.medium", memory_mb=2048, vcpus=2, root_gb=2)


def context():
    return nova_context.RequestContext(user_id="u1", project_id="p1", overwrite=False)


# --- nova.conf ------------------------------------------------------------------------------

def merged(*layers):
    """{section: {option: value}} of the layers, later ones winning; a value
    of None unsets the option."""
    sections = {}
    for layer in layers:
        for section, options in layer.items():
            sections.setdefault(section, {}).update(options)
    return {section: {name: value for name, value in options.items() if value is not None}
            for section, options in sections.items()}


def render(sections):
    return "".join(f"[{section}]\n" + "".join(f"{name} = {value}\n"
                                             for name, value in options.items())
                   for section, options in sections.items() if options)


# --- databases ------------------------------------------------------------------------------

def database_name(prefix, key):
    """The install guide's names: nova_api, nova (cell1's, key "main"),
    nova_cell0, nova_<cell>."""
    return prefix + {"api": "nova_api", "main": "nova"}.get(key, f"nova_{key}")


@contextlib.contextmanager
def nova_databases(mariadb, prefix, keys=("api", "main", "cell0")):
    """The databases of ``keys``, granted to 'nova'@'localhost' and
    'nova'@'%' as the install guide grants them; {key: URL logging in as
    nova}. Dropped at the end."""
    names = {key: database_name(prefix, key) for key in keys}
    statements = []
    for name in names.values():
        statements.append(f"CREATE DATABASE `{name}`;")
        for host in ("localhost", "%"):
            statements.append(f"GRANT ALL PRIVILEGES ON `{name}`.* TO 'nova'@'{host}' "
                              f"IDENTIFIED BY '{DB_PASSWORD}';")
    mariadb.sql("\n".join(statements))
    try:
        yield {key: mariadb.url("nova", DB_PASSWORD, name) for key, name in names.items()}
    finally:
        engines.dispose_all()
        mariadb.sql("\n".join(f"DROP DATABASE `{name}`;" for name in names.values()))


def module_databases(tag, keys=("api", "main", "cell0")):
    """A module's ``databases`` fixture: nova_databases named <tag><pid>_..."""
    @pytest.fixture(scope="module")
    def databases(mariadb):
        with nova_databases(mariadb, f"{tag}{os.getpid()}_", keys) as urls:
            yield urls

    return databases


# --- Placement ------------------------------------------------------------------------------

def delete_providers(placement, names):
    """Delete the resource providers named ``names`` (with their allocations):
    another module's computes of the same names leave theirs behind, and
    Placement refuses a second provider of the same name."""
    for name in names:
        for provider in placement.get(f"/resource_providers?name={name}")["resource_providers"]:
            consumers = placement.get(f"/resource_providers/{provider['uuid']}/allocations")
            for consumer in consumers["allocations"]:
                placement.request("DELETE", f"/allocations/{consumer}")
            placement.request("DELETE", f"/resource_providers/{provider['uuid']}")


# --- instance actions -------------------------------------------------------------------------

def events(db_url, server, action=None, timeout=15):
    """(action, event, result, host) of the server's actions (only
    ``action``'s, if given), once there is one and none is in progress."""
    def finished():
        found = [(record["action"], event["event"], event["result"], event["host"])
                 for record in instance_actions.actions_for(db_url, server)
                 if action in (None, record["action"]) for event in record["events"]]
        return found if found and all(result for _, _, result, _ in found) else None

    wait_until(finished, timeout, f"{action or 'the'} events of {server} still in progress")
    return finished()


# --- the cloud --------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Compute:
    """A nova-compute with the fake driver. ``cell``: the key of its cell's
    database in the cloud's URLs ("main" is cell1 of a one-cell cloud);
    ``options``: more of its nova.conf ({section: {option: value}})."""
    memory_mb: int
    vcpus: int = 8
    local_gb: int = 100
    driver: str = "fake.FakeDriver"
    cell: str = "main"
    options: dict = dataclasses.field(default_factory=dict)


class Cloud:
    """nova-conductor, nova-computes and nova-scheduler of one cell, each a
    process with its own nova.conf in ``workdir``. With ``placement``
    (tests/placement.py) every nova.conf has its [placement] section;
    ``options`` ({section: {option: value}}) change OPTIONS for every
    nova.conf of this cloud."""

    cell_databases = ("main",)  # the keys of the cells' databases in ``urls``
    controller_database = "main"  # the key of the controller's [database]

    def __init__(self, workdir, urls, rabbitmq, placement=None, **options):
        self.workdir, self.urls, self.rabbitmq = pathlib.Path(workdir), urls, rabbitmq
        self.placement = placement
        self.options = merged(OPTIONS, {"placement": placement.nova_options()} if placement
                              else {}, options)
        self.daemons = []
        self.controller_conf = self.write_conf("controller", **self.controller_options())

    # --- nova.conf ------------------------------------------------------------------------

    def transport_url(self, cell):
        """The message queue of ``cell`` (None: the API level's)."""
        return self.rabbitmq.url

    def write_conf(self, host, cell=None, **sections):
        """<workdir>/<host>.conf: its host, ``cell``'s message queue and its
        own state_path, this cloud's options, then ``sections``."""
        path = self.workdir / f"{host}.conf"
        path.write_text(render(merged(
            {"DEFAULT": {"host": host, "transport_url": self.transport_url(cell),
                         "state_path": self.workdir / host}},
            self.options, sections)))
        return path

    def controller_options(self):
        """The API level's: both databases, and periodic tasks (the
        scheduler's host state refresh) every second."""
        return {"DEFAULT": {"periodic_interval": 1},
                "api_database": {"connection": self.urls["api"]},
                "database": {"connection": self.urls[self.controller_database]}}

    def scheduler_conf(self, name, refresh):
        """The controller's nova.conf for another nova-scheduler: host
        ``name``, host states re-read after ``refresh`` seconds."""
        return self.write_conf(name, **merged(
            self.controller_options(), {"scheduler": {"host_state_refresh_interval": refresh}}))

    def compute_conf(self, host, compute):
        return self.write_conf(host, compute.cell, **merged(
            {"DEFAULT": {"compute_driver": compute.driver},
             "fake_driver": {"memory_mb": compute.memory_mb, "vcpus": compute.vcpus,
                             "local_gb": compute.local_gb}},
            compute.options))

    @property
    def reserved_mb(self):
        return self.options["DEFAULT"]["reserved_host_memory_mb"]

    # --- life cycle -----------------------------------------------------------------------

    def create_cells(self):
        self.cell1 = setup_cells(self.controller_conf)

    def start_conductors(self):
        self.conductor = self.start("nova-conductor", self.controller_conf)

    def start(self, binary, conf):
        daemon = Daemon(binary, conf, self.workdir / f"{binary}-{conf.stem}.log")
        self.daemons.append(daemon)
        return daemon

    def start_all(self, computes, disabled=(), schedulers=("controller",)):
        """Cells, conductors, ``computes`` ({host: Compute}) once registered
        (those in ``disabled`` disabled, os-services style) and mapped, then
        the ``schedulers`` (host names) once they see them all."""
        self.create_cells()
        self.start_conductors()
        self.computes = {host: self.start("nova-compute", self.compute_conf(host, compute))
                         for host, compute in computes.items()}
        expected = {host: compute.cell for host, compute in computes.items()}
        wait_until(lambda: self.compute_cells() == expected, 60,
                   f"compute nodes: {self.compute_cells()}")
        for host in disabled:
            self.set_enabled(host, False)
        self.discovered = cli.run("nova-manage", "cell_v2", "discover_hosts", "--verbose",
                                  config_file=self.controller_conf)
        assert self.discovered.returncode == 0, self.discovered.stderr
        self.schedulers = []
        for name in schedulers:
            conf = self.controller_conf if name == "controller" else \
                self.scheduler_conf(name, REFRESH)
            scheduler = self.start("nova-scheduler", conf)
            scheduler.wait_for_log(rf"Host states: {len(computes)} compute node\(s\) in "
                                   rf"{len(self.cell_databases)} cell", 60)
            scheduler.wait_for_log(rf"nova-scheduler on host {name} started", 30)
            self.schedulers.append(scheduler)
        return self

    def stop(self):
        """SIGTERM every daemon at once (a stop takes seconds); their exit
        codes (None: still running after 30 s, then killed)."""
        for daemon in self.daemons:
            daemon.terminate()
        codes = {}
        for daemon in self.daemons:
            try:
                codes[daemon.log_path.name] = daemon.wait_stopped(30)[0]
            except subprocess.TimeoutExpired:
                codes[daemon.log_path.name] = None
        for daemon in self.daemons:
            daemon.kill()
        return codes

    @contextlib.contextmanager
    def running(self, computes, disabled=(), schedulers=("controller",), forbidden=()):
        """For a module fixture: the cloud started (``start_all``); at the
        end every daemon stopped, which must have exited 0 and logged neither
        a traceback nor any text of ``forbidden`` (with Placement, nor
        "without Placement"). Same-named resource providers are deleted
        before and after."""
        if self.placement:
            delete_providers(self.placement, computes)
        try:
            yield self.start_all(computes, disabled=disabled, schedulers=schedulers)
        finally:
            codes = self.stop()
            rpc.cleanup()
        if self.placement:
            delete_providers(self.placement, computes)
            forbidden = ("without Placement", *forbidden)
        assert set(codes.values()) == {0}, codes
        for daemon in self.daemons:
            log = daemon.log()
            for text in ("Traceback", *forbidden):
                assert text not in log, f"{daemon.log_path}:\n{log}"

    # --- the databases --------------------------------------------------------------------

    def nodes(self, cell=None):
        """{host: compute node} of ``cell`` (None: of every cell)."""
        return {node["host"]: node for key in ([cell] if cell else self.cell_databases)
                for node in compute_nodes.list_nodes(self.urls[key])}

    def compute_cells(self):
        """{host: cell} of the compute nodes in the cells' databases."""
        return {host: cell for cell in self.cell_databases for host in self.nodes(cell)}

    def set_enabled(self, host, enabled):
        row = services.get_by_host_and_binary(self.urls["main"], host, "nova-compute")
        services.update(self.urls["main"], row["id"], {"disabled": not enabled})

    def idle(self):
        """Whether every compute node reports no server and nothing used."""
        return all(node["running_vms"] == 0 and node["memory_mb_used"] == self.reserved_mb
                   and node["vcpus_used"] == 0 and node["local_gb_used"] == 0
                   for node in self.nodes().values())

    # --- Placement ------------------------------------------------------------------------

    def provider(self, host):
        return self.nodes()[host]["uuid"]

    def allocations(self, consumer):
        """{host: resources} of ``consumer`` (instance or migration uuid) in Placement."""
        hosts = {node["uuid"]: host for host, node in self.nodes().items()}
        found = self.placement.get(f"/allocations/{consumer}")["allocations"]
        return {hosts[provider]: entry["resources"] for provider, entry in found.items()}

    def usages(self, host):
        """The host's provider's usages, without the classes nobody uses (a
        provider not made yet uses nothing)."""
        found = self.placement.get(f"/resource_providers/{self.provider(host)}/usages")
        return {resource_class: amount for resource_class, amount
                in (found or {}).get("usages", {}).items() if amount}

    def usages_by_host(self):
        """{host: usages} of the computes that have any allocation."""
        return {host: used for host in self.nodes() if (used := self.usages(host))}

    # --- servers through nova_runtime.compute.api ---------------------------------------------

    @functools.cached_property
    def compute_api(self):
        conf = config.new_conf()
        rpc.set_defaults(conf)
        config.load(conf, ["--config-file", str(self.controller_conf)], prog="test",
                    default_config_files=[])
        return compute_api.API(conf)

    def create(self, flavor, count=1, name="vm", **kwargs):
        """The uuids of ``count`` new servers (not waited for)."""
        created = self.compute_api.create_servers(context(), flavor, IMAGE, count, name=name,
                                                  **kwargs)
        return [instance["uuid"] for instance in created]

    def get(self, server):
        try:
            return self.compute_api.get(context(), server)
        except exceptions.InstanceNotFound:
            return None

    def wait_for(self, server, predicate, what, timeout=30):
        """The server once ``predicate`` holds for it."""
        wait_until(lambda: (lambda i: i is not None and predicate(i))(self.get(server)),
                   timeout, f"server {server} not {what}: {self.get(server)}")
        return self.get(server)

    def boot(self, flavor=SMALL):
        """One server of ``flavor``, once ACTIVE with no task running."""
        [server] = self.create(flavor)
        return self.wait_for(server, lambda i: i["vm_state"] == "active"
                             and i["task_state"] is None, "active")

    def wait_settled(self, servers, timeout=30):
        """Each server once it is ACTIVE, STOPPED or in ERROR, with no task running."""
        def settled():
            found = [self.get(server) for server in servers]
            if all(i and i["task_state"] is None
                   and i["vm_state"] in ("active", "stopped", "error") for i in found):
                return found
            return None

        wait_until(settled, timeout,
                   f"servers not settled: {[self.get(s) for s in servers]}")
        return settled()

    def delete_all(self, servers):
        """Delete, wait until the servers are gone, Placement holds nothing
        for the computes and they report themselves idle, then until the
        scheduler's next read will see that."""
        for server in servers:
            self.compute_api.delete(context(), server)
        wait_until(lambda: not any(self.get(server) for server in servers), 30,
                   "servers not deleted")
        if self.placement:
            wait_until(lambda: not self.usages_by_host(), 30,
                       f"allocations left: {self.usages_by_host()}")
        wait_until(self.idle, 30, f"compute nodes still used: {self.nodes()}")
        time.sleep(REFRESH + 0.2)


# --- the end-to-end API tests' cloud ------------------------------------------------------------

REGION = "RegionFull"
FULL_COMPUTES = {host: Compute(4096, vcpus=4, local_gb=40) for host in ("c1", "c2", "c3")}


class FullCloud(Cloud):
    """Cloud with Glance, nova-api behind Keystone, and the cell's own
    conductor next to the super-conductor."""

    def __init__(self, workdir, urls, rabbitmq, keystone, glance, placement=None):
        self.keystone, self.glance = keystone, glance
        self.api_process = None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v2.1"
        # A region of its own in the session's Keystone: a cloud of an earlier test
        # module left its (stopped) compute endpoint in the catalog of its region.
        self.region = f"{REGION}-{self.port}"
        self.api_log = pathlib.Path(workdir) / "nova-api.log"
        super().__init__(workdir, urls, rabbitmq, placement, glance={"api_servers": glance.url},
                         DEFAULT={"reserved_host_memory_mb": 0, "rpc_response_timeout": 20},
                         filter_scheduler={"weight_classes": None})

    def controller_options(self):
        return merged(super().controller_options(), {
            "DEFAULT": {"periodic_interval": 2, "enabled_apis": "osapi_compute",
                        "osapi_compute_listen": "127.0.0.1",
                        "osapi_compute_listen_port": self.port},
            "keystone_authtoken": self.keystone.authtoken("nova", NOVA_PASSWORD)})

    def start_conductors(self):
        super().start_conductors()
        self.start("nova-conductor", self.write_conf(
            "cell1-conductor", api_database={"connection": self.urls["api"]},
            database={"connection": self.urls["main"]}))

    def start_all(self, computes, disabled=(), schedulers=("controller",)):
        super().start_all(computes, disabled, schedulers)
        with open(self.api_log, "ab") as handle:
            self.api_process = subprocess.Popen(
                [os.path.join(cli.BIN, "nova-api"), "--config-file", str(self.controller_conf)],
                stdout=handle, stderr=subprocess.STDOUT)
        wait_for_http(self.url, self.api_process, self.api_log)
        self._register()
        created = self.openstack("flavor", "create", "--ram", "512", "--vcpus", "1",
                                 "--disk", "1", "--id", "1", "m1.tiny")
        assert created.returncode == 0, created.stderr
        self.image = self.glance.images["cirros"]
        return self

    def stop(self):
        if self.api_process is not None:
            stop(self.api_process)
        return super().stop()

    def _register(self):
        """Identity, compute and image endpoints in this cloud's own region."""
        keystone = self.keystone
        regions = {region["id"] for region in keystone.admin("GET", "/regions")["regions"]}
        if self.region not in regions:
            keystone.admin("POST", "/regions", {"region": {"id": self.region}})
        identity = keystone.admin("GET", "/services?type=identity")["services"][0]
        for name, kind, url in (("keystone", "identity", keystone.url),
                                ("nova-full", "compute", self.url),
                                ("glance-full", "image", self.glance.url)):
            service = identity if kind == "identity" else keystone.admin(
                "POST", "/services", {"service": {"name": name, "type": kind}})["service"]
            for interface in ("public", "internal", "admin"):
                keystone.admin("POST", "/endpoints", {"endpoint": {
                    "service_id": service["id"], "interface": interface, "url": url,
                    "region_id": self.region}})

    # --- clients --------------------------------------------------------------------

    def environment(self, user="admin", password=ADMIN_PASSWORD, project="admin"):
        env = self.keystone.environment(user, password, project)
        env["OS_REGION_NAME"] = self.region
        return env

    def openstack(self, *args, user="admin", password=ADMIN_PASSWORD, project="admin",
                  timeout=180):
        """Run the real ``openstack`` command; (returncode, stdout, stderr)."""
        return subprocess.run([os.path.join(cli.BIN, "openstack"), *args],
                              capture_output=True, text=True, timeout=timeout,
                              env=self.environment(user, password, project))

    def openstack_json(self, *args, **kwargs):
        result = self.openstack(*args, "-f", "json", **kwargs)
        assert result.returncode == 0, (args, result.stderr, self.tail())
        return json.loads(result.stdout) if result.stdout.strip() else None

    @staticmethod
    def member(user="demo-member"):
        return {"user": user, "password": DEMO_PASSWORD, "project": "demo"}

    @staticmethod
    def reader():
        return {"user": "demo-reader", "password": DEMO_PASSWORD, "project": "demo"}

    def token(self, **who):
        who = who or {}
        return self.keystone.token(who.get("user", "admin"),
                                   who.get("password", ADMIN_PASSWORD),
                                   who.get("project", "admin"))

    def request(self, method, path, token, version=None, **kwargs):
        headers = {"X-Auth-Token": token}
        if version:
            headers["OpenStack-API-Version"] = f"compute {version}"
        return requests.request(method, self.url + path, headers=headers, timeout=60,
                                **kwargs)

    def tail(self, lines=40):
        text = self.api_log.read_text() if self.api_log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="module")
def full_cloud(keystone, glance, mariadb, rabbitmq):
    workdir = tempfile.mkdtemp(prefix="nova-runtime-full-")
    with nova_databases(mariadb, f"full{uuid.uuid4().hex[:6]}_") as urls:
        cloud = FullCloud(workdir, urls, rabbitmq, keystone, glance)
        with cloud.running(FULL_COMPUTES) as started:
            yield started
