"""/os-console-auth-tokens/{token}: a token issued by POST remote-consoles
(tests/unit/test_console.py's in-process cloud) leads to its console."""

import urllib.parse

from nova_runtime.objects import instances
from tests.unit.test_console import cloud, db_url  # noqa: F401  (fixtures)
from tests.unit.test_service import quick_rpc_server_stop  # noqa: F401

ADMIN = {"user": "admin", "project": "admin"}


def _token(cloud, server):
    url = cloud.console(server["uuid"]).data["remote_console"]["url"]
    path = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["path"][0]
    return urllib.parse.parse_qs(path.lstrip("?"))["token"][0]


def lookup(cloud, token, version="2.31", **who):
    return cloud.client("GET", f"/v2.1/os-console-auth-tokens/{token}", version=version,
                        **(who or ADMIN))


def test_a_live_token_leads_to_its_console(cloud):
    server = cloud.server()
    token = _token(cloud, server)
    response = lookup(cloud, token)
    assert response.status_int == 200, response.data
    vnc = cloud.compute.manager.driver.get_vnc_console(None, server)
    assert response.data == {"console": {
        "instance_uuid": server["uuid"], "host": vnc.host, "port": vnc.port,
        "internal_access_path": vnc.internal_access_path}}
    assert lookup(cloud, token, version="2.99").data["console"]["tls_port"] is None


def test_refusals(cloud):
    server = cloud.server()
    token = _token(cloud, server)
    # Admins only.
    assert lookup(cloud, token, user="alice", project="demo").status_int == 403
    # Before 2.31 only RDP consoles are shown.
    old = lookup(cloud, token, version="2.30")
    assert old.status_int == 401
    assert old.data["unauthorized"]["message"] == (
        "The requested console type details are not accessible")
    missing = lookup(cloud, "no-such-token")
    assert missing.status_int == 404 and missing.data["itemNotFound"]["message"] == (
        "Token not found")
    instances.destroy(cloud.cell_url, server["uuid"])
    assert lookup(cloud, token).status_int == 404  # its instance is gone
