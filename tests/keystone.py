"""A real Keystone and a real nova-api for the functional API tests.

``Keystone`` installs upstream keystone and uwsgi from PyPI once, in their own
virtualenv cached under /var/tmp (about 45 s the first time), then for each
test session configures a Keystone on SQLite with fernet tokens, bootstraps
the admin, serves it with uwsgi on a private loopback port, and creates what
the install guide creates: a service project with the nova user, and a demo
project with a member user and a reader user.

``compute_cloud`` (session fixture) adds nova-api: its databases on the test
MariaDB, cells set up with nova-manage, a few services and compute nodes
written into the cell database as nova-compute and nova-conductor would, and
nova-api started as a real process, registered in Keystone's catalog.
"""

import contextlib
import dataclasses
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest
import requests
import sqlalchemy as sa

from tests import cli, upstream
from tests.upstream import free_port, stop, wait_for_http

ADMIN_PASSWORD = "ADMIN_PASS"
NOVA_PASSWORD = "NOVA_PASS"
DEMO_PASSWORD = "DEMO_PASS"
WSGI_FILE = """\
import os
os.environ["OS_KEYSTONE_CONFIG_FILES"] = {config!r}
from keystone.server.wsgi import initialize_public_application
application = initialize_public_application()
"""


class Keystone:
    def __init__(self, workdir):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v3"
        self.process = None
        self.ids = {}

    # --- life cycle -----------------------------------------------------------

    def start(self):
        venv = upstream.role_venv("keystone")
        config = os.path.join(self.workdir, "keystone.conf")
        with open(config, "w") as handle:
            handle.write(
                "[database]\n"
                f"connection = sqlite:///{self.workdir}/keystone.db\n"
                "[token]\nprovider = fernet\n"
                f"[fernet_tokens]\nkey_repository = {self.workdir}/fernet-keys\n"
                # fernet_setup also makes receipt keys: keep them out of /etc/keystone,
                # which belongs to the machine's own (deployed) Keystone.
                f"[fernet_receipts]\nkey_repository = {self.workdir}/fernet-receipts\n"
                f"[credential]\nkey_repository = {self.workdir}/credential-keys\n")
        manage = [os.path.join(venv, "bin", "keystone-manage"), "--config-file", config]
        owner = ["--keystone-user", "root", "--keystone-group", "root"]
        for step in (["db_sync"], ["fernet_setup", *owner], ["credential_setup", *owner],
                     ["bootstrap", "--bootstrap-password", ADMIN_PASSWORD,
                      "--bootstrap-admin-url", self.url, "--bootstrap-internal-url", self.url,
                      "--bootstrap-public-url", self.url, "--bootstrap-region-id", "RegionOne"]):
            subprocess.run(manage + step, check=True, capture_output=True)
        wsgi_file = os.path.join(self.workdir, "keystone-wsgi.py")
        with open(wsgi_file, "w") as handle:
            handle.write(WSGI_FILE.format(config=config))
        self.log = os.path.join(self.workdir, "keystone.log")
        self.process = upstream.start_uwsgi(venv, wsgi_file, self.port, self.log, self.workdir)
        try:
            wait_for_http(self.url, self.process, self.log)
            self._create_projects_and_users()
        except BaseException:
            self.stop()  # leave no uwsgi behind when the session cannot start
            raise
        return self

    def stop(self):
        if self.process is not None:
            stop(self.process, signal.SIGINT)

    # --- a service's configuration ---------------------------------------------

    def authtoken(self, username, password):
        """[keystone_authtoken] options ({option: value}) of a service whose
        user (in project service) checks tokens against this Keystone."""
        return {"www_authenticate_uri": self.url, "auth_url": self.url,
                "auth_type": "password", "project_domain_name": "Default",
                "user_domain_name": "Default", "project_name": "service",
                "username": username, "password": password}

    def authtoken_section(self, username, password):
        """The same as INI text."""
        options = self.authtoken(username, password)
        return "[keystone_authtoken]\n" + "".join(
            f"{option} = {value}\n" for option, value in options.items())

    # --- Keystone's API, as the admin -----------------------------------------

    def token(self, user="admin", password=ADMIN_PASSWORD, project="admin"):
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
        response = requests.post(f"{self.url}/auth/tokens", json=body, timeout=30)
        response.raise_for_status()
        return response.headers["X-Subject-Token"]

    def admin(self, method, path, body=None):
        response = requests.request(method, f"{self.url}{path}", json=body, timeout=30,
                                    headers={"X-Auth-Token": self.token()})
        response.raise_for_status()
        return response.json() if response.content else None

    def _find(self, collection, name):
        return self.admin("GET", f"/{collection}?name={name}")[collection][0]["id"]

    def _create_projects_and_users(self):
        roles = {role: self._find("roles", role) for role in ("admin", "member", "reader")}
        for project in ("service", "demo"):
            self.ids[project] = self.admin("POST", "/projects", {"project": {
                "name": project, "domain_id": "default"}})["project"]["id"]
        for user, password, project, role in (
                ("nova", NOVA_PASSWORD, "service", "admin"),
                ("demo-member", DEMO_PASSWORD, "demo", "member"),
                ("demo-member2", DEMO_PASSWORD, "demo", "member"),
                ("demo-reader", DEMO_PASSWORD, "demo", "reader")):
            user_id = self.admin("POST", "/users", {"user": {
                "name": user, "password": password, "domain_id": "default"}})["user"]["id"]
            self.ids[user] = user_id
            self.admin("PUT", f"/projects/{self.ids[project]}/users/{user_id}/roles/{roles[role]}")
        self.ids["admin-project"] = self._find("projects", "admin")

    def register_compute(self, url):
        """The compute service and its endpoints, as the install guide makes them."""
        service = self.admin("POST", "/services", {"service": {
            "name": "nova", "type": "compute", "description": "OpenStack Compute"}})["service"]
        for interface in ("public", "internal", "admin"):
            self.admin("POST", "/endpoints", {"endpoint": {
                "service_id": service["id"], "interface": interface, "url": url,
                "region_id": "RegionOne"}})

    def environment(self, user="admin", password=ADMIN_PASSWORD, project="admin"):
        """The OS_* variables of an openrc for ``user``; nothing else of the
        caller's OS_* or clouds.yaml leaks in."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
        env.update({
            "OS_AUTH_URL": self.url, "OS_IDENTITY_API_VERSION": "3",
            "OS_USERNAME": user, "OS_PASSWORD": password, "OS_PROJECT_NAME": project,
            "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
            "OS_REGION_NAME": "RegionOne", "OS_INTERFACE": "public",
            "HOME": self.workdir, "NO_PROXY": "127.0.0.1,localhost",
        })
        return env


# --- nova-api on MariaDB, with cells ------------------------------------------------

@dataclasses.dataclass
class ComputeCloud:
    keystone: Keystone
    url: str            # the compute endpoint, http://127.0.0.1:PORT/v2.1
    databases: dict
    process: subprocess.Popen
    log: str
    memcached: str | None   # host:port of auth_token's token cache, if any

    def openstack(self, *args, user="admin", password=ADMIN_PASSWORD, project="admin",
                  timeout=120):
        """Run the real ``openstack`` command; (returncode, stdout, stderr)."""
        command = [os.path.join(cli.BIN, "openstack"), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                env=self.keystone.environment(user, password, project))
        return result

    def openstack_json(self, *args, **kwargs):
        result = self.openstack(*args, "-f", "json", **kwargs)
        assert result.returncode == 0, (args, result.stderr, self.tail())
        return json.loads(result.stdout) if result.stdout.strip() else None

    def as_member(self, user="demo-member"):
        return {"user": user, "password": DEMO_PASSWORD, "project": "demo"}

    def request(self, method, path, token=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["X-Auth-Token"] = token
        return requests.request(method, self.url + path, headers=headers, timeout=30,
                                **kwargs)

    def heartbeat(self):
        """What the services' report_interval does: mark them all as just seen."""
        from nova_runtime.db.main import models
        engine = sa.create_engine(self.databases["main"])
        with engine.begin() as connection:
            connection.execute(sa.update(models.Service).values(
                last_seen_up=sa.func.utc_timestamp()))
        engine.dispose()

    def tail(self, lines=40):
        with open(self.log) as handle:
            return "".join(handle.readlines()[-lines:])


