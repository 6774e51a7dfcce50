"""Console tokens: the records, and POST /servers/{id}/remote-consoles through
the whole in-process stack (the API, nova-compute with the fake driver and
nova-conductor on a fake:// transport, SQLite databases)."""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import hashlib
import time
import urllib.parse
import uuid

import pytest
import sqlalchemy as sa

from nova_runtime import config, context as nova_context
from nova_runtime.api import app as api_app
from nova_runtime.db import engines, migration
from nova_runtime.db.api import models as api_models
from nova_runtime.db.main import models
from nova_runtime.objects import console_auth_tokens as tokens
from nova_runtime.objects import instances
from tests.unit.api.conftest import Client
from tests.unit.test_service import Services, quick_rpc_server_stop  # noqa: F401
from nova_runtime.objects import cell_mappings

PROXY_URL = "http://proxy.example.org:6080/vnc_auto.html"
TTL = 300


@pytest.fixture
def db_url(tmp_path):
    url = f"sqlite:///{tmp_path}/cell1.sqlite"
    migration.sync("main", url)
    yield url
    engines.dispose_all()


def add_instance(url, host="c1", vm_state="active", project_id="demo", task_state=None):
    return instances.create(url, {
        "uuid": str(uuid.uuid4()), "host": host, "node": host, "vm_state": vm_state,
        "task_state": task_state, "project_id": project_id, "user_id": "alice",
        "memory_mb": 512, "vcpus": 1, "root_gb": 1, "ephemeral_gb": 0})


def stored_rows(url):
    with engines.get_engine(url).connect() as connection:
        return [dict(row._mapping) for row in connection.execute(
            sa.select(models.ConsoleAuthToken))]


# --- the records ---------------------------------------------------------------------

