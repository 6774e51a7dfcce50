"""Version discovery, microversion negotiation, the fault format, auth."""


def test_root_lists_v21_with_links(client):
    response = client("GET", "/")
    assert response.status_int == 200
    [version] = response.data["versions"]
    assert version["id"] == "v2.1" and version["status"] == "CURRENT"
    assert version["min_version"] == "2.1" and version["version"] == "2.100"
    assert version["links"] == [{"rel": "self", "href": "http://localhost/v2.1/"}]


def test_v21_document_needs_no_token(client):
    response = client("GET", "/v2.1", user="", project="")
    assert response.status_int == 200
    assert response.data["version"]["media-types"][0]["base"] == "application/json"


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
    assert client("GET", "/v2.1/nothing").data["itemNotFound"]["code"] == 404
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
    other = client("GET", "/v2.1/someone-else/flavors")
    assert other.status_int == 400 and "doesn't match" in other.data["badRequest"]["message"]


def test_unexpected_error_is_500_compute_fault(client, monkeypatch):
    from nova_runtime.api.objects import flavors

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
