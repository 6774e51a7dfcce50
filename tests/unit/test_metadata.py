"""The metadata content (OpenStack and EC2 trees, network_data.json), the proxy
signature, and the metadata WSGI application over SQLite API and cell
databases: which instance is found, and what is refused."""

import base64
import json
import uuid

import pytest
import sqlalchemy as sa
import webob

from nova_runtime import config
from nova_runtime.api.metadata import app as metadata_app
from nova_runtime.metadata import content, signature
from nova_runtime.db import engines, migration
from nova_runtime.db.api import models as api_models
from nova_runtime.network import api as network_api
from nova_runtime.objects import instances
from nova_runtime.objects import cell_mappings

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsAZOjbW1sn0jHJkUyKXF2FYoAs2Z3nS0EUmiRrXJ0d demo"
FLAVOR = {"id": 1, "flavorid": "1", "name": "m1.tiny", "memory_mb": 512, "vcpus": 1,
          "root_gb": 1, "ephemeral_gb": 0, "swap": 0, "extra_specs": {}}
IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"


def make_conf(**overrides):
    conf = config.new_conf()
    config.load(conf, [], prog="test", default_config_files=[])
    for key, value in overrides.items():
        group, _, name = key.rpartition("__")
        conf.set_override(name, value, group=group or None)
    return conf


# --- a cloud with instances, shared with the functional test ---------------------------

def make_cells(api_url, cell_url, cell0_url):
    """API database, cell0 and cell1 synced and mapped; returns cell1's mapping."""
    migration.sync("api", api_url)
    for url in (cell_url, cell0_url):
        migration.sync("main", url)
    cell_mappings.map_cell0(api_url, cell0_url)
    return cell_mappings.create_cell(api_url, "cell1", "rabbit://guest:guest@127.0.0.1:1/", cell_url)


def boot(conf, api_url, cell, *, name, project_id="demo-project", user_id="demo-user",
         key_name=None, user_data=None, metadata=None, allocate=True):
    """An instance in ``cell`` as the super-conductor leaves it: record, mapping,
    fixed address; its key pair (if any) in the API database."""
    url = cell.database_connection
    instance_uuid = str(uuid.uuid4())
    values = {"uuid": instance_uuid, "display_name": name, "hostname": name,
              "project_id": project_id, "user_id": user_id, "image_ref": IMAGE,
              "launch_index": 0, "availability_zone": "az1", "vm_state": "active",
              "reservation_id": "r-abcdef12", "memory_mb": 512, "vcpus": 1, "root_gb": 1,
              "config_drive": ""}
    if key_name:
        values.update(key_name=key_name, key_data=PUBLIC_KEY)
    if user_data is not None:
        values["user_data"] = base64.b64encode(user_data).decode()
    record = instances.create(url, values, flavor=FLAVOR, metadata=metadata or {})
    with engines.get_engine(api_url).begin() as connection:
        connection.execute(sa.insert(api_models.InstanceMapping).values(
            instance_uuid=instance_uuid, cell_id=cell.id, project_id=project_id,
            user_id=user_id, queued_for_delete=False))
        if key_name and not connection.scalar(sa.select(api_models.KeyPair.id).filter_by(
                user_id=user_id, name=key_name)):
            connection.execute(sa.insert(api_models.KeyPair).values(
                name=key_name, user_id=user_id, public_key=PUBLIC_KEY, type="ssh",
                fingerprint="aa:bb"))
    if allocate:
        network_api.allocate_for_instance(conf, url, instance_uuid)
    return record


# --- content, without databases ----------------------------------------------------------

def data(**overrides):
    instance = {"id": 42, "uuid": "b1a4c8d2-5f3e-4b6a-9c7d-0e1f2a3b4c5d", "hostname": "web-1",
                "display_name": "Web 1", "project_id": "p1", "user_id": "u1",
                "launch_index": 0, "availability_zone": "az1", "reservation_id": "r-1",
                "image_ref": IMAGE, "key_name": "mykey", "key_data": PUBLIC_KEY,
                "user_data": base64.b64encode(b"#!/bin/sh\necho hi\n").decode()}
    instance.update(overrides.pop("instance", {}))
    values = dict(instance=instance, metadata={"role": "web"}, flavor=FLAVOR,
                  network_info=[{"id": "0f9e8d7c-6b5a-4321-8765-43210fedcba9",
                                 "address": "fa:16:3e:00:11:22", "fixed_ip": "10.0.0.5",
                                 "bridge": "br100", "cidr": "10.0.0.0/24",
                                 "gateway": "10.0.0.1", "dns": ["192.0.2.53"],
                                 "label": "private", "network_id": "n-1"}],
                  keypairs=content.keypairs_of(instance), vendor_data={"motd": "hello"})
    values.update(overrides)
    return content.InstanceData(**values)


