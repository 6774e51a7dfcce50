"""/os-migrations and /servers/{id}/migrations: the moves recorded in the
cells, filtered, paged from 2.59, with the fields of each microversion."""

import datetime

import sqlalchemy as sa

from nova_runtime.db import engines
from nova_runtime.db.main import models as cell_models
from nova_runtime.objects import migrations
from tests.unit.api.test_servers import add_server

MEMBER = {"user": "alice", "project": "demo"}
MANAGER = {"user": "manager", "project": "demo"}


def add_migration(url, server, status, migration_type="resize", minutes=0, **values):
    made = migrations.create(url, {
        "instance_uuid": server, "source_compute": "c1", "source_node": "c1",
        "dest_compute": "c2", "dest_node": "c2", "dest_host": "192.0.2.2",
        "old_instance_type_id": 1, "new_instance_type_id": 2, "status": status,
        "migration_type": migration_type, "user_id": "alice", "project_id": "demo",
        **values})
    when = datetime.datetime(2026, 12, 1, 12, minutes)
    with engines.get_engine(url).begin() as connection:
        connection.execute(sa.update(cell_models.Migration).filter_by(id=made["id"]).values(
            created_at=when, updated_at=when))
    return made


def test_list_filters_and_microversion_fields(cloud):
    client, urls = cloud
    server = add_server(urls, "vm")
    resize = add_migration(urls["cell1"], server, "finished", minutes=1)
    moved = add_migration(urls["cell1"], server, "confirmed", "migration", minutes=2,
                          source_compute="c2", dest_compute="ctl")
    add_migration(urls["cell1"], server, "error", hidden=True, minutes=3)

    listed = client("GET", "/v2.1/os-migrations")
    assert listed.status_int == 200
    body = listed.data["migrations"]
    assert [m["id"] for m in body] == [moved["id"], resize["id"]]  # newest first, no hidden
    assert set(body[1]) == {"id", "instance_uuid", "status", "old_instance_type_id",
                            "new_instance_type_id", "source_compute", "source_node",
                            "dest_compute", "dest_host", "dest_node", "created_at",
                            "updated_at"}
    assert body[1]["created_at"] == "2026-12-01T12:01:00.000000"

    def ids(query, version=None):
        response = client("GET", f"/v2.1/os-migrations?{query}", version=version)
        return [m["id"] for m in response.data["migrations"]]
    assert ids("status=finished") == [resize["id"]]
    assert ids("host=ctl") == [moved["id"]]
    assert ids("source_compute=c1") == [resize["id"]]
    assert ids("migration_type=migration") == [moved["id"]]
    assert ids("instance_uuid=" + server) == [moved["id"], resize["id"]]

    v223 = client("GET", "/v2.1/os-migrations", version="2.23").data["migrations"][0]
    assert v223["migration_type"] == "migration" and "uuid" not in v223
    v280 = client("GET", "/v2.1/os-migrations", version="2.80").data["migrations"][0]
    assert (v280["uuid"], v280["user_id"], v280["project_id"]) == (
        moved["uuid"], "alice", "demo")
    assert ids("changes-since=2026-12-01T12:02:00Z", "2.59") == [moved["id"]]
    assert ids("changes-before=2026-12-01T12:01:30Z", "2.66") == [resize["id"]]
    # Unknown filters are refused from 2.59.
    assert client("GET", "/v2.1/os-migrations?foo=1", version="2.59").status_int == 400


def test_paging_from_2_59(cloud):
    client, urls = cloud
    server = add_server(urls, "vm")
    made = [add_migration(urls["cell1"], server, "confirmed", minutes=i) for i in range(3)]
    first = client("GET", "/v2.1/os-migrations?limit=2", version="2.59").data
    assert [m["uuid"] for m in first["migrations"]] == [made[2]["uuid"], made[1]["uuid"]]
    assert first["migrations_links"][0]["href"].endswith(f"marker={made[1]['uuid']}")
    rest = client("GET", f"/v2.1/os-migrations?limit=2&marker={made[1]['uuid']}",
                  version="2.59").data
    assert [m["uuid"] for m in rest["migrations"]] == [made[0]["uuid"]]
    assert client("GET", "/v2.1/os-migrations?marker=nope", version="2.59").status_int == 400


def test_only_admin_lists_every_project(cloud):
    client, _urls = cloud
    assert client("GET", "/v2.1/os-migrations", **MEMBER).status_int == 403


def test_server_migrations_are_its_live_ones_in_progress(cloud):
    client, urls = cloud
    server = add_server(urls, "vm")
    add_migration(urls["cell1"], server, "finished")  # a resize: never listed here
    live = add_migration(urls["cell1"], server, "running", "live-migration")
    add_migration(urls["cell1"], server, "completed", "live-migration")
    path = f"/v2.1/servers/{server}/migrations"
    assert client("GET", path).status_int == 404  # before 2.23
    listed = client("GET", path, version="2.23").data["migrations"]
    assert [m["id"] for m in listed] == [live["id"]]
    assert listed[0]["server_uuid"] == server and listed[0]["memory_total_bytes"] is None
    shown = client("GET", f"{path}/{live['id']}", version="2.23")
    assert shown.data["migration"]["dest_compute"] == "c2"
    assert client("GET", f"{path}/12345", version="2.23").status_int == 404
    # os-migrations shows the live one's link.
    links = [m.get("links") for m in client("GET", "/v2.1/os-migrations",
                                            version="2.23").data["migrations"]]
    assert sum(1 for link in links if link) == 1
