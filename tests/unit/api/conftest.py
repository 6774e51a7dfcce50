"""An in-process Compute API on SQLite, with noauth2, for fast tests."""

import datetime
import json
import uuid

import pytest
import sqlalchemy as sa
import webob

from nova_runtime import config
from nova_runtime.api import app as api_app
from nova_runtime.db import engines, migration
from nova_runtime.db.main import models as cell_models
from nova_runtime.objects import cell_mappings


class Client:
    def __init__(self, application):
        self.application = application

    def __call__(self, method, path, body=None, user="admin", project="admin-project",
                 version=None, headers=None):
        req = webob.Request.blank(path, method=method)
        req.headers["X-Auth-Token"] = f"{user}:{project}"
        if version:
            req.headers["OpenStack-API-Version"] = f"compute {version}"
        if body is not None:
            req.body = json.dumps(body).encode() if not isinstance(body, bytes) else body
            req.content_type = "application/json"
        for key, value in (headers or {}).items():
            req.headers[key] = value
        response = req.get_response(self.application)
        is_json = response.content_type == "application/json"
        response.data = json.loads(response.body) if response.body and is_json else None
        return response


def add_service(db_url, host, binary="nova-compute", **values):
    engine = engines.get_engine(db_url)
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    with engine.begin() as connection:
        result = connection.execute(sa.insert(cell_models.Service).values(
            uuid=str(uuid.uuid4()), host=host, binary=binary, topic=binary[5:],
            report_count=1, last_seen_up=now, updated_at=now, created_at=now, **values))
        return result.inserted_primary_key[0]


def add_node(db_url, host, service_id):
    with engines.get_engine(db_url).begin() as connection:
        connection.execute(sa.insert(cell_models.ComputeNode).values(
            uuid=str(uuid.uuid4()), host=host, hypervisor_hostname=host, service_id=service_id,
            hypervisor_type="QEMU", hypervisor_version=8002000,
            cpu_info='{"arch": "x86_64"}', host_ip="192.0.2.1",
            vcpus=4, memory_mb=8192, local_gb=100, vcpus_used=1, memory_mb_used=512,
            local_gb_used=1, free_ram_mb=7680, free_disk_gb=99, running_vms=0,
            current_workload=0, disk_available_least=90, mapped=1))


@pytest.fixture
def cloud(tmp_path):
    """(client, urls): an API on SQLite with cell0, cell1, and in cell1 a
    conductor on 'ctl' and computes on 'c1' and 'c2'."""
    api_url = f"sqlite:///{tmp_path}/api.sqlite"
    cell_url = f"sqlite:///{tmp_path}/cell1.sqlite"
    migration.sync("api", api_url)
    migration.sync("main", cell_url)
    migration.sync("main", f"sqlite:///{tmp_path}/cell0.sqlite")
    cell_mappings.map_cell0(api_url, f"sqlite:///{tmp_path}/cell0.sqlite")
    cell_mappings.create_cell(api_url, "cell1", "rabbit://x:y@127.0.0.1/", cell_url)
    add_service(cell_url, "ctl", "nova-conductor")
    for host in ("c1", "c2"):
        add_node(cell_url, host, add_service(cell_url, host))
    cell_mappings.discover_hosts(api_url)
    conf = config.new_conf()
    config.load(conf, [], prog="test", default_config_files=[])
    conf.set_override("connection", api_url, "api_database")
    conf.set_override("auth_strategy", "noauth2", "api")
    yield Client(api_app.build(conf)), {"api": api_url, "cell1": cell_url}
    engines.dispose_all()


@pytest.fixture
def client(cloud):
    return cloud[0]