def get(tree, path):
    body, mimetype = tree.lookup(path)
    return body.decode(), mimetype


def test_meta_data_json_grows_with_the_version():
    tree = content.MetadataContent(data(), dhcp_domain="novalocal")
    folsom = json.loads(get(tree, "/openstack/2012-08-10/meta_data.json")[0])
    latest_body, mimetype = get(tree, "/openstack/latest/meta_data.json")
    latest = json.loads(latest_body)
    assert mimetype == "application/json"
    assert folsom == {"uuid": "b1a4c8d2-5f3e-4b6a-9c7d-0e1f2a3b4c5d", "meta": {"role": "web"},
                      "public_keys": {"mykey": PUBLIC_KEY},
                      "keys": [{"name": "mykey", "type": "ssh", "data": PUBLIC_KEY}],
                      "hostname": "web-1.novalocal", "name": "Web 1", "launch_index": 0,
                      "availability_zone": "az1"}
    assert set(latest) - set(folsom) == {"random_seed", "project_id", "devices",
                                         "dedicated_cpus"}
    assert len(base64.b64decode(latest["random_seed"])) == 512
    assert latest["project_id"] == "p1"
    assert "admin_pass" not in latest


def test_listings_show_each_file_from_its_version_on():
    tree = content.MetadataContent(data())
    assert get(tree, "/openstack")[0].splitlines() == content.OPENSTACK_VERSIONS + ["latest"]
    assert get(tree, "/openstack/2012-08-10")[0].splitlines() == ["meta_data.json", "user_data"]
    assert get(tree, "/openstack/2015-10-15")[0].splitlines() == [
        "meta_data.json", "user_data", "vendor_data.json", "network_data.json"]
    assert get(tree, "/openstack/latest/")[0].splitlines() == [
        "meta_data.json", "user_data", "vendor_data.json", "network_data.json",
        "vendor_data2.json"]
    with pytest.raises(content.PathNotFound):
        tree.lookup("/openstack/2012-08-10/network_data.json")
    with pytest.raises(content.PathNotFound):
        tree.lookup("/openstack/2011-01-01/meta_data.json")
    no_user_data = content.MetadataContent(data(instance={"user_data": None}))
    assert "user_data" not in get(no_user_data, "/openstack/latest")[0].splitlines()
    with pytest.raises(content.PathNotFound):
        no_user_data.lookup("/openstack/latest/user_data")


def test_user_data_vendor_data_and_network_data():
    tree = content.MetadataContent(data())
    assert tree.lookup("/openstack/latest/user_data") == (b"#!/bin/sh\necho hi\n", "text/plain")
    assert json.loads(get(tree, "/openstack/latest/vendor_data.json")[0]) == {"motd": "hello"}
    assert json.loads(get(tree, "/openstack/latest/vendor_data2.json")[0]) == {
        "static": {"motd": "hello"}}
    network = json.loads(get(tree, "/openstack/latest/network_data.json")[0])
    assert network == {
        "links": [{"id": "tap0f9e8d7c-6b", "vif_id": "0f9e8d7c-6b5a-4321-8765-43210fedcba9",
                   "type": "bridge", "ethernet_mac_address": "fa:16:3e:00:11:22", "mtu": None}],
        "networks": [{"id": "network0", "type": "ipv4", "link": "tap0f9e8d7c-6b",
                      "ip_address": "10.0.0.5", "netmask": "255.255.255.0",
                      "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0",
                                  "gateway": "10.0.0.1"}],
                      "network_id": "n-1",
                      "services": [{"type": "dns", "address": "192.0.2.53"}]}],
        "services": [{"type": "dns", "address": "192.0.2.53"}]}


