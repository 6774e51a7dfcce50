"""/servers/{id}/tags (2.26), the tags attribute of servers and the tag
filters of the list, on the in-process API (tests/unit/api/conftest.py)."""

import uuid

import pytest

from nova_runtime.db import engines
from nova_runtime.objects import instances, tags
from tests.unit.api.test_servers import MEMBER, OTHER, add_build_request, add_server

V = "2.26"


def tags_of(client, server, version=V, **who):
    return client("GET", f"/v2.1/servers/{server}/tags", version=version, **(who or MEMBER))


def put_tag(client, server, tag, **who):
    return client("PUT", f"/v2.1/servers/{server}/tags/{tag}", version=V, **(who or MEMBER))


def test_add_check_replace_and_delete_tags(cloud):
    client, urls = cloud
    server = add_server(urls, "web")
    assert tags_of(client, server).data == {"tags": []}

    created = put_tag(client, server, "blue")
    assert created.status_int == 201
    assert created.headers["Location"].endswith(f"/v2.1/servers/{server}/tags/blue")
    assert put_tag(client, server, "blue").status_int == 204  # had it already
    assert client("GET", f"/v2.1/servers/{server}/tags/blue", version=V,
                  **MEMBER).status_int == 204
    missing = client("GET", f"/v2.1/servers/{server}/tags/red", version=V, **MEMBER)
    assert missing.status_int == 404

    replaced = client("PUT", f"/v2.1/servers/{server}/tags", {"tags": ["b", "a", "b"]},
                      version=V, **MEMBER)
    assert replaced.status_int == 200 and replaced.data == {"tags": ["a", "b"]}
    assert tags_of(client, server).data == {"tags": ["a", "b"]}
    shown = client("GET", f"/v2.1/servers/{server}", version=V, **MEMBER).data["server"]
    assert shown["tags"] == ["a", "b"]

    assert client("DELETE", f"/v2.1/servers/{server}/tags/a", version=V,
                  **MEMBER).status_int == 204
    assert client("DELETE", f"/v2.1/servers/{server}/tags/a", version=V,
                  **MEMBER).status_int == 404
    assert client("DELETE", f"/v2.1/servers/{server}/tags", version=V,
                  **MEMBER).status_int == 204
    assert tags_of(client, server).data == {"tags": []}


def test_limits_and_form_of_tags(cloud):
    client, urls = cloud
    server = add_server(urls, "web")
    too_long = put_tag(client, server, "x" * 61)
    assert too_long.status_int == 400 and "is invalid" in too_long.data["badRequest"]["message"]
    assert put_tag(client, server, "a,b").status_int == 400
    assert put_tag(client, server, "x" * 60).status_int == 201
    for body in ({"tags": ["a/b"]}, {"tags": [""]}, {"tags": [f"t{i}" for i in range(51)]},
                 {"tags": "a"}, {}):
        response = client("PUT", f"/v2.1/servers/{server}/tags", body, version=V, **MEMBER)
        assert response.status_int == 400, body
    fifty = [f"t{i:02}" for i in range(50)]
    assert client("PUT", f"/v2.1/servers/{server}/tags", {"tags": fifty}, version=V,
                  **MEMBER).status_int == 200
    over = put_tag(client, server, "one-more")
    assert over.status_int == 400
    assert over.data["badRequest"]["message"] == (
        "The number of tags exceeded the per-server limit 50")
    assert put_tag(client, server, "t00").status_int == 204  # an existing one is fine


def test_versions_states_and_owners(cloud):
    client, urls = cloud
    server = add_server(urls, "web")
    assert tags_of(client, server, version="2.25").status_int == 404
    assert "tags" not in client("GET", f"/v2.1/servers/{server}", version="2.25",
                                **MEMBER).data["server"]
    # Another project's server does not exist for the caller.
    assert tags_of(client, server, **OTHER).status_int == 404
    assert put_tag(client, server, "x", **OTHER).status_int == 404
    assert tags_of(client, str(uuid.uuid4())).status_int == 404
    # Changing tags needs an active, paused, suspended or stopped server.
    building = add_server(urls, "b", vm_state="building")
    conflict = put_tag(client, building, "x")
    assert conflict.status_int == 409
    assert conflict.data["conflictingRequest"]["message"] == (
        f"Cannot 'update tag' instance {building} while it is in vm_state building")
    assert tags_of(client, building).data == {"tags": []}
    scheduling = add_build_request(urls, "s")
    assert tags_of(client, scheduling).data == {"tags": []}
    assert client("DELETE", f"/v2.1/servers/{scheduling}/tags", version=V,
                  **MEMBER).status_int == 409


def test_a_deleted_servers_tags_go_with_it(cloud):
    client, urls = cloud
    server = add_server(urls, "web")
    assert put_tag(client, server, "gone").status_int == 201
    instances.destroy(urls["cell1"], server)
    with engines.get_engine(urls["cell1"]).connect() as connection:
        assert tags.of_instances(connection, [server]) == {}


@pytest.mark.parametrize("query,expected", [
    ("tags=a,b", {"ab", "abc"}),
    ("tags-any=a,c", {"a", "ab", "abc", "c"}),
    ("not-tags=a,b", {"a", "c", "none"}),
    ("not-tags-any=a,c", {"none"}),
    ("tags=a&not-tags-any=c", {"a", "ab"}),
])
def test_tag_filters(cloud, query, expected):
    client, urls = cloud
    for name, wanted in (("a", ["a"]), ("ab", ["a", "b"]), ("abc", ["a", "b", "c"]),
                         ("c", ["c"]), ("none", [])):
        server = add_server(urls, name)
        client("PUT", f"/v2.1/servers/{server}/tags", {"tags": wanted}, version=V, **MEMBER)
    add_build_request(urls, "scheduling")
    expected = set(expected) | ({"scheduling"} if query.startswith("not-") else set())
    listed = client("GET", f"/v2.1/servers/detail?{query}", version=V, **MEMBER)
    assert listed.status_int == 200
    assert {server["name"] for server in listed.data["servers"]} == expected
    for server in listed.data["servers"]:
        name = server["name"]
        assert server["tags"] == ([] if name in ("none", "scheduling") else sorted(name))