def _databases(mariadb):
    prefix = f"api{uuid.uuid4().hex[:6]}_"
    names = {"api": f"{prefix}nova_api", "main": f"{prefix}nova", "cell0": f"{prefix}nova_cell0"}
    statements = []
    for name in names.values():
        statements.append(f"CREATE DATABASE `{name}`;")
        for host in ("localhost", "%"):
            statements.append(f"GRANT ALL PRIVILEGES ON `{name}`.* TO 'nova'@'{host}' "
                              "IDENTIFIED BY 'NOVA_DBPASS';")
    mariadb.sql("\n".join(statements))
    return {key: mariadb.url("nova", "NOVA_DBPASS", name) for key, name in names.items()}, names


def _add_services(cell_url):
    """What a conductor, a scheduler and two computes write when they start."""
    from nova_runtime.db.main import models
    now = sa.func.utc_timestamp()
    engine = sa.create_engine(cell_url)
    with engine.begin() as connection:
        for host, binary in (("controller", "nova-conductor"), ("controller", "nova-scheduler"),
                             ("compute1", "nova-compute"), ("compute2", "nova-compute")):
            service_id = connection.execute(sa.insert(models.Service).values(
                uuid=str(uuid.uuid4()), host=host, binary=binary, topic=binary[5:],
                report_count=1, last_seen_up=now, created_at=now, updated_at=now)).inserted_primary_key[0]
            if binary == "nova-compute":
                connection.execute(sa.insert(models.ComputeNode).values(
                    uuid=str(uuid.uuid4()), service_id=service_id, host=host,
                    hypervisor_hostname=host, hypervisor_type="QEMU",
                    hypervisor_version=7002000, cpu_info="{}", host_ip="127.0.0.1",
                    vcpus=4, memory_mb=8192, local_gb=40, vcpus_used=0, memory_mb_used=512,
                    local_gb_used=0, free_ram_mb=7680, free_disk_gb=40, running_vms=0,
                    current_workload=0, disk_available_least=40))
    engine.dispose()


