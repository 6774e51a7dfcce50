"""A real Glance for tests and benchmarks: upstream glance from PyPI.

``Glance`` installs glance and uwsgi once into a virtualenv cached under
/var/tmp (about 30 s the first time, harness/upstream.py), then for each test
session or benchmark configures it as the toolkit's glance role does — file store,
keystone auth_token against the test Keystone (a ``glance`` service user),
served by uwsgi on a private loopback port — on SQLite, registers the image
service in Keystone's catalog, and uploads a small public qcow2 image made
with ``qemu-img create`` (``cirros``).
"""

import os
import shutil
import signal
import subprocess

import requests

from harness import upstream
from harness.processes import free_port, stop, wait_for_http

GLANCE_PASSWORD = "GLANCE_PASS"
WSGI_FILE = """\
import os
os.environ["OS_GLANCE_CONFIG_DIR"] = {config_dir!r}
from glance.wsgi.api import application
"""


class Glance:
    def __init__(self, keystone, workdir):
        self.keystone = keystone
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.images = {}

    def start(self):
        venv = upstream.role_venv("glance")
        self._service_user()
        config_dir = os.path.join(self.workdir, "etc")
        os.makedirs(config_dir)
        for name in ("images", "staging", "tasks", "lock"):
            os.makedirs(os.path.join(self.workdir, name))
        shutil.copy(os.path.join(venv, "etc", "glance", "glance-api-paste.ini"), config_dir)
        config = os.path.join(config_dir, "glance-api.conf")
        keystone_url = self.keystone.url.removesuffix("/v3")
        with open(config, "w") as handle:
            handle.write(
                "[DEFAULT]\n"
                "enabled_backends = fs:file\n"
                f"worker_self_reference_url = {self.url}\n"
                f"[database]\nconnection = sqlite:///{self.workdir}/glance.db\n"
                "[keystone_authtoken]\n"
                f"www_authenticate_uri = {keystone_url}\nauth_url = {keystone_url}\n"
                "auth_type = password\nproject_domain_name = Default\n"
                "user_domain_name = Default\nproject_name = service\n"
                f"username = glance\npassword = {GLANCE_PASSWORD}\n"
                "[paste_deploy]\nflavor = keystone\n"
                "[glance_store]\ndefault_backend = fs\n"
                f"[fs]\nfilesystem_store_datadir = {self.workdir}/images\n"
                f"[os_glance_staging_store]\nfilesystem_store_datadir = {self.workdir}/staging\n"
                f"[os_glance_tasks_store]\nfilesystem_store_datadir = {self.workdir}/tasks\n"
                f"[oslo_concurrency]\nlock_path = {self.workdir}/lock\n")
        sync = subprocess.run([os.path.join(venv, "bin", "glance-manage"), "--config-file",
                               config, "db_sync"], capture_output=True, text=True)
        if sync.returncode:
            raise RuntimeError(f"glance-manage db_sync failed:\n{sync.stderr[-3000:]}")
        wsgi_file = os.path.join(self.workdir, "glance-wsgi.py")
        with open(wsgi_file, "w") as handle:
            handle.write(WSGI_FILE.format(config_dir=config_dir))
        self.log = os.path.join(self.workdir, "glance.log")
        self.process = upstream.start_uwsgi(venv, wsgi_file, self.port, self.log, self.workdir)
        try:
            wait_for_http(self.url, self.process, self.log)
            self._register()
            self.images["cirros"] = self.upload("cirros", self.make_qcow2("cirros"))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        if self.process is not None:
            stop(self.process, signal.SIGINT)

    def _service_user(self):
        roles = self.keystone.admin("GET", "/roles?name=admin")["roles"]
        user = self.keystone.admin("POST", "/users", {"user": {
            "name": "glance", "password": GLANCE_PASSWORD, "domain_id": "default"}})["user"]
        self.keystone.admin(
            "PUT", f"/projects/{self.keystone.ids['service']}/users/{user['id']}/roles/"
                   f"{roles[0]['id']}")

    def _register(self):
        service = self.keystone.admin("POST", "/services", {"service": {
            "name": "glance", "type": "image", "description": "OpenStack Image"}})["service"]
        for interface in ("public", "internal", "admin"):
            self.keystone.admin("POST", "/endpoints", {"endpoint": {
                "service_id": service["id"], "interface": interface, "url": self.url,
                "region_id": "RegionOne"}})

    # --- images -------------------------------------------------------------------

    def make_qcow2(self, name, size="16M"):
        path = os.path.join(self.workdir, f"{name}.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", path, size], check=True)
        return path

    def request(self, method, path, token=None, **kwargs):
        headers = dict(kwargs.pop("headers", {}))
        headers["X-Auth-Token"] = token or self.keystone.token()
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=60,
                                **kwargs)

    def upload(self, name, path, visibility="public", token=None, **properties):
        """Create and upload an image; its id."""
        created = self.request("POST", "/v2/images", token, json={
            "name": name, "disk_format": "qcow2", "container_format": "bare",
            "visibility": visibility, **properties})
        created.raise_for_status()
        image_id = created.json()["id"]
        with open(path, "rb") as data:
            uploaded = self.request("PUT", f"/v2/images/{image_id}/file", token, data=data,
                                    headers={"Content-Type": "application/octet-stream"})
        uploaded.raise_for_status()
        return image_id

    def show(self, image_id, token=None):
        response = self.request("GET", f"/v2/images/{image_id}", token)
        return response.json() if response.status_code == 200 else None

