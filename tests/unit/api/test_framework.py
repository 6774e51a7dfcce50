"""Version discovery, microversion negotiation, the fault format, auth."""

import pytest


def test_root_lists_v20_then_v21_with_links(client):
    response = client("GET", "/", user="", project="")
    assert response.status_int == 200
    assert response.data == {"versions": [
        {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
         "updated": "2011-01-21T11:33:21Z",
         "links": [{"rel": "self", "href": "http://localhost/v2/"}]},
        {"id": "v2.1", "status": "CURRENT", "version": "2.100", "min_version": "2.1",
         "updated": "2013-07-23T11:33:21Z",
         "links": [{"rel": "self", "href": "http://localhost/v2.1/"}]},
    ]}


@pytest.mark.parametrize("path, version_id, media_type", [
    ("/v2.1", "v2.1", "application/vnd.openstack.compute+json;version=2.1"),
    ("/v2.1/", "v2.1", "application/vnd.openstack.compute+json;version=2.1"),
    ("/v2", "v2.0", "application/vnd.openstack.compute+json;version=2"),
    ("/v2/", "v2.0", "application/vnd.openstack.compute+json;version=2"),
])
def test_version_documents_need_no_token(client, path, version_id, media_type):
    response = client("GET", path, user="", project="")
    assert response.status_int == 200
    version = response.data["version"]
    assert version["id"] == version_id
    assert version["media-types"] == [{"base": "application/json", "type": media_type}]
    # Each listed self link leads to a document with the same self link.
    [listed] = [v for v in client("GET", "/").data["versions"] if v["id"] == version_id]
    assert [link for link in version["links"] if link["rel"] == "self"] == listed["links"]
    assert {"rel", "href", "type"} >= set(version["links"][1])


def test_legacy_v2_endpoint(client):
    # The v2.1 API at its base microversion, headers asking for more ignored
    # and no microversion headers in the answer.
    client("POST", "/v2.1/flavors", body={"flavor": {
        "name": "tiny", "id": "1", "ram": 512, "vcpus": 1, "disk": 1}})
    response = client("GET", "/v2/flavors/1", version="2.61")
    assert response.status_int == 200
    assert "extra_specs" not in response.data["flavor"]
    for name in ("OpenStack-API-Version", "X-OpenStack-Nova-API-Version", "Vary"):
        assert name not in response.headers
    missing = client("GET", "/v2/flavors/nope")
    assert missing.status_int == 404 and "X-OpenStack-Nova-API-Version" not in missing.headers
    # Unknown properties are dropped, not refused, as upstream relaxes them there.
    created = client("POST", "/v2/os-keypairs", body={"keypair": {"name": "k", "extra": 1}})
    assert created.status_int == 200 and created.data["keypair"]["name"] == "k"
    refused = client("POST", "/v2.1/os-keypairs", body={"keypair": {"name": "k2", "extra": 1}})
    assert refused.status_int == 400


def test_default_version_and_headers(client):
    response = client("GET", "/v2.1/flavors")
    assert response.status_int == 200
    assert response.headers["OpenStack-API-Version"] == "compute 2.1"
    assert response.headers["X-OpenStack-Nova-API-Version"] == "2.1"
    assert response.headers.getall("Vary") == ["OpenStack-API-Version", "X-OpenStack-Nova-API-Version"]
    assert response.headers["x-compute-request-id"].startswith("req-")


def test_latest_and_legacy_header(client):
    assert client("GET", "/v2.1/flavors", version="latest").headers[
        "X-OpenStack-Nova-API-Version"] == "2.100"
    legacy = client("GET", "/v2.1/flavors", headers={"X-OpenStack-Nova-API-Version": "2.53"})
    assert legacy.headers["OpenStack-API-Version"] == "compute 2.53"


def test_unsupported_version_is_406(client):
    response = client("GET", "/v2.1/flavors", version="2.500")
    assert response.status_int == 406
    assert response.data == {"computeFault": {
        "code": 406,
        "message": "Version 2.500 is not supported by the API. Minimum is 2.1 and maximum is 2.100."}}


def test_malformed_version_is_400(client):
    response = client("GET", "/v2.1/flavors", version="2.x")
    assert response.status_int == 400
    assert "is of invalid format" in response.data["badRequest"]["message"]


def test_unknown_path_and_method(client):
    # A path no route knows: upstream's router answers webob's plain 404.
    unknown = client("GET", "/v2.1/nothing", headers={"Accept": "application/json"})
    assert unknown.status_int == 404
    assert unknown.data["title"] == "Not Found"
    assert "OpenStack-API-Version" not in unknown.headers
    response = client("PATCH", "/v2.1/flavors")
    assert response.status_int == 405 and "badMethod" in response.data
    assert response.headers["Allow"] == "GET, POST"


def test_no_token_is_401(client):
    response = client("GET", "/v2.1/flavors", user="", project="")
    assert response.status_int == 401


def test_malformed_body(client):
    response = client("POST", "/v2.1/flavors", body=b"{not json")
    assert response.status_int == 400
    assert response.data["badRequest"]["message"] == "Malformed request body"


def test_project_id_in_url(client):
    assert client("GET", "/v2.1/admin-project/flavors").status_int == 200
    assert client("GET", "/v2.1/0123abcd-ef/flavors", project="0123abcd-ef").status_int == 200
    other = client("GET", "/v2.1/0123abcd/flavors")
    assert other.status_int == 400
    assert other.data["badRequest"]["message"] == (
        "Malformed request URL: URL's project_id '0123abcd' doesn't match Context's "
        "project_id 'admin-project'")


def test_unknown_resource_is_404_not_a_project_mismatch(client):
    # Upstream takes the first segment for a project id only when it looks
    # like one (hex and dashes) and the rest of the path is a route.
    # (/os-simple-tenant-usage/0123abcd, once an example here, is now a route.)
    for path in ("/v2.1/os-unknown-usage/0123abcd", "/v2.1/os-unknown/x/y",
                 "/v2.1/someone-else/flavors", "/v2.1/0123abcd/os-unknown",
                 "/v2.1/admin-project/os-unknown"):
        response = client("GET", path)
        assert response.status_int == 404, path
        assert response.text.startswith("404 Not Found"), path


def test_unexpected_error_is_500_compute_fault(client, monkeypatch):
    from nova_runtime.objects import flavors

    def broken(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(flavors, "list_flavors", broken)
    response = client("GET", "/v2.1/flavors")
    assert response.status_int == 500
    assert "Unexpected API Error" in response.data["computeFault"]["message"]
    assert "boom" not in response.text


def test_body_too_large(client):
    response = client("POST", "/v2.1/flavors", body=b"x" * 200000)
    assert response.status_int == 413 and "overLimit" in response.data
