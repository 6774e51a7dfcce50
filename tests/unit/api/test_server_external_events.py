"""POST /os-server-external-events: one answer per event (200, 404, 422,
400), 207 overall when any failed; the names accepted by microversion."""

import uuid

from nova_runtime.api.schemas import server_external_events as schemas
from tests.unit.api.test_servers import add_server

SERVICE = {"user": "neutron", "project": "service", "headers": {"X-Roles": "service"}}
MEMBER = {"user": "alice", "project": "demo"}


def post(client, events, version=None, **who):
    return client("POST", "/v2.1/os-server-external-events", {"events": events},
                  version=version, **who)


def test_each_event_gets_its_code(cloud):
    client, urls = cloud
    on_host = add_server(urls, "vm", host="c1")
    no_host = add_server(urls, "building", host=None)
    unknown = str(uuid.uuid4())
    ok = post(client, [{"name": "network-changed", "server_uuid": on_host}], **SERVICE)
    assert ok.status_int == 200
    assert ok.data == {"events": [{"name": "network-changed", "server_uuid": on_host,
                                   "status": "completed", "code": 200}]}
    mixed = post(client, [
        {"name": "network-vif-plugged", "server_uuid": on_host, "tag": "port"},
        {"name": "network-changed", "server_uuid": unknown},
        {"name": "network-changed", "server_uuid": no_host},
        {"name": "power-update", "server_uuid": on_host},
    ], version="2.76")
    assert mixed.status_int == 207
    assert [(e["code"], e["status"]) for e in mixed.data["events"]] == [
        (200, "completed"), (404, "failed"), (422, "failed"), (400, "failed")]


def test_names_by_microversion_and_bad_bodies(cloud):
    client, urls = cloud
    server = add_server(urls, "vm")
    event = {"name": "volume-extended", "server_uuid": server, "tag": "vol"}
    assert post(client, [event]).status_int == 400
    assert post(client, [event], version="2.51").status_int == 200
    assert "volume-reimaged" not in schemas.event_names("2.92")
    assert "volume-reimaged" in schemas.event_names("2.93")
    assert post(client, []).status_int == 400
    assert post(client, [{"name": "network-changed"}]).status_int == 400
    assert post(client, [{"name": "network-changed", "server_uuid": server,
                          "extra": 1}]).status_int == 400


def test_only_services_and_admins(cloud):
    client, urls = cloud
    server = add_server(urls, "vm")
    event = [{"name": "network-changed", "server_uuid": server}]
    assert post(client, event, **MEMBER).status_int == 403
    assert post(client, event).status_int == 200  # admin
