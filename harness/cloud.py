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

With ``placement`` (harness/placement.py) every nova.conf has its
[placement] section. The end-to-end API tests' cloud is harness/full_cloud.py.
"""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import contextlib
import dataclasses
import functools
import pathlib
import time

from nova_runtime import config, context as nova_context, rpc
from nova_runtime.compute import api as compute_api
from nova_runtime.objects import compute_nodes, exceptions, instance_actions, services
from harness import cli, nova_conf
from harness.daemons import Daemon, stop_all
from harness.nova_conf import merged
from harness.processes import wait_until

REFRESH = 1  # [scheduler] host_state_refresh_interval
RESERVED_MB = 256

# Every nova.conf, unless the cloud or the host says otherwise: the common
# options (harness/nova_conf.py: the fake driver, fast reconnects), fast
# heartbeats (the tests wait seconds, not minutes), and a scheduler that
# weighs by free RAM only, so that the tests know where a server lands.
OPTIONS = merged(nova_conf.COMMON, {
    "DEFAULT": {"report_interval": 2, "periodic_interval": 2, "rpc_response_timeout": 10,
                "reserved_host_memory_mb": RESERVED_MB, "ram_allocation_ratio": 1.0},
    "scheduler": {"host_state_refresh_interval": REFRESH},
    "filter_scheduler": {"weight_classes": "RAMWeigher"},
})

IMAGE = {"id": "155d900f-4e14-4e4c-a73d-069cbf4541e6", "min_ram": 0, "min_disk": 0,
         "properties": {"os_type": "linux"}}


def flavor(memory_mb=1024, name="m1.test", vcpus=1, root_gb=1, swap=0):
    return {"id": 1, "flavorid": "1", "name": name, "memory_mb": memory_mb, "vcpus": vcpus,
            "root_gb": root_gb, "ephemeral_gb": 0, "swap": swap, "extra_specs": {}}


SMALL = flavor(1024, "m1.small")
MEDIUM = dict(SMALL, id=2, flavorid="2", name="m1.medium", memory_mb=2048, vcpus=2, root_gb=2)


def context():
    return nova_context.RequestContext(user_id="u1", project_id="p1", overwrite=False)


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
    (harness/placement.py) every nova.conf has its [placement] section;
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
        return nova_conf.write(
            self.workdir / f"{host}.conf",
            nova_conf.host(host, self.transport_url(cell), self.workdir / host),
            self.options, sections)

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
        self.cell1 = cli.setup_cells(self.controller_conf)

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
        return {daemon.log_path.name: code for daemon, code in stop_all(self.daemons).items()}

    @contextlib.contextmanager
    def running(self, computes, disabled=(), schedulers=("controller",), forbidden=()):
        """For a module fixture: the cloud started (``start_all``); at the
        end every daemon stopped, which must have exited 0 and logged neither
        a traceback nor any text of ``forbidden`` (with Placement, nor
        "without Placement"). Same-named resource providers are deleted
        before and after."""
        if self.placement:
            self.placement.delete_providers(lambda name: name in computes)
        try:
            yield self.start_all(computes, disabled=disabled, schedulers=schedulers)
        finally:
            codes = self.stop()
            rpc.cleanup()
        if self.placement:
            self.placement.delete_providers(lambda name: name in computes)
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
