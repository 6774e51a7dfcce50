"""Upstream Nova 34.x from PyPI, on the boot storm's own servers: what
``bench/boot_storm.py --against upstream`` compares with.

The virtualenv: tests/upstream.py ``upstream_nova_venv()`` (cached under
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
import shutil
import subprocess
import sys

import sqlalchemy as sa

from bench import storm_http
from tests import cloud as tests_cloud, upstream
from tests.keystone import NOVA_PASSWORD

VHOST = "upstream"
DB_PREFIX = "up_"


class UpstreamNova:
    def __init__(self, cloud, computes, conductors, stack, daemon_class, wait_until,
                 providers):
        """``daemon_class``, ``wait_until``, ``providers``: bench/boot_storm.py's
        Daemon, wait_until and providers_with_inventory."""
        self.cloud, self.computes, self.conductors = cloud, computes, conductors
        self.Daemon, self.wait_until, self.providers = daemon_class, wait_until, providers
        self.venv = upstream.upstream_nova_venv()
        self.bin = os.path.join(self.venv, "bin")
        self.workdir = os.path.join(cloud.workdir, "upstream")
        self.etc = os.path.join(self.workdir, "etc")
        os.makedirs(self.etc)
        os.makedirs(os.path.join(self.workdir, "lock"))
        self.daemons = []
        self.api_process = None
        self.urls = stack.enter_context(tests_cloud.nova_databases(cloud.mariadb, DB_PREFIX))
        self.transport_url = cloud.rabbitmq.add_vhost(VHOST)
        self.neutron_port = upstream.free_port()
        stub = os.path.join(self.workdir, "neutron_stub.py")
        with open(stub, "w") as handle:
            handle.write(storm_http.NEUTRON_STUB)
        self.neutron = subprocess.Popen([sys.executable, stub, str(self.neutron_port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(self.stop)
        upstream.wait_for_http(f"http://127.0.0.1:{self.neutron_port}/", self.neutron,
                               "(neutron stand-in)")

    # --- nova.conf ------------------------------------------------------------------

    def conf_text(self, host, databases=True):
        cloud = self.cloud
        keystone = cloud.keystone
        cache = f"memcached_servers = {cloud.memcached}\n" if cloud.memcached else ""
        state = os.path.join(self.workdir, host)
        text = (
            "[DEFAULT]\n"
            f"host = {host}\ntransport_url = {self.transport_url}\nmy_ip = 127.0.0.1\n"
            f"state_path = {state}\ninstances_path = {state}/instances\n"
            "compute_driver = fake.FakeDriver\nrpc_response_timeout = 60\n"
            "graceful_shutdown_timeout = 5\n"  # the default 60 s makes a run's end slow
            "[oslo_messaging_rabbit]\nrabbit_retry_interval = 1\n"
            "rabbit_retry_backoff = 1\nrabbit_interval_max = 2\n"
            f"[conductor]\nworkers = {self.conductors}\n"
            "[scheduler]\nworkers = 1\n"
            f"[oslo_concurrency]\nlock_path = {self.workdir}/lock\n"
            f"[wsgi]\napi_paste_config = {self.etc}/api-paste.ini\n"
            f"[glance]\napi_servers = {cloud.glance.url}\n"
            "[neutron]\n" + "".join(f"{k} = {v}\n" for k, v in keystone.authtoken(
                "nova", NOVA_PASSWORD).items() if k != "www_authenticate_uri")
            + f"region_name = RegionOne\nendpoint_override = http://127.0.0.1:{self.neutron_port}\n"
            + keystone.authtoken_section("nova", NOVA_PASSWORD) + cache)
        if cloud.placement is not None:
            text += cloud.placement.nova_conf_section()
        if databases:
            text += (f"[api_database]\nconnection = {self.urls['api']}\n"
                     f"[database]\nconnection = {self.urls['main']}\n")
        return text

    def write_conf(self, host, databases=True):
        path = os.path.join(self.workdir, f"{host}.conf")
        with open(path, "w") as handle:
            handle.write(self.conf_text(host, databases))
        return path

    def manage(self, conf, *args):
        result = subprocess.run([os.path.join(self.bin, "nova-manage"), "--config-file", conf,
                                 *args], capture_output=True, text=True, timeout=600)
        if result.returncode not in (0,):
            raise RuntimeError(f"upstream nova-manage {' '.join(args)} failed "
                               f"({result.returncode}): {result.stderr[-2000:]}")
        return result.stdout

    # --- life cycle -----------------------------------------------------------------

    def start_daemon(self, binary, conf):
        daemon = self.Daemon(binary, conf, self.workdir, bin_dir=self.bin)
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
            self.wait_until(reported, 180 + 4 * self.computes,
                            f"not all {self.computes} upstream computes reported", self.daemons)
        finally:
            engine.dispose()
        self.manage(controller, "cell_v2", "discover_hosts")
        self.start_daemon("nova-scheduler", controller)
        self.wait_until(self._listening, 180, "upstream conductor/scheduler not consuming",
                        self.daemons)
        if self.cloud.placement is not None:
            self.wait_until(lambda: self.providers(self.cloud.placement)
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
        with open(os.path.join(self.etc, "nova.conf"), "w") as handle:
            handle.write(self.conf_text("upstream-api"))
        wsgi_file = os.path.join(self.workdir, "nova-api-wsgi.py")
        with open(wsgi_file, "w") as handle:
            handle.write("import os\n"
                         f"os.environ['OS_NOVA_CONFIG_DIR'] = {self.etc!r}\n"
                         "from nova.wsgi.osapi_compute import application  # noqa\n")
        port = upstream.free_port()
        self.api_log = os.path.join(self.workdir, "nova-api.log")
        self.api_process = upstream.start_uwsgi(self.venv, wsgi_file, port, self.api_log,
                                                self.workdir, threads=4, processes=2,
                                                extra=("--lazy-apps",))
        url = f"http://127.0.0.1:{port}/v2.1"
        upstream.wait_for_http(url, self.api_process, self.api_log, timeout=180)
        return url

    def process_groups(self):
        groups = dict(self.cloud.shared_process_groups(), **{
            "nova-api": [self.api_process.pid], "neutron-stub": [self.neutron.pid]})
        for daemon in self.daemons:
            groups.setdefault(daemon.binary, []).append(daemon.process.pid)
        return groups

    def stop(self):
        if self.api_process is not None:
            upstream.stop(self.api_process)
        for daemon in self.daemons:
            if daemon.process.poll() is None:
                daemon.process.terminate()
        for daemon in self.daemons:
            try:
                daemon.process.wait(30)
            except subprocess.TimeoutExpired:
                daemon.process.kill()
                daemon.process.wait()
        upstream.stop(self.neutron)
