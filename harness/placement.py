"""A real Placement API for tests and benchmarks.

``Placement`` installs upstream openstack-placement and uwsgi from PyPI once,
in a virtualenv of its own cached under /var/tmp (harness/upstream.py), then for
each test session or benchmark: a placement database on the tests' private MariaDB,
``placement-manage db sync``, a placement.conf whose [keystone_authtoken]
checks tokens against the test Keystone, the API served by uwsgi on a private
loopback port, and what the install guide creates in Keystone: a
``placement`` user with the admin role on the service project, and the
placement service with its public, internal and admin endpoints.

``nova_options()`` are the [placement] options of a nova.conf that reaches it
through the catalog, as the toolkit writes them; ``delete_providers`` removes
what computes of earlier clouds left in it.
"""

import contextlib
import os
import signal
import subprocess
import time
import uuid

import requests

from harness import nova_conf, upstream
from harness.keystone import ADMIN_PASSWORD
from harness.processes import free_port, stop, wait_for_http

# jsonschema as the toolkit pins it (roles/placement/defaults/main.yml says why).
PLACEMENT_PASSWORD = "PLACEMENT_PASS"
DB_PASSWORD = "PLACEMENT_DBPASS"
WSGI_FILE = """\
import os
os.environ["OS_PLACEMENT_CONFIG_DIR"] = {config_dir!r}
from placement.wsgi.api import application
"""
# Placement's connections read committed data, as the toolkit configures
# them (roles/placement/vars/main.yml says why).
READ_COMMITTED = "&init_command=SET%20SESSION%20TRANSACTION%20ISOLATION%20LEVEL%20READ%20COMMITTED"
# The newest microversion the tests read Placement with.
MICROVERSION = "placement 1.36"


