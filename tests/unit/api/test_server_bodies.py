"""The bodies of the server calls, attribute by attribute, at the microversions
where upstream's change (what Tempest's response schemas check: a schema
allows no attribute it does not name), and the requests upstream accepts
there: update and rebuild answers, security groups, rebuild's key_name and
user_data, access addresses, regular-expression filters."""

import base64
import json

import pytest
import sqlalchemy as sa

from nova_runtime.api.handlers import server_actions
from nova_runtime.compute import rpcapi as compute_rpcapi
from nova_runtime.db import engines
from nova_runtime.db.main import models as cell_models
from tests.unit.api.test_servers import MEMBER, add_server

NEW_IMAGE = "d4a2d6e8-5a0e-4cf5-9f4c-1d8d0a9e7b11"
FLAT = [{"id": "v1", "address": "fa:16:3e:00:00:01", "fixed_ip": "10.0.0.5",
         "label": "flat", "bridge": "br100"}]
# What every server body has (upstream's view builder, any call, any version).
COMMON = {"id", "name", "status", "tenant_id", "user_id", "metadata", "hostId", "image",
          "flavor", "created", "updated", "addresses", "accessIPv4", "accessIPv6", "links",
          "OS-DCF:diskConfig", "progress"}
# What GET shows beside (for a member; admins see OS-EXT-SRV-ATTR too).
DETAIL = {"key_name", "security_groups", "OS-SRV-USG:launched_at", "OS-SRV-USG:terminated_at",
          "OS-EXT-AZ:availability_zone", "OS-EXT-STS:task_state", "OS-EXT-STS:vm_state",
          "OS-EXT-STS:power_state", "os-extended-volumes:volumes_attached", "config_drive"}
# Added by microversions up to 2.73, for update and rebuild as for GET.
V273 = {"locked", "description", "tags", "trusted_image_certificates", "server_groups",
        "locked_reason"}


def with_address(urls, server):
    with engines.get_engine(urls["cell1"]).begin() as connection:
        connection.execute(sa.update(cell_models.InstanceExtra).filter_by(
            instance_uuid=server).values(network_info=json.dumps(FLAT)))
    return server


@pytest.fixture
def rebuilt(cloud, monkeypatch):
    """(client, urls, casts): Glance answers every image as active; rebuild's
    casts to the compute are recorded in ``casts``."""
    client, urls = cloud
    casts = []

    class Compute:
        def rebuild_instance(self, context, instance, image, admin_password=None):
            casts.append((instance, image))

    monkeypatch.setattr(server_actions.glance, "show", lambda context, image_id, conf: {
        "id": image_id, "status": "active", "min_ram": 0, "min_disk": 0,
        "disk_format": "qcow2", "container_format": "bare"})
    monkeypatch.setattr(compute_rpcapi.CellClients, "get", lambda self, cell=None: Compute())
    return client, urls, casts


def rebuild(client, server, version, who=MEMBER, **fields):
    return client("POST", f"/v2.1/servers/{server}/action",
                  {"rebuild": {"imageRef": NEW_IMAGE, **fields}}, version=version, **who)


# --- security groups -------------------------------------------------------------------

def test_a_server_with_an_interface_shows_its_security_group(cloud):
    client, urls = cloud
    server = with_address(urls, add_server(urls, "web"))
    shown = client("GET", f"/v2.1/servers/{server}", **MEMBER).data["server"]
    assert shown["security_groups"] == [{"name": "default"}]
    assert set(shown) == COMMON | DETAIL
    [listed] = client("GET", "/v2.1/servers/detail", **MEMBER).data["servers"]
    assert listed["security_groups"] == [{"name": "default"}]
    # No interface (yet): no ports, so no security groups, as upstream.
    bare = add_server(urls, "bare")
    assert "security_groups" not in client("GET", f"/v2.1/servers/{bare}",
                                           **MEMBER).data["server"]


# --- update ----------------------------------------------------------------------------

def test_update_answers_the_common_attributes_until_2_75(cloud):
    client, urls = cloud
    server = with_address(urls, add_server(urls, "web"))

    def update(version, **who):
        response = client("PUT", f"/v2.1/servers/{server}", {"server": {"name": "web"}},
                          version=version, **who)
        assert response.status_int == 200
        return response.data["server"]

    assert set(update("2.1", **MEMBER)) == COMMON
    assert update("2.1", **MEMBER)["addresses"] == {"flat": [
        {"version": 4, "addr": "10.0.0.5"}]}
    assert set(update("2.1")) == COMMON  # admins too: no OS-EXT-SRV-ATTR
    assert set(update("2.74", **MEMBER)) == COMMON | V273
    full = update("2.75", **MEMBER)
    assert set(full) == COMMON | DETAIL | V273
    assert full["addresses"]["flat"][0]["OS-EXT-IPS:type"] == "fixed"
    admin = update("2.75")
    assert admin["OS-EXT-SRV-ATTR:host"] == "c1" and "OS-EXT-SRV-ATTR:user_data" in admin


# --- rebuild ---------------------------------------------------------------------------

