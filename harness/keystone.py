"""A real Keystone: upstream keystone from PyPI.

``Keystone`` installs upstream keystone and uwsgi from PyPI once, in their own
virtualenv cached under /var/tmp (about 45 s the first time, harness/upstream.py),
then for each test session or benchmark configures a Keystone on SQLite with
fernet tokens, bootstraps the admin, serves it with uwsgi on a private loopback
port, and creates what the install guide creates: a service project with the
nova user, and a demo project with a member user and a reader user.
"""

import os
import signal
import subprocess

import requests

from harness import upstream
from harness.processes import free_port, stop, wait_for_http

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
    def __init__(self, workdir, memcached=None):
        """``memcached``: "host:port" of a memcached for Keystone's own cache
        ([cache], as roles/keystone configures it); without it every token
        validation is worked out afresh (about 15x the CPU)."""
        self.workdir = workdir
        self.memcached = memcached
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
            if self.memcached:
                handle.write("[cache]\nenabled = true\nbackend = oslo_cache.memcache_pool\n"
                             f"memcache_servers = {self.memcached}\n")
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
