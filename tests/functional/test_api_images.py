"""The images proxy (below microversion 2.36) and image metadata (below 2.39)
against a real Glance, through a real nova-api with real Keystone tokens:
the caller's token reaches Glance, Glance's images come back in the v2.1
view, and the filters and metadata changes land in Glance."""

import pytest

pytestmark = pytest.mark.mysql

OLD = {"OpenStack-API-Version": "compute 2.35"}


@pytest.fixture(scope="module")
def member(compute_cloud, glance):
    token = compute_cloud.keystone.token("demo-member", "DEMO_PASS", "demo")
    path = glance.make_qcow2("proxy", "1M")
    images = {
        "plain": glance.upload("proxy-plain", path, visibility="private", token=token,
                               min_ram=512, hw_architecture="x86_64"),
        "snapshot": glance.upload("proxy-snapshot", path, visibility="private", token=token,
                                  image_type="snapshot",
                                  instance_uuid="5a1c3b4e-9f42-4b8e-bf2f-3a0f5d6c7e8f",
                                  auto_disk_config="True"),
    }
    yield token, images
    # The session's Glance is shared: leave it as it was.
    for image in images.values():
        glance.request("DELETE", f"/v2/images/{image}", token)


def get(cloud, path, token, **headers):
    return cloud.request("GET", path, token, headers={**OLD, **headers})


def test_show_and_detail_view(compute_cloud, member, glance):
    token, images = member
    shown = get(compute_cloud, f"/images/{images['plain']}", token)
    assert shown.status_code == 200, shown.text
    image = shown.json()["image"]
    assert image["status"] == "ACTIVE" and image["progress"] == 100
    assert image["minRam"] == 512 and image["minDisk"] == 0
    assert image["metadata"] == {"hw_architecture": "x86_64"}
    assert image["OS-EXT-IMG-SIZE:size"] == glance.show(images["plain"])["size"]
    assert image["created"].endswith("Z") and "server" not in image
    assert [link["rel"] for link in image["links"]] == ["self", "bookmark", "alternate"]
    assert image["links"][2]["href"] == f"{glance.url}/images/{images['plain']}"

    snapshot = get(compute_cloud, f"/images/{images['snapshot']}", token).json()["image"]
    assert snapshot["server"]["id"] == "5a1c3b4e-9f42-4b8e-bf2f-3a0f5d6c7e8f"
    assert snapshot["server"]["links"][0]["href"].endswith(
        "/servers/5a1c3b4e-9f42-4b8e-bf2f-3a0f5d6c7e8f")
    assert snapshot["OS-DCF:diskConfig"] == "AUTO"

    missing = get(compute_cloud, "/images/0b7e4f6e-1c1d-4f7e-9d3a-2f0c1b2a3d4e", token)
    assert missing.status_code == 404 and missing.json()["itemNotFound"]["message"] == \
        "Image not found."
    # From 2.36 the proxy is gone.
    gone = compute_cloud.request("GET", f"/images/{images['plain']}", token,
                                 headers={"OpenStack-API-Version": "compute 2.36"})
    assert gone.status_code == 404


def test_list_filters(compute_cloud, member):
    token, images = member

    def ids(query, detail=False):
        response = get(compute_cloud, f"/images{'/detail' if detail else ''}?{query}", token)
        assert response.status_code == 200, response.text
        return {image["id"] for image in response.json()["images"]}

    both = {images["plain"], images["snapshot"]}
    assert both <= ids("")
    assert ids("name=proxy-plain") == {images["plain"]}
    assert ids("type=snapshot", detail=True) == {images["snapshot"]}
    server = "5a1c3b4e-9f42-4b8e-bf2f-3a0f5d6c7e8f"
    assert ids(f"server={server}") == {images["snapshot"]}
    assert ids(f"server=http://nova/v2.1/servers/{server}") == {images["snapshot"]}
    assert images["plain"] in ids("minRam=512") and images["snapshot"] not in ids("minRam=512")
    assert both <= ids("status=ACTIVE") and not both & ids("status=SAVING")
    assert both <= ids("changes-since=2000-01-01T00:00:00Z")
    assert ids("property-hw_architecture=x86_64") == {images["plain"]}

    page = get(compute_cloud, "/images?limit=1", token).json()
    assert len(page["images"]) == 1 and page["images_links"][0]["rel"] == "next"
    marker = page["images"][0]["id"]
    rest = ids(f"marker={marker}")
    assert marker not in rest and both - {marker} <= rest
    assert get(compute_cloud, "/images?limit=x", token).status_code == 400


def test_metadata_changes_reach_glance(compute_cloud, member, glance):
    token, images = member
    image = images["plain"]
    url = f"/images/{image}/metadata"

    def call(method, path, body=None):
        return compute_cloud.request(method, path, token, json=body, headers=OLD)

    replaced = call("PUT", url, {"metadata": {"os_version": "1", "os_distro": "d"}})
    assert replaced.status_code == 200
    assert get(compute_cloud, url, token).json() == {
        "metadata": {"os_version": "1", "os_distro": "d"}}
    assert "hw_architecture" not in glance.show(image, token)

    merged = call("POST", url, {"metadata": {"os_version": "2", "architecture": "x"}})
    assert merged.json()["metadata"] == {"os_version": "2", "os_distro": "d",
                                         "architecture": "x"}
    assert call("PUT", f"{url}/os_distro", {"meta": {"os_distro": "e"}}).json() == {
        "meta": {"os_distro": "e"}}
    assert call("PUT", f"{url}/os_distro", {"meta": {"other": "e"}}).status_code == 400
    assert get(compute_cloud, f"{url}/os_distro", token).json() == {"meta": {"os_distro": "e"}}
    assert call("DELETE", f"{url}/architecture").status_code == 204
    assert call("DELETE", f"{url}/architecture").status_code == 404
    assert get(compute_cloud, f"{url}/architecture", token).status_code == 404
    assert glance.show(image, token)["os_distro"] == "e"
    # Metadata stays until 2.38.
    later = compute_cloud.request("GET", url, token,
                                  headers={"OpenStack-API-Version": "compute 2.38"})
    assert later.status_code == 200
    assert compute_cloud.request("GET", url, token, headers={
        "OpenStack-API-Version": "compute 2.39"}).status_code == 404


def test_delete_image(compute_cloud, member, glance):
    token, _ = member
    image = glance.upload("proxy-delete", glance.make_qcow2("proxy-delete", "1M"),
                          visibility="private", token=token)
    # Not the owner: Glance refuses, nova says so.
    public = glance.images["cirros"]
    assert compute_cloud.request("DELETE", f"/images/{public}", token,
                                 headers=OLD).status_code in (403, 404)
    assert compute_cloud.request("DELETE", f"/images/{image}", token,
                                 headers=OLD).status_code == 204
    assert glance.show(image, token) is None
    assert compute_cloud.request("DELETE", f"/images/{image}", token,
                                 headers=OLD).status_code == 404