def test_the_ec2_tree():
    tree = content.MetadataContent(data(), dhcp_domain="")
    assert get(tree, "/")[0].splitlines()[-2:] == ["2009-04-04", "latest"]
    assert get(tree, "/latest")[0].splitlines() == ["meta-data/", "user-data"]
    listing = get(tree, "/latest/meta-data/")[0].splitlines()
    assert {"ami-id", "instance-id", "hostname", "local-ipv4", "placement/", "public-keys/",
            "block-device-mapping/", "instance-type", "reservation-id"} <= set(listing)
    assert listing == sorted(listing)
    assert get(tree, "/latest/meta-data/instance-id")[0] == "i-0000002a"
    assert get(tree, "/latest/meta-data/ami-id")[0] == "ami-155d900f"
    assert get(tree, "/latest/meta-data/hostname")[0] == "web-1"
    assert get(tree, "/latest/meta-data/local-ipv4")[0] == "10.0.0.5"
    assert get(tree, "/latest/meta-data/instance-type")[0] == "m1.tiny"
    assert get(tree, "/latest/meta-data/placement/availability-zone")[0] == "az1"
    assert get(tree, "/latest/meta-data/public-keys/")[0] == "0=mykey"
    assert get(tree, "/latest/meta-data/public-keys/0/")[0] == "openssh-key"
    assert get(tree, "/latest/meta-data/public-keys/0/openssh-key")[0] == PUBLIC_KEY
    assert get(tree, "/latest/meta-data/block-device-mapping/root")[0] == "/dev/vda"
    assert get(tree, "/latest/user-data")[0] == "#!/bin/sh\necho hi\n"
    # 1.0 has no placement; 2009-04-04 and latest are the same tree.
    assert "placement/" not in get(tree, "/1.0/meta-data/")[0].splitlines()
    assert get(tree, "/2009-04-04/meta-data/")[0] == get(tree, "/latest/meta-data/")[0]
    for missing in ("/latest/meta-data/kernel-id", "/2010-01-01/meta-data/",
                    "/latest/meta-data/public-keys/0/_name", "/latest/meta-data/hostname/x"):
        with pytest.raises(content.PathNotFound):
            tree.lookup(missing)


def test_hostname_falls_back_to_the_sanitized_display_name():
    tree = content.MetadataContent(data(instance={"hostname": None,
                                                  "display_name": "My_Web.Server #2"}),
                                   dhcp_domain="example.org")
    assert tree.hostname() == "my-web-server-2.example.org"


def test_keypairs_prefer_the_api_database_record():
    instance = {"key_name": "k", "key_data": "ssh-rsa OLD"}
    assert content.keypairs_of(instance) == [{"name": "k", "type": "ssh", "data": "ssh-rsa OLD"}]
    assert content.keypairs_of(instance, {"name": "k", "type": "x509", "public_key": "CERT"}) == [
        {"name": "k", "type": "x509", "data": "CERT"}]
    assert content.keypairs_of({"key_name": None}) == []


# --- the proxy signature -------------------------------------------------------------