class Placement:
    def __init__(self, workdir, keystone, mariadb):
        self.workdir, self.keystone, self.mariadb = workdir, keystone, mariadb
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = f"placement_{uuid.uuid4().hex[:8]}"
        self.process = None
        self.log = os.path.join(workdir, "placement-api.log")

    # --- life cycle -----------------------------------------------------------

    def start(self):
        venv = upstream.role_venv("placement")
        statements = [f"CREATE DATABASE `{self.database}`;"]
        for host in ("localhost", "%"):
            statements.append(f"GRANT ALL PRIVILEGES ON `{self.database}`.* TO "
                              f"'placement'@'{host}' IDENTIFIED BY '{DB_PASSWORD}';")
        self.mariadb.sql("\n".join(statements))
        self._register_in_keystone()
        with open(os.path.join(self.workdir, "placement.conf"), "w") as handle:
            handle.write(
                "[DEFAULT]\nuse_stderr = true\n"
                "[api]\nauth_strategy = keystone\n"
                "[placement_database]\n"
                f"connection = {self.mariadb.url('placement', DB_PASSWORD, self.database)}"
                f"{READ_COMMITTED}\n"
                + nova_conf.render({"keystone_authtoken": self.keystone.authtoken(
                    "placement", PLACEMENT_PASSWORD)}))
        # --config-file: placement-manage would read /etc/placement otherwise.
        synced = subprocess.run(
            [os.path.join(venv, "bin", "placement-manage"), "--config-file",
             os.path.join(self.workdir, "placement.conf"), "db", "sync"],
            capture_output=True, text=True)
        if synced.returncode:
            raise RuntimeError(f"placement-manage db sync failed:\n{synced.stderr[-3000:]}")
        wsgi_file = os.path.join(self.workdir, "placement-wsgi.py")
        with open(wsgi_file, "w") as handle:
            handle.write(WSGI_FILE.format(config_dir=self.workdir))
        # Four threads: two schedulers, several computes and the tests call at once.
        self.process = upstream.start_uwsgi(venv, wsgi_file, self.port, self.log, self.workdir,
                                            threads=4)
        try:
            wait_for_http(self.url, self.process, self.log)
        except BaseException:
            self.stop()
            raise
        return self

    def restart(self, down=2):
        """kill -9 of uwsgi (its master and its worker), ``down`` seconds
        without Placement, then uwsgi again on the same port and database."""
        children = subprocess.run(["pgrep", "-P", str(self.process.pid)],
                                  capture_output=True, text=True).stdout.split()
        self.process.kill()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        self.process.wait()
        time.sleep(down)
        venv = upstream.role_venv("placement")
        self.process = upstream.start_uwsgi(venv, os.path.join(self.workdir, "placement-wsgi.py"),
                                            self.port, self.log, self.workdir, threads=4)
        wait_for_http(self.url, self.process, self.log)

    def stop(self):
        if self.process is not None:
            stop(self.process, signal.SIGINT)
            self.process = None
        self.mariadb.sql(f"DROP DATABASE IF EXISTS `{self.database}`;")

    def _register_in_keystone(self):
        """The placement user (admin on the service project) and the catalog entry."""
        keystone = self.keystone
        admin_role = keystone.admin("GET", "/roles?name=admin")["roles"][0]["id"]
        found = keystone.admin("GET", "/users?name=placement")["users"]
        if found:
            user_id = found[0]["id"]
            keystone.admin("PATCH", f"/users/{user_id}",
                           {"user": {"password": PLACEMENT_PASSWORD}})
        else:
            user_id = keystone.admin("POST", "/users", {"user": {
                "name": "placement", "password": PLACEMENT_PASSWORD,
                "domain_id": "default"}})["user"]["id"]
        keystone.admin("PUT", f"/projects/{keystone.ids['service']}/users/{user_id}"
                              f"/roles/{admin_role}")
        services = keystone.admin("GET", "/services?type=placement")["services"]
        for service in services:  # a previous session's, with another port
            keystone.admin("DELETE", f"/services/{service['id']}")
        service = keystone.admin("POST", "/services", {"service": {
            "name": "placement", "type": "placement",
            "description": "Placement API"}})["service"]
        for interface in ("public", "internal", "admin"):
            keystone.admin("POST", "/endpoints", {"endpoint": {
                "service_id": service["id"], "interface": interface, "url": self.url,
                "region_id": "RegionOne"}})

    # --- for the tests ----------------------------------------------------------

    def nova_options(self):
        """nova.conf's [placement] options, as the toolkit sets them (the
        catalog gives the URL)."""
        return {"region_name": "RegionOne", "project_domain_name": "Default",
                "user_domain_name": "Default", "project_name": "service",
                "auth_type": "password", "auth_url": self.keystone.url,
                "username": "placement", "password": PLACEMENT_PASSWORD}

    def nova_conf_section(self):
        """The same as INI text."""
        return nova_conf.render({"placement": self.nova_options()})

    def request(self, method, path, token=None):
        """``method`` ``path`` as the admin (with ``token``, or a new one); the
        JSON body (None on 404 or no body)."""
        response = requests.request(method, self.url + path, timeout=30, headers={
            "X-Auth-Token": token or self.keystone.token("admin", ADMIN_PASSWORD, "admin"),
            "OpenStack-API-Version": MICROVERSION})
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json() if response.content else None

    def get(self, path):
        return self.request("GET", path)

    def providers_with_inventory(self):
        """How many resource providers have VCPU inventory (computes that reported)."""
        return len(self.get("/resource_providers?resources=VCPU:1")["resource_providers"])

    def delete_providers(self, wanted):
        """Delete the resource providers whose names ``wanted`` (a predicate)
        accepts, with their consumers' allocations: computes of the same
        names in an earlier cloud leave theirs behind, and Placement refuses a
        second provider of the same name."""
        token = self.keystone.token("admin", ADMIN_PASSWORD, "admin")
        for provider in self.request("GET", "/resource_providers", token)["resource_providers"]:
            if wanted(provider["name"]):
                path = f"/resource_providers/{provider['uuid']}"
                for consumer in self.request("GET", f"{path}/allocations", token)["allocations"]:
                    self.request("DELETE", f"/allocations/{consumer}", token)
                self.request("DELETE", path, token)

    def tail(self, lines=40):
        with open(self.log) as handle:
            return "".join(handle.readlines()[-lines:])

