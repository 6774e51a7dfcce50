"""nova-api alone, on the private MariaDB, behind a real Keystone: what the
API tests that need no other daemon run against.

``ComputeCloud.running(keystone, mariadb)``: its databases, cells set up with
nova-manage, a few services and compute nodes written into the cell database
as nova-compute and nova-conductor would, memcached as auth_token's token
cache (when installed), and nova-api started as a real process (the Compute
API and the metadata API, on free ports), registered in Keystone's catalog.
"""

import contextlib
import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import uuid

import requests
import sqlalchemy as sa

from harness import cli, nova_conf
from harness.databases import nova_databases
from harness.keystone import ADMIN_PASSWORD, DEMO_PASSWORD, NOVA_PASSWORD, Keystone
from harness.memcached import start_memcached
from harness.processes import free_port, stop, wait_for_http


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

    @staticmethod
    @contextlib.contextmanager
    def running(keystone, mariadb):
        """The cloud, started; everything it started stopped and removed at the end."""
        workdir = tempfile.mkdtemp(prefix="nova-runtime-api-")
        memcached, memcached_server = start_memcached(workdir)
        try:
            with nova_databases(mariadb, f"api{uuid.uuid4().hex[:6]}_") as urls:
                process, url, log = ComputeCloud._start(keystone, urls, workdir,
                                                        memcached_server)
                try:
                    yield ComputeCloud(keystone, url, urls, process, log, memcached_server)
                finally:
                    stop(process)
        finally:
            if memcached is not None:
                stop(memcached)
            shutil.rmtree(workdir, ignore_errors=True)

    @staticmethod
    def _start(keystone, urls, workdir, memcached_server):
        """Cells, services, nova-api; (its process, its URL, its log)."""
        port = free_port()
        cache = {"memcached_servers": memcached_server} if memcached_server else {}
        conf = nova_conf.write(pathlib.Path(workdir, "nova.conf"), {
            "DEFAULT": {"transport_url": nova_conf.TRANSPORT_URL,
                        "enabled_apis": "osapi_compute,metadata",
                        "osapi_compute_listen": "127.0.0.1", "osapi_compute_listen_port": port,
                        # The metadata API on loopback and a free port: 8775 may be taken.
                        "metadata_listen": "127.0.0.1", "metadata_listen_port": free_port()},
            "api_database": {"connection": urls["api"]},
            "database": {"connection": urls["main"]},
            "keystone_authtoken": dict(keystone.authtoken("nova", NOVA_PASSWORD), **cache)})
        cli.setup_cells(conf)
        add_services(urls["main"])
        assert cli.manage(conf, "cell_v2", "discover_hosts").returncode == 0
        log = os.path.join(workdir, "nova-api.log")
        with open(log, "ab") as handle:
            process = subprocess.Popen(
                [os.path.join(cli.BIN, "nova-api"), "--config-file", str(conf)],
                stdout=handle, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/v2.1"
        try:
            wait_for_http(url, process, log)
            keystone.register_compute(url)
        except BaseException:
            stop(process)
            raise
        return process, url, log


def add_services(cell_url):
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
