"""The deprecated resources that old clients still call: /extensions,
/os-networks (the flat network) and /os-hosts, with their microversion
ranges and policies, through the whole in-process stack."""

import datetime
import uuid

import sqlalchemy as sa

from nova_runtime.api.handlers import extensions
from nova_runtime.api import routes
from nova_runtime.db import engines
from nova_runtime.db.main import models as cell_models

MEMBER = {"user": "alice", "project": "demo"}


# --- extensions -------------------------------------------------------------------

def test_extensions_list_and_show(client):
    listed = client("GET", "/v2.1/extensions", **MEMBER)
    assert listed.status_int == 200
    records = listed.data["extensions"]
    assert {"Hosts", "Networks", "Keypairs"} <= {record["name"] for record in records}
    for record in records:
        assert set(record) == {"alias", "name", "description", "namespace", "updated", "links"}
    shown = client("GET", "/v2.1/extensions/os-consoles", **MEMBER)
    assert shown.data["extension"]["alias"] == "os-consoles"
    assert client("GET", "/v2.1/extensions/os-cloudpipe").status_int == 404


def test_every_extension_resource_is_routed():
    """The list stays honest: each os-* resource it names has a route."""
    resources = {alias for alias, _, _ in extensions.EXTENSIONS
                 if alias.startswith("os-") and alias not in (
                     # Features of other resources, not resources of their own.
                     "os-access-ips", "os-config-drive", "os-console-output", "os-consoles",
                     "os-flavor-access", "os-flavor-extra-specs", "os-flavor-manage",
                     "os-flavor-rxtx", "os-flavor-swap", "os-instance-actions",
                     "os-multiple-create",
                     "os-pause-server", "os-server-start-stop", "os-suspend-server",
                     "os-used-limits", "os-user-data")}
    routed = {path.split("/")[1] for path in routes.ROUTES}
    assert resources <= routed, resources - routed


# --- os-networks ------------------------------------------------------------------

def test_networks_show_the_flat_network(client):
    listed = client("GET", "/v2.1/os-networks", **MEMBER)
    assert listed.status_int == 200
    (network,) = listed.data["networks"]
    assert network["label"] == "private" and network["cidr"] == "10.0.0.0/24"
    assert network["gateway"] == "10.0.0.1" and network["cidr_v6"] is None
    assert "bridge" not in network  # host-side fields are for admins
    uuid.UUID(network["id"])

    # The id is stable: the cell's networks row, made once.
    again = client("GET", "/v2.1/os-networks").data["networks"]
    assert [n["id"] for n in again] == [network["id"]]
    assert again[0]["bridge"] == "br100" and again[0]["vlan"] is None

    shown = client("GET", f"/v2.1/os-networks/{network['id']}", **MEMBER)
    assert shown.data["network"] == network
    missing = client("GET", f"/v2.1/os-networks/{uuid.uuid4()}")
    assert missing.status_int == 404 and missing.data["itemNotFound"]["message"] == \
        "Network not found"


def test_networks_end_at_2_36(client):
    assert client("GET", "/v2.1/os-networks", version="2.35").status_int == 200
    assert client("GET", "/v2.1/os-networks", version="2.36").status_int == 404


# --- os-hosts ---------------------------------------------------------------------

def _add_instance(cell_url, host, project_id, vcpus, memory_mb, root_gb, ephemeral_gb=0):
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    with engines.get_engine(cell_url).begin() as connection:
        connection.execute(sa.insert(cell_models.Instance).values(
            uuid=str(uuid.uuid4()), host=host, node=host, project_id=project_id,
            user_id="u", vcpus=vcpus, memory_mb=memory_mb, root_gb=root_gb,
            ephemeral_gb=ephemeral_gb, vm_state="active", created_at=now, deleted=0))


def test_hosts_list_and_zone_filter(client):
    hosts = client("GET", "/v2.1/os-hosts").data["hosts"]
    assert {"host_name": "c1", "service": "compute", "zone": "nova"} in hosts
    assert {"host_name": "ctl", "service": "conductor", "zone": "internal"} in hosts
    assert client("GET", "/v2.1/os-hosts?zone=nova").data["hosts"] == [
        {"host_name": "c1", "service": "compute", "zone": "nova"},
        {"host_name": "c2", "service": "compute", "zone": "nova"}]
    assert len(client("GET", "/v2.1/os-hosts?zone=").data["hosts"]) == len(hosts)
    assert client("GET", "/v2.1/os-hosts?zone=xxx").data["hosts"] == []


def test_host_detail_sums_resources(cloud):
    client, urls = cloud
    _add_instance(urls["cell1"], "c1", "p1", 1, 512, 1, 1)
    _add_instance(urls["cell1"], "c1", "p1", 2, 1024, 10)
    _add_instance(urls["cell1"], "c1", "p2", 1, 256, 1)
    _add_instance(urls["cell1"], "c2", "p3", 8, 8, 8)
    rows = [row["resource"] for row in client("GET", "/v2.1/os-hosts/c1").data["host"]]
    assert rows[0] == {"host": "c1", "project": "(total)", "cpu": 4, "memory_mb": 8192,
                       "disk_gb": 100}
    assert rows[1] == {"host": "c1", "project": "(used_now)", "cpu": 1, "memory_mb": 512,
                       "disk_gb": 1}
    assert rows[2] == {"host": "c1", "project": "(used_max)", "cpu": 4, "memory_mb": 1792,
                       "disk_gb": 13}
    by_project = {row["project"]: row for row in rows[3:]}
    assert by_project["p1"]["cpu"] == 3 and by_project["p1"]["disk_gb"] == 12
    assert by_project["p2"]["memory_mb"] == 256 and set(by_project) == {"p1", "p2"}


def test_hosts_negative_cases_answer_as_upstream(client):
    assert client("GET", "/v2.1/os-hosts", **MEMBER).status_int == 403
    assert client("GET", "/v2.1/os-hosts/c1", **MEMBER).status_int == 403
    assert client("GET", "/v2.1/os-hosts/nonexistent").status_int == 404
    assert client("GET", "/v2.1/os-hosts/ctl").status_int == 404  # not a compute
    good = {"status": "enable", "maintenance_mode": "enable"}
    assert client("PUT", "/v2.1/os-hosts/c1", good, **MEMBER).status_int == 403
    assert client("PUT", "/v2.1/os-hosts/c1", {**good, "status": "invalid"}).status_int == 400
    assert client("PUT", "/v2.1/os-hosts/c1",
                  {**good, "maintenance_mode": "invalid"}).status_int == 400
    assert client("PUT", "/v2.1/os-hosts/c1", {}).status_int == 400
    assert client("PUT", "/v2.1/os-hosts/nonexistent", good).status_int == 404
    # A real host, but no driver here does host operations.
    assert client("PUT", "/v2.1/os-hosts/c1", good).status_int == 501
    for action in ("reboot", "shutdown", "startup"):
        assert client("GET", f"/v2.1/os-hosts/nonexistent/{action}").status_int == 404
        assert client("GET", f"/v2.1/os-hosts/c1/{action}", **MEMBER).status_int == 403
        response = client("GET", f"/v2.1/os-hosts/c1/{action}")
        assert response.status_int == 501 and "notImplemented" in response.data


def test_hosts_end_at_2_43(client):
    assert client("GET", "/v2.1/os-hosts", version="2.42").status_int == 200
    assert client("GET", "/v2.1/os-hosts", version="2.43").status_int == 404