def test_only_the_hash_is_stored_and_the_token_validates_until_it_expires(db_url):
    instance = add_instance(db_url)
    token = tokens.new_token()
    row = tokens.create(db_url, token_hash=tokens.hash_token(token), console_type="novnc",
                        host="192.0.2.5", port=5901, instance_uuid=instance["uuid"], ttl=TTL,
                        access_url_base=PROXY_URL, now=1000)
    assert row["expires"] == 1000 + TTL
    [stored] = stored_rows(db_url)
    assert stored["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(value) for value in stored.values()}

    found = tokens.validate(db_url, token, now=1000 + TTL - 1)
    assert (found["host"], found["port"], found["instance_uuid"]) == (
        "192.0.2.5", 5901, instance["uuid"])
    with pytest.raises(tokens.InvalidToken):
        tokens.validate(db_url, token, now=1000 + TTL)
    with pytest.raises(tokens.InvalidToken):
        tokens.validate(db_url, tokens.new_token(), now=1000)


def test_tokens_of_a_deleted_instance_are_refused(db_url):
    instance = add_instance(db_url)
    token = tokens.new_token()
    tokens.create(db_url, token_hash=tokens.hash_token(token), console_type="novnc",
                  host="192.0.2.5", port=5901, instance_uuid=instance["uuid"], ttl=TTL)
    instances.destroy(db_url, instance["uuid"])
    with pytest.raises(tokens.InvalidToken):
        tokens.validate(db_url, token)


def test_expired_tokens_of_a_host_go_when_a_new_one_is_stored(db_url):
    instance = add_instance(db_url)

    def store(host, now):
        tokens.create(db_url, token_hash=tokens.hash_token(tokens.new_token()),
                      console_type="novnc", host=host, port=5901,
                      instance_uuid=instance["uuid"], ttl=TTL, now=now)

    store("192.0.2.5", now=0)      # expired by 1000
    store("192.0.2.6", now=0)      # expired too, but another host's
    store("192.0.2.5", now=1000)
    assert sorted((row["host"], row["expires"]) for row in stored_rows(db_url)) == [
        ("192.0.2.5", 1000 + TTL), ("192.0.2.6", TTL)]
    assert tokens.destroy_expired(db_url, now=1000) == 1
    assert tokens.destroy_for_instance(db_url, instance["uuid"]) == 1


def test_access_url_carries_the_token_as_novnc_reads_it():
    assert tokens.access_url(PROXY_URL, "a-b_c") == (
        f"{PROXY_URL}?path=%3Ftoken%3Da-b_c")
    assert tokens.access_url("http://h/console?lang=en", "t") == (
        "http://h/console?lang=en&path=%3Ftoken%3Dt")


# --- the API, a compute and a conductor --------------------------------------------------

class ConsoleCloud:
    """cell1 on a fake transport (nova-conductor, nova-compute c1 with the
    fake driver) behind an in-process API with noauth2."""

    def __init__(self, tmp_path, cell_url, services):
        self.cell_url, self.services = cell_url, services
        self.api_url = f"sqlite:///{tmp_path}/api.sqlite"
        migration.sync("api", self.api_url)
        cell0_url = f"sqlite:///{tmp_path}/cell0.sqlite"
        migration.sync("main", cell0_url)
        cell_mappings.map_cell0(self.api_url, cell0_url)
        self.cell = cell_mappings.create_cell(self.api_url, "cell1", services.transport_url, cell_url)
        services.conductor()
        self.compute = services.compute("c1")
        self.compute.manager.conf.set_override("novncproxy_base_url", PROXY_URL, "vnc")
        self.compute.manager.conf.set_override("token_ttl", TTL, "consoleauth")
        cell_mappings.discover_hosts(self.api_url)
        conf = config.new_conf()
        config.load(conf, [], prog="test", default_config_files=[])
        conf.set_override("connection", self.api_url, "api_database")
        conf.set_override("auth_strategy", "noauth2", "api")
        conf.set_override("control_exchange", services.exchange)
        conf.set_override("rpc_response_timeout", 30)
        self.api_conf = conf
        self.client = Client(api_app.build(conf))

    def server(self, vm_state="active", spawned=True, **values):
        """An instance in cell1 on c1, known to the fake driver when ``spawned``."""
        instance = add_instance(self.cell_url, vm_state=vm_state, **values)
        with engines.get_engine(self.api_url).begin() as connection:
            connection.execute(sa.insert(api_models.InstanceMapping).values(
                instance_uuid=instance["uuid"], cell_id=self.cell.id,
                project_id=instance["project_id"], user_id="alice", queued_for_delete=False))
        if spawned:
            self.compute.manager.driver.spawn(
                nova_context.get_admin_context(), instance, {}, [], None, network_info=[])
        return instance

    def console(self, server_uuid, protocol="vnc", console_type="novnc", version="2.6",
                user="alice", project="demo"):
        return self.client(
            "POST", f"/v2.1/servers/{server_uuid}/remote-consoles",
            {"remote_console": {"protocol": protocol, "type": console_type}},
            user=user, project=project, version=version)


@pytest.fixture
def cloud(tmp_path, db_url):
    services = Services(tmp_path, db_url)
    try:
        yield ConsoleCloud(tmp_path, db_url, services)
    finally:
        services.stop_all()


def test_remote_console_url_is_the_computes_proxy_url_with_a_stored_token(cloud):
    server = cloud.server()
    before = int(time.time())
    response = cloud.console(server["uuid"])
    assert response.status_int == 200, response.data
    console = response.data["remote_console"]
    assert (console["protocol"], console["type"]) == ("vnc", "novnc")
    base, _, query = console["url"].partition("?")
    assert base == PROXY_URL and query.startswith("path=%3Ftoken%3D")
    path = urllib.parse.parse_qs(query)["path"][0]
    token = urllib.parse.parse_qs(path.lstrip("?"))["token"][0]

    [row] = stored_rows(cloud.cell_url)
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert row["instance_uuid"] == server["uuid"] and row["console_type"] == "novnc"
    assert before + TTL <= row["expires"] <= int(time.time()) + TTL
    assert row["access_url_base"] == PROXY_URL
    vnc = cloud.compute.manager.driver.get_vnc_console(None, server)
    assert (row["host"], row["port"]) == (vnc.host, vnc.port)
    assert tokens.validate(cloud.cell_url, token)["id"] == row["id"]

    # A second request gets a token of its own.
    again = cloud.console(server["uuid"]).data["remote_console"]["url"]
    assert again != console["url"] and len(stored_rows(cloud.cell_url)) == 2

    # A compute whose instance leaves (delete, migration) drops its tokens.
    conductor = cloud.compute.manager.conductor
    context = nova_context.get_admin_context()
    assert conductor.console_auth_tokens_destroy_for_instance(context, server["uuid"]) == 2
    with pytest.raises(tokens.InvalidToken):
        tokens.validate(cloud.cell_url, token)


def test_remote_console_refusals(cloud):
    server = cloud.server()

    def fault(response, status):
        assert response.status_int == status, response.data
        return next(iter(response.data.values()))["message"]

    message = fault(cloud.console(server["uuid"], protocol="spice", console_type="spice-html5"),
                    400)
    assert "spice" in message and "vnc" in message and "novnc" in message
    assert "xvpvnc" in fault(cloud.console(server["uuid"], console_type="xvpvnc"), 400)
    assert "field/attribute protocol" in fault(cloud.console(server["uuid"], protocol="telnet"),
                                               400)
    assert "mks" in fault(cloud.console(server["uuid"], protocol="mks", console_type="webmks"),
                          400)  # in the schema from 2.8 only
    assert "vnc" in fault(cloud.console(server["uuid"], protocol="mks", console_type="webmks",
                                        version="2.8"), 400)
    fault(cloud.console(server["uuid"], version="2.5"), 404)
    fault(cloud.console(str(uuid.uuid4())), 404)
    fault(cloud.console(server["uuid"], user="mallory", project="other"), 403)

    stopped = cloud.server(vm_state="stopped")
    assert "vm_state stopped" in fault(cloud.console(stopped["uuid"]), 409)
    deleting = cloud.server(task_state="deleting")
    assert "task_state deleting" in fault(cloud.console(deleting["uuid"]), 409)
    lost = cloud.server(spawned=False)  # the hypervisor does not know it
    assert "not running on its hypervisor" in fault(cloud.console(lost["uuid"]), 409)
    assert stored_rows(cloud.cell_url) == []

    cloud.compute.manager.conf.set_override("enabled", False, "vnc")
    assert "disabled" in fault(cloud.console(server["uuid"]), 400)
    assert stored_rows(cloud.cell_url) == []


def test_legacy_get_vnc_console_action(cloud):
    """os-getVNCConsole (2.1 to 2.5) through POST /servers/{id}/action."""
    client = Client(api_app.build(cloud.api_conf))
    server = cloud.server()

    def action(body, version=None):
        return client("POST", f"/v2.1/servers/{server['uuid']}/action", body, user="alice",
                      project="demo", version=version)

    response = action({"os-getVNCConsole": {"type": "novnc"}})
    assert response.status_int == 200, response.data
    assert response.data["console"]["type"] == "novnc"
    assert response.data["console"]["url"].startswith(f"{PROXY_URL}?path=%3Ftoken%3D")
    assert len(stored_rows(cloud.cell_url)) == 1
    assert action({"os-getVNCConsole": {"type": "xvpvnc"}}).status_int == 400
    assert action({"os-getVNCConsole": {}}).status_int == 400
    assert action({"os-getVNCConsole": {"type": "novnc"}}, version="2.6").status_int == 404