def test_signature_is_hmac_sha256_hex():
    # RFC 4231-style known answer (the well-known "quick brown fox" HMAC-SHA256 vector).
    assert signature.sign("key", "The quick brown fox jumps over the lazy dog") == (
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")
    good = signature.sign("s3cret", "instance-1")
    assert signature.matches("s3cret", "instance-1", good)
    assert not signature.matches("other", "instance-1", good)
    assert not signature.matches("s3cret", "instance-2", good)
    assert not signature.matches("s3cret", "instance-1", None)


# --- the WSGI application over SQLite -------------------------------------------------

@pytest.fixture
def cloud(tmp_path):
    urls = {name: f"sqlite:///{tmp_path}/{name}.sqlite" for name in ("api", "cell1", "cell0")}
    cell = make_cells(urls["api"], urls["cell1"], urls["cell0"])
    conf = make_conf(api_database__connection=urls["api"], fixed_range="10.9.0.0/24",
                     api__metadata_cache_expiration=0)
    web = boot(conf, urls["api"], cell, name="web-1", key_name="mykey",
               user_data=b"#cloud-config\n", metadata={"role": "web"})
    db = boot(conf, urls["api"], cell, name="db-1", project_id="other-project")
    yield conf, urls, cell, web, db
    network_api._synced.clear()
    engines.dispose_all()


def request(conf, path, remote="127.0.0.1", method="GET", headers=None):
    req = webob.Request.blank(path, method=method, headers=headers or {},
                              remote_addr=remote)
    return req.get_response(metadata_app.build(conf))


def test_the_instance_is_found_by_its_source_address(cloud):
    conf, urls, cell, web, db = cloud
    response = request(conf, "/openstack/latest/meta_data.json", remote="10.9.0.2")
    assert response.status_int == 200 and response.content_type == "application/json"
    body = response.json
    assert (body["uuid"], body["name"], body["meta"]) == (web["uuid"], "web-1", {"role": "web"})
    assert body["keys"] == [{"name": "mykey", "type": "ssh", "data": PUBLIC_KEY}]
    assert request(conf, "/latest/meta-data/local-ipv4", remote="10.9.0.3").text == "10.9.0.3"
    assert request(conf, "/latest/user-data", remote="10.9.0.2").body == b"#cloud-config\n"
    network = request(conf, "/openstack/latest/network_data.json", remote="10.9.0.3").json
    assert network["networks"][0]["ip_address"] == "10.9.0.3"


def test_unknown_addresses_and_paths_are_404_and_only_get_is_allowed(cloud):
    conf, *_ = cloud
    assert request(conf, "/openstack/latest/meta_data.json", remote="10.9.0.99").status_int == 404
    assert request(conf, "/openstack/latest/nothing", remote="10.9.0.2").status_int == 404
    assert request(conf, "/latest/meta-data/", remote="10.9.0.2", method="POST").status_int == 405
    # "/" needs no instance: health checks and guests probing for the service.
    root = request(conf, "/", remote="192.0.2.1")
    assert root.status_int == 200 and root.text.splitlines()[-1] == "latest"


def test_x_forwarded_for_counts_only_with_use_forwarded_for(cloud):
    conf, *_ = cloud
    headers = {"X-Forwarded-For": "10.9.0.3, 127.0.0.1"}
    assert request(conf, "/latest/meta-data/hostname", headers=headers).status_int == 404
    conf.set_override("use_forwarded_for", True, group="api")
    answer = request(conf, "/latest/meta-data/hostname", headers=headers)
    assert answer.status_int == 200 and answer.text == "db-1.novalocal"


def test_signed_headers_of_a_metadata_proxy(cloud):
    conf, urls, cell, web, db = cloud
    conf.set_override("service_metadata_proxy", True, group="neutron")
    conf.set_override("metadata_proxy_shared_secret", "s3cret", group="neutron")
    signed = {"X-Instance-ID": web["uuid"], "X-Tenant-ID": "demo-project",
              "X-Instance-ID-Signature": signature.sign("s3cret", web["uuid"])}
    answer = request(conf, "/openstack/latest/meta_data.json", headers=signed)
    assert answer.status_int == 200 and answer.json["uuid"] == web["uuid"]
    # The source address no longer counts.
    assert request(conf, "/latest/meta-data/", remote="10.9.0.2").status_int == 400
    forged = dict(signed, **{"X-Instance-ID-Signature": signature.sign("guess", web["uuid"])})
    assert request(conf, "/latest/meta-data/", headers=forged).status_int == 403
    other = dict(signed, **{"X-Instance-ID": db["uuid"]})  # web's signature, db's id
    assert request(conf, "/latest/meta-data/", headers=other).status_int == 403
    wrong_tenant = dict(signed, **{"X-Tenant-ID": "other-project"})
    assert request(conf, "/latest/meta-data/", headers=wrong_tenant).status_int == 404
    missing = {k: v for k, v in signed.items() if k != "X-Tenant-ID"}
    refused = request(conf, "/latest/meta-data/", headers=missing)
    assert refused.status_int == 400 and "X-Tenant-ID" in refused.text
    unknown = str(uuid.uuid4())
    assert request(conf, "/latest/meta-data/", headers=dict(
        signed, **{"X-Instance-ID": unknown,
                   "X-Instance-ID-Signature": signature.sign("s3cret", unknown)})).status_int == 404


def test_a_deleted_instance_is_gone_and_its_address_free(cloud):
    conf, urls, cell, web, db = cloud
    instances.destroy(urls["cell1"], web["uuid"], {"vm_state": "deleted"})
    assert request(conf, "/openstack/latest/meta_data.json", remote="10.9.0.2").status_int == 404


def name_for_10_9_0_2(application):
    """The name in meta_data.json that ``application`` answers 10.9.0.2."""
    req = webob.Request.blank("/openstack/latest/meta_data.json", remote_addr="10.9.0.2")
    return req.get_response(application).json["name"]


def test_answers_are_cached_for_metadata_cache_expiration(cloud):
    conf, urls, cell, web, db = cloud
    conf.set_override("metadata_cache_expiration", 60, group="api")
    application = metadata_app.build(conf)
    assert name_for_10_9_0_2(application) == "web-1"
    instances.update(urls["cell1"], web["uuid"], {"display_name": "renamed"})
    assert name_for_10_9_0_2(application) == "web-1"  # from the cache
    assert metadata_app.build(conf).finder.by_address("10.9.0.2").instance["display_name"] == (
        "renamed")


def test_an_address_given_again_answers_for_its_new_instance_at_once(cloud):
    conf, urls, cell, web, db = cloud
    conf.set_override("metadata_cache_expiration", 60, group="api")
    application = metadata_app.build(conf)
    assert name_for_10_9_0_2(application) == "web-1"
    instances.destroy(urls["cell1"], web["uuid"], {"vm_state": "deleted"})
    newcomer = boot(conf, urls["api"], cell, name="web-2")  # takes the lowest free address
    assert network_api.get_network_info(urls["cell1"], newcomer["uuid"])[0]["fixed_ip"] == (
        "10.9.0.2")
    assert name_for_10_9_0_2(application) == "web-2"  # not the deleted web-1 from the cache


def test_user_data_that_is_not_base64_is_handed_over_as_it_is():
    tree = content.MetadataContent(data(instance={"user_data": "#!/bin/sh\n"}))
    assert tree.lookup("/openstack/latest/user_data")[0] == b"#!/bin/sh\n"