@pytest.fixture(scope="session")
def keystone():
    workdir = tempfile.mkdtemp(prefix="nova-runtime-keystone-")
    server = Keystone(workdir).start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def _start_memcached(workdir):
    """A private memcached for auth_token's token cache, when Debian's is installed."""
    if not shutil.which("memcached"):
        return None, None
    port = free_port()
    user = ["-u", "memcache"] if os.geteuid() == 0 else []
    process = subprocess.Popen(["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0",
                                "-m", "16", *user], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, cwd=workdir)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return process, f"127.0.0.1:{port}"
        time.sleep(0.05)
    stop(process)
    return None, None


def memcached_items(server):
    """How many items the memcached at host:port holds."""
    host, port = server.split(":")
    with socket.create_connection((host, int(port)), 5) as sock:
        sock.sendall(b"stats\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            data += sock.recv(4096)
    stats = dict(line.split()[1:3] for line in data.decode().splitlines()
                 if line.startswith("STAT "))
    return int(stats["curr_items"])


@pytest.fixture(scope="session")
def compute_cloud(keystone, mariadb):
    from tests.functional.test_manage import manage, setup_cells
    workdir = tempfile.mkdtemp(prefix="nova-runtime-api-")
    urls, names = _databases(mariadb)
    port = free_port()
    memcached, memcached_server = _start_memcached(workdir)
    cache = f"memcached_servers = {memcached_server}\n" if memcached_server else ""
    process = None
    try:
        # write_nova_conf writes a [DEFAULT] first; oslo.config merges a second one.
        conf = cli.write_nova_conf(
            pathlib.Path(workdir, "nova.conf"), urls["api"], urls["main"], extra=(
                "[DEFAULT]\n"
                "enabled_apis = osapi_compute,metadata\n"
                "osapi_compute_listen = 127.0.0.1\n"
                f"osapi_compute_listen_port = {port}\n"
                # The metadata API on loopback and a free port: 8775 may be taken.
                "metadata_listen = 127.0.0.1\n"
                f"metadata_listen_port = {free_port()}\n"
                + keystone.authtoken_section("nova", NOVA_PASSWORD) + cache))
        setup_cells(conf)
        _add_services(urls["main"])
        assert manage(conf, "cell_v2", "discover_hosts").returncode == 0
        log = os.path.join(workdir, "nova-api.log")
        with open(log, "ab") as handle:
            process = subprocess.Popen(
                [os.path.join(cli.BIN, "nova-api"), "--config-file", str(conf)],
                stdout=handle, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/v2.1"
        wait_for_http(url, process, log)
        keystone.register_compute(url)
        yield ComputeCloud(keystone, url, urls, process, log, memcached_server)
    finally:
        if process is not None:
            stop(process)
        if memcached is not None:
            stop(memcached)
        with contextlib.suppress(Exception):
            mariadb.sql("\n".join(f"DROP DATABASE `{name}`;" for name in names.values()))
        shutil.rmtree(workdir, ignore_errors=True)
