"""The guest's encrypted password: posted once to the metadata service
(openstack/<version>/password), shown and cleared by the Compute API's
os-server-password; one record (objects.server_passwords) for both."""

import webob

from nova_runtime.api import app as api_app
from nova_runtime.api.metadata import app as metadata_app
from nova_runtime.objects import server_passwords
from tests.unit.api.conftest import Client
from tests.unit.test_metadata import cloud, request  # noqa: F401  (fixtures)

WEB = "10.9.0.2"  # the address of the cloud's instance "web-1" (project demo-project)
OWNER = {"user": "demo-user", "project": "demo-project"}


def post(conf, body, path="/openstack/latest/password", **headers):
    req = webob.Request.blank(path, method="POST", remote_addr=WEB, body=body,
                              headers=headers)
    return req.get_response(metadata_app.build(conf))


def api(conf):
    conf.set_override("auth_strategy", "noauth2", "api")
    return Client(api_app.build(conf))


def test_the_guest_posts_once_and_the_api_shows_and_clears(cloud):
    conf, urls, cell, web, db = cloud
    assert request(conf, "/openstack/latest/password", remote=WEB).body == b""
    assert "password" in request(conf, "/openstack/latest/", remote=WEB).text.splitlines()
    assert post(conf, b"c2VjcmV0").status_int == 200
    assert request(conf, "/openstack/2013-04-04/password", remote=WEB).text == "c2VjcmV0"
    assert post(conf, b"another").status_int == 409  # once only

    client = api(conf)
    path = f"/v2.1/servers/{web['uuid']}/os-server-password"
    shown = client("GET", path, **OWNER)
    assert shown.status_int == 200 and shown.data == {"password": "c2VjcmV0"}
    assert client("GET", path, user="eve", project="other-project").status_int == 404
    assert client("DELETE", path, **OWNER).status_int == 204
    assert client("GET", path, **OWNER).data == {"password": ""}
    assert post(conf, b"new").status_int == 200  # may be posted again once cleared
    assert client("GET", path, **OWNER).data == {"password": "new"}


def test_long_passwords_are_chunked_and_too_long_ones_refused(cloud):
    conf, urls, cell, web, db = cloud
    too_long = b"x" * (server_passwords.MAX_SIZE + 1)
    assert post(conf, too_long).status_int == 400
    longest = "".join(chr(ord("a") + index % 26) for index in range(server_passwords.MAX_SIZE))
    assert post(conf, longest.encode()).status_int == 200
    assert server_passwords.get(urls["cell1"], web["uuid"]) == longest


def test_the_path_exists_from_2013_04_04_on(cloud):
    conf, *_ = cloud
    assert request(conf, "/openstack/2012-08-10/password", remote=WEB).status_int == 404
    assert "password" not in request(conf, "/openstack/2012-08-10",
                                     remote=WEB).text.splitlines()
    assert post(conf, b"x", path="/openstack/2012-08-10/password").status_int == 405
    assert request(conf, "/openstack/latest/password", remote=WEB,
                   method="PUT").status_int == 405