def test_rebuild_answers_by_microversion(rebuilt):
    client, urls, _casts = rebuilt
    server = with_address(urls, add_server(urls, "web"))

    def answer(version, who=MEMBER):
        response = rebuild(client, server, version, who)
        assert response.status_int == 202, response.data
        with engines.get_engine(urls["cell1"]).begin() as connection:  # the compute's part
            connection.execute(sa.update(cell_models.Instance).filter_by(uuid=server).values(
                task_state=None))
        return response.data["server"]

    assert set(answer("2.1")) == COMMON | {"adminPass"}
    assert set(answer("2.54")) == COMMON | {"adminPass", "key_name", "locked",
                                            "description", "tags"}
    assert set(answer("2.57")) == COMMON | {"adminPass", "key_name", "user_data", "locked",
                                            "description", "tags"}
    assert set(answer("2.75")) == COMMON | DETAIL | V273 | {"adminPass", "user_data"}
    # An admin sees OS-EXT-SRV-ATTR from 2.75, but user_data only once.
    admin = answer("2.75", {"user": "admin", "project": "admin-project"})
    assert admin["OS-EXT-SRV-ATTR:host"] == "c1" and "user_data" in admin
    assert "OS-EXT-SRV-ATTR:user_data" not in admin


def test_rebuild_with_key_name_and_user_data(rebuilt):
    client, urls, casts = rebuilt
    server = add_server(urls, "web", key_name="old", key_data="ssh-rsa OLD",
                        user_data=base64.b64encode(b"old").decode())
    key = client("POST", "/v2.1/os-keypairs", {"keypair": {"name": "new"}}, **MEMBER)
    public_key = key.data["keypair"]["public_key"]
    new_data = base64.b64encode(b"#!/bin/sh\necho new\n").decode()

    def done():
        with engines.get_engine(urls["cell1"]).begin() as connection:
            connection.execute(sa.update(cell_models.Instance).filter_by(uuid=server).values(
                task_state=None))

    # Before 2.54 / 2.57 upstream refuses them.
    for version, field, value in (("2.53", "key_name", "new"), ("2.56", "user_data", new_data)):
        refused = rebuild(client, server, version, **{field: value})
        assert refused.status_int == 400 and field in refused.data["badRequest"]["message"]
    answer = rebuild(client, server, "2.57", key_name="new", user_data=new_data)
    assert answer.status_int == 202, answer.data
    assert (answer.data["server"]["key_name"], answer.data["server"]["user_data"]) == (
        "new", new_data)
    [(instance, image)] = casts
    assert (instance["key_name"], instance["key_data"], instance["user_data"]) == (
        "new", public_key, new_data)
    assert image["id"] == NEW_IMAGE
    done()
    # null removes them; leaving them out keeps them.
    kept = rebuild(client, server, "2.57")
    assert (kept.data["server"]["key_name"], kept.data["server"]["user_data"]) == (
        "new", new_data)
    done()
    removed = rebuild(client, server, "2.57", key_name=None, user_data=None)
    assert (removed.data["server"]["key_name"], removed.data["server"]["user_data"]) == (
        None, None)
    assert casts[-1][0]["key_data"] is None
    done()
    unknown = rebuild(client, server, "2.57", key_name="nope")
    assert unknown.status_int == 400
    assert "Invalid key_name provided" in unknown.data["badRequest"]["message"]
    bad = rebuild(client, server, "2.57", user_data="%%% not base64")
    assert bad.status_int == 400 and "user_data" in bad.data["badRequest"]["message"]


# --- access addresses ------------------------------------------------------------------

def test_access_addresses_are_checked_and_kept_in_canonical_form(rebuilt):
    client, urls, _casts = rebuilt
    server = add_server(urls, "web")
    long_form = "0000:0000:0000:0000:0000:babe:220.12.22.2"  # Tempest's, 41 characters
    updated = client("PUT", f"/v2.1/servers/{server}", {"server": {
        "accessIPv4": "192.0.2.7", "accessIPv6": long_form}}, **MEMBER)
    assert updated.status_int == 200
    assert updated.data["server"]["accessIPv6"] == "::babe:dc0c:1602"
    with engines.get_engine(urls["cell1"]).connect() as connection:
        stored = connection.scalar(sa.select(cell_models.Instance.access_ip_v6).filter_by(
            uuid=server))
    assert stored == "::babe:dc0c:1602"  # fits the column's 39 characters
    widest = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
    assert client("PUT", f"/v2.1/servers/{server}", {"server": {"accessIPv6": widest}},
                  **MEMBER).data["server"]["accessIPv6"] == (
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
    rebuilt_answer = rebuild(client, server, "2.1", accessIPv6="2001:DB8::1")
    assert rebuilt_answer.data["server"]["accessIPv6"] == "2001:db8::1"
    for field, value in (("accessIPv4", "1.2.3"), ("accessIPv4", "::1"),
                         ("accessIPv6", "1.2.3.4"), ("accessIPv6", "fe80::1%eth0"),
                         ("accessIPv6", "2001:db8::g")):
        refused = client("PUT", f"/v2.1/servers/{server}", {"server": {field: value}},
                         **MEMBER)
        assert refused.status_int == 400, (field, value)
        assert refused.data["badRequest"]["message"].startswith(
            f"Invalid input for field/attribute {field}.")


# --- regular-expression filters --------------------------------------------------------

@pytest.mark.parametrize("name", ["name", "ip", "ip6"])
def test_an_invalid_regular_expression_filter_is_400(cloud, name):
    client, urls = cloud
    add_server(urls, "web")
    for path in ("/v2.1/servers", "/v2.1/servers/detail"):
        response = client("GET", f"{path}?{name}=(((", **MEMBER)
        assert response.status_int == 400, (path, response.text)
        assert response.data["badRequest"]["message"] == (
            f"Invalid input for query parameters {name}. Value: (((. "
            "'(((' is not a 'regex'")
    assert [s["name"] for s in client("GET", "/v2.1/servers?name=^w.b$", **MEMBER).data[
        "servers"]] == ["web"]
