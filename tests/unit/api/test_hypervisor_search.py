"""Hypervisor search and servers by hostname pattern (routes until 2.52)."""

from tests.unit.api.test_servers import add_server

MEMBER = {"user": "alice", "project": "demo"}


def test_search_by_pattern(cloud):
    client, _urls = cloud
    found = client("GET", "/v2.1/os-hypervisors/c/search")
    assert found.status_int == 200
    hypervisors = found.data["hypervisors"]
    assert sorted(h["hypervisor_hostname"] for h in hypervisors) == ["c1", "c2"]
    assert set(hypervisors[0]) == {"id", "hypervisor_hostname", "state", "status"}
    assert [h["hypervisor_hostname"] for h in client(
        "GET", "/v2.1/os-hypervisors/2/search").data["hypervisors"]] == ["c2"]
    missing = client("GET", "/v2.1/os-hypervisors/nowhere/search")
    assert missing.status_int == 404
    assert missing.data["itemNotFound"]["message"] == (
        "No hypervisor matching 'nowhere' could be found.")
    # Gone from 2.53 (a query parameter of the listing instead).
    assert client("GET", "/v2.1/os-hypervisors/c/search", version="2.53").status_int == 404


def test_servers_of_matching_hypervisors(cloud):
    client, urls = cloud
    server = add_server(urls, "vm", host="c1")
    body = client("GET", "/v2.1/os-hypervisors/c/servers").data["hypervisors"]
    by_name = {h["hypervisor_hostname"]: h for h in body}
    assert by_name["c1"]["servers"] == [{"uuid": server, "name": "vm"}]
    assert "servers" not in by_name["c2"]
    assert client("GET", "/v2.1/os-hypervisors/c/servers", version="2.53").status_int == 404


def test_non_admin_is_refused(client):
    assert client("GET", "/v2.1/os-hypervisors/c/search", **MEMBER).status_int == 403
    assert client("GET", "/v2.1/os-hypervisors/c/servers", **MEMBER).status_int == 403
