"""A whole small cloud for the end-to-end API tests, every part a real process.

``full_cloud`` (module fixture) runs, on the tests' private MariaDB and
RabbitMQ: the session's Keystone and Glance (tests/keystone.py,
tests/glance.py), nova-api, two nova-conductors (the super-conductor and the
cell's conductor; with one message queue for the API level and cell1 they
share the conductor topic, as in a single-cell deployment),
nova-scheduler and three nova-computes with the fake driver (c1, c2, c3,
4 GiB RAM and 4 vCPUs each). Cells are set up with nova-manage as the
install guide does. The compute and image endpoints are registered in a
region of their own (``RegionFull``), so that this cloud does not collide
with other session fixtures' compute endpoints in the same Keystone.

``FullCloud.openstack`` runs the real ``openstack`` command against it as
the admin, a member or a reader of the demo project; the m1.tiny flavor
(512 MB, 1 vCPU, 1 GB) and the ``cirros`` image exist.
"""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import contextlib
import json
import os
import pathlib
import subprocess
import tempfile
import uuid

import pytest
import requests

from nova_runtime.db import engines
from tests import cli
from tests.functional.test_manage import setup_cells
from tests.functional.test_services import Daemon, wait_until
from tests.keystone import ADMIN_PASSWORD, DEMO_PASSWORD, NOVA_PASSWORD
from tests.upstream import free_port, stop, wait_for_http

REGION = "RegionFull"
HOSTS = ("c1", "c2", "c3")
HOST_MEMORY_MB = 4096

COMMON = """\
[DEFAULT]
host = {host}
transport_url = {transport_url}
my_ip = 127.0.0.1
state_path = {state_path}
report_interval = 2
periodic_interval = 2
rpc_response_timeout = 20
compute_driver = fake.FakeDriver
reserved_host_memory_mb = 0
ram_allocation_ratio = 1.0
[scheduler]
host_state_refresh_interval = 1
[glance]
api_servers = {glance_url}
[oslo_messaging_rabbit]
rabbit_retry_interval = 1
rabbit_retry_backoff = 1
rabbit_interval_max = 2
"""


class FullCloud:
    def __init__(self, workdir, keystone, glance, mariadb, rabbitmq):
        self.workdir = pathlib.Path(workdir)
        self.keystone, self.glance = keystone, glance
        self.mariadb, self.rabbitmq = mariadb, rabbitmq
        self.daemons = []
        self.api_process = None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v2.1"

    # --- life cycle -----------------------------------------------------------------

    def start(self):
        self.urls, self._db_names = self._databases()
        keystone_url = self.keystone.url
        self.controller_conf = self.write_conf("controller", extra=(
            f"[api_database]\nconnection = {self.urls['api']}\n"
            f"[database]\nconnection = {self.urls['main']}\n"
            "[DEFAULT]\nenabled_apis = osapi_compute\nosapi_compute_listen = 127.0.0.1\n"
            f"osapi_compute_listen_port = {self.port}\n"
            "[keystone_authtoken]\n"
            f"www_authenticate_uri = {keystone_url}\nauth_url = {keystone_url}\n"
            "auth_type = password\nproject_domain_name = Default\n"
            "user_domain_name = Default\nproject_name = service\n"
            f"username = nova\npassword = {NOVA_PASSWORD}\n"))
        self.cell1 = setup_cells(self.controller_conf)
        self.start_daemon("nova-conductor", self.controller_conf)
        self.start_daemon("nova-conductor", self.write_conf("cell1-conductor", extra=(
            f"[api_database]\nconnection = {self.urls['api']}\n"
            f"[database]\nconnection = {self.urls['main']}\n")))
        for host in HOSTS:
            self.start_daemon("nova-compute", self.write_conf(host, extra=(
                f"[fake_driver]\nmemory_mb = {HOST_MEMORY_MB}\nvcpus = 4\nlocal_gb = 40\n")))
        wait_until(self._computes_registered, 90, "the computes did not register")
        discovered = cli.run("nova-manage", "cell_v2", "discover_hosts",
                             config_file=self.controller_conf)
        assert discovered.returncode == 0, discovered.stderr
        scheduler = self.start_daemon("nova-scheduler", self.controller_conf)
        scheduler.wait_for_log(r"Host states: 3 compute node\(s\)", 60)
        self.api_log = self.workdir / "nova-api.log"
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
        for daemon in self.daemons:
            daemon.terminate()
        codes = {}
        for daemon in self.daemons:
            with contextlib.suppress(Exception):
                codes[daemon.log_path.name] = daemon.wait_stopped(30)[0]
            daemon.kill()
        engines.dispose_all()
        with contextlib.suppress(Exception):
            self.mariadb.sql("\n".join(f"DROP DATABASE `{name}`;"
                                       for name in self._db_names.values()))
        return codes

    def write_conf(self, host, extra=""):
        path = self.workdir / f"{host}.conf"
        path.write_text(COMMON.format(host=host, transport_url=self.rabbitmq.url,
                                      state_path=self.workdir / host,
                                      glance_url=self.glance.url) + extra)
        return path

    def start_daemon(self, binary, conf):
        daemon = Daemon(binary, conf, self.workdir / f"{binary}-{conf.stem}.log")
        self.daemons.append(daemon)
        return daemon

    def _databases(self):
        prefix, password = f"full{uuid.uuid4().hex[:6]}_", "NOVA_DBPASS"
        names = {"api": f"{prefix}nova_api", "main": f"{prefix}nova",
                 "cell0": f"{prefix}nova_cell0"}
        statements = []
        for name in names.values():
            statements.append(f"CREATE DATABASE `{name}`;")
            for host in ("localhost", "%"):
                statements.append(f"GRANT ALL PRIVILEGES ON `{name}`.* TO 'nova'@'{host}' "
                                  f"IDENTIFIED BY '{password}';")
        self.mariadb.sql("\n".join(statements))
        return {key: self.mariadb.url("nova", password, name)
                for key, name in names.items()}, names

    def _computes_registered(self):
        from nova_runtime.objects import compute_nodes
        return {node["host"] for node in compute_nodes.list_nodes(self.urls["main"])} \
            >= set(HOSTS)

    def _register(self):
        """Identity, compute and image endpoints in this cloud's own region."""
        keystone = self.keystone
        regions = {region["id"] for region in keystone.admin("GET", "/regions")["regions"]}
        if REGION not in regions:
            keystone.admin("POST", "/regions", {"region": {"id": REGION}})
        identity = keystone.admin("GET", "/services?type=identity")["services"][0]
        for name, kind, url in (("keystone", "identity", keystone.url),
                                ("nova-full", "compute", self.url),
                                ("glance-full", "image", self.glance.url)):
            service = identity if kind == "identity" else keystone.admin(
                "POST", "/services", {"service": {"name": name, "type": kind}})["service"]
            for interface in ("public", "internal", "admin"):
                keystone.admin("POST", "/endpoints", {"endpoint": {
                    "service_id": service["id"], "interface": interface, "url": url,
                    "region_id": REGION}})

    # --- clients --------------------------------------------------------------------

    def environment(self, user="admin", password=ADMIN_PASSWORD, project="admin"):
        env = self.keystone.environment(user, password, project)
        env["OS_REGION_NAME"] = REGION
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
    cloud = FullCloud(workdir, keystone, glance, mariadb, rabbitmq)
    try:
        cloud.start()
        yield cloud
    finally:
        codes = cloud.stop()
    assert set(codes.values()) <= {0}, codes
    for daemon in cloud.daemons:
        assert "Traceback" not in daemon.log(), f"{daemon.log_path}:\n{daemon.log()[-5000:]}"
