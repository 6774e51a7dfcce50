"""The end-to-end API tests' cloud: ``FullCloud``, harness/cloud.py's Cloud
with Keystone and Glance (harness/keystone.py, harness/glance.py), nova-api
behind Keystone, two nova-conductors (the super-conductor and the cell's
conductor; with one message queue for the API level and cell1 they share the
conductor topic, as in a single-cell deployment), nova-scheduler and the
computes of ``FULL_COMPUTES`` (c1, c2, c3, 4 GiB RAM and 4 vCPUs each,
nothing reserved, the scheduler's default weighers). The compute and image
endpoints are registered in a region of their own (``RegionFull-<port>``), so
that this cloud does not collide with other clouds' compute endpoints in the
same Keystone. ``FullCloud.openstack`` runs the real ``openstack`` command
against it as the admin, a member or a reader of the demo project; the
m1.tiny flavor (512 MB, 1 vCPU, 1 GB) and the ``cirros`` image exist.

``FullCloud(..., placement=...)`` (harness/placement.py) has its daemons use
Placement, as deployed (the fault-injection suite's cloud); the API tests'
``full_cloud`` fixture runs without.
"""

import json
import os
import pathlib
import subprocess

import requests

from harness import cli
from harness.cloud import Cloud, Compute
from harness.keystone import ADMIN_PASSWORD, DEMO_PASSWORD, NOVA_PASSWORD
from harness.nova_conf import merged
from harness.processes import free_port, stop, wait_for_http

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

