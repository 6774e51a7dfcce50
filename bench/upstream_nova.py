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
        controller = self.write_conf("controller")
        self.manage(controller, "api_db", "sync")
        self.manage(controller, "cell_v2", "map_cell0")
        self.manage(controller, "cell_v2", "create_cell", "--name=cell1")
        self.manage(controller, "db", "sync")
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
