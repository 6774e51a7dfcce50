"""nova-api over plain HTTP: version discovery, microversions, the fault format,
authentication by real Keystone tokens."""

import pytest

pytestmark = pytest.mark.mysql


@pytest.fixture(scope="module")
def tokens(compute_cloud):
    keystone = compute_cloud.keystone
    return {"admin": keystone.token(),
            "member": keystone.token("demo-member", "DEMO_PASS", "demo")}


def test_version_discovery_needs_no_token(compute_cloud):
    root = compute_cloud.url[:-len("/v2.1")]
    import requests
    versions = requests.get(root + "/", timeout=10).json()["versions"]
    assert [(v["id"], v["status"], v["min_version"], v["version"]) for v in versions] == [
        ("v2.0", "SUPPORTED", "", ""), ("v2.1", "CURRENT", "2.1", "2.100")]
    assert versions[1]["links"] == [{"rel": "self", "href": compute_cloud.url + "/"}]
    # Every listed version's self link serves its document, without a token.
    for listed in versions:
        [link] = listed["links"]
        document = requests.get(link["href"], timeout=10).json()["version"]
        assert document["id"] == listed["id"] and document["links"][0] == link
    v21 = compute_cloud.request("GET", "").json()["version"]
    assert v21["status"] == "CURRENT" and v21["version"] == "2.100"


def test_project_id_in_urls(compute_cloud, tokens):
    member_project = compute_cloud.keystone.ids["demo"]
    assert compute_cloud.request("GET", f"/{member_project}/flavors",
                                 tokens["member"]).status_code == 200
    other = compute_cloud.request("GET", f"/{compute_cloud.keystone.ids['admin-project']}"
                                  "/flavors", tokens["member"])
    assert other.status_code == 400 and "doesn't match" in other.json()["badRequest"]["message"]
    # A resource this API does not have is 404, not a project id mismatch.
    unknown = compute_cloud.request("GET", f"/os-no-such-resource/{member_project}",
                                    tokens["member"])
    assert unknown.status_code == 404


def test_token_required(compute_cloud):
    response = compute_cloud.request("GET", "/flavors")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


def test_microversion_headers(compute_cloud, tokens):
    response = compute_cloud.request("GET", "/flavors", tokens["member"],
                                     headers={"OpenStack-API-Version": "compute 2.60"})
    assert response.status_code == 200
    assert response.headers["OpenStack-API-Version"] == "compute 2.60"
    assert response.headers["X-OpenStack-Nova-API-Version"] == "2.60"
    assert "OpenStack-API-Version" in response.headers["Vary"]
    assert response.headers["X-OpenStack-Request-ID"].startswith("req-")


def test_unknown_microversion_is_406(compute_cloud, tokens):
    response = compute_cloud.request("GET", "/flavors", tokens["member"],
                                     headers={"OpenStack-API-Version": "compute 2.200"})
    assert response.status_code == 406
    assert response.json() == {"computeFault": {
        "code": 406,
        "message": "Version 2.200 is not supported by the API. Minimum is 2.1 and maximum is "
                   "2.100."}}


def test_error_formats(compute_cloud, tokens):
    missing = compute_cloud.request("GET", "/flavors/nope", tokens["member"])
    assert missing.status_code == 404
    assert missing.json() == {"itemNotFound": {"code": 404,
                                               "message": "Flavor nope could not be found."}}
    forbidden = compute_cloud.request("GET", "/os-hypervisors", tokens["member"])
    assert forbidden.status_code == 403
    assert forbidden.json() == {"forbidden": {
        "code": 403,
        "message": "Policy doesn't allow os_compute_api:os-hypervisors:list to be performed."}}
    bad = compute_cloud.request("POST", "/os-aggregates", tokens["admin"],
                                json={"aggregate": {"name": "x", "availability_zone": 5}})
    assert bad.status_code == 400
    assert bad.json()["badRequest"]["message"].startswith(
        "Invalid input for field/attribute availability_zone. Value: 5.")
    conflict = compute_cloud.request("POST", "/os-keypairs", tokens["member"],
                                     json={"keypair": {"name": "dup"}})
    assert conflict.status_code == 200
    again = compute_cloud.request("POST", "/os-keypairs", tokens["member"],
                                  json={"keypair": {"name": "dup"}})
    assert again.json() == {"conflictingRequest": {
        "code": 409, "message": "Key pair 'dup' already exists."}}
    compute_cloud.request("DELETE", "/os-keypairs/dup", tokens["member"])


def test_tokens_are_cached_in_memcached(compute_cloud, tokens):
    from harness.memcached import memcached_items
    if compute_cloud.memcached is None:
        pytest.skip("Debian's memcached is not installed")
    assert compute_cloud.request("GET", "/flavors", tokens["admin"]).status_code == 200
    assert memcached_items(compute_cloud.memcached) > 0
    assert "in-process token cache" not in compute_cloud.tail(200)
