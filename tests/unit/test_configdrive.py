"""The config drive: an ISO 9660 image labelled config-2 with the metadata
API's files, read back with pycdlib (and the label with blkid, when present)."""

import base64
import io
import json
import shutil
import subprocess

import pycdlib
import pytest

from nova_runtime.metadata import content
from nova_runtime.virt import configdrive
from tests.unit.test_metadata import FLAVOR, PUBLIC_KEY, make_conf

INSTANCE = {"id": 7, "uuid": "6c3b1e0a-2f4d-4e8b-9a1c-5d7e9f0b2c4e", "hostname": "vm-1",
            "display_name": "vm-1", "project_id": "p1", "user_id": "u1", "launch_index": 0,
            "availability_zone": "nova", "reservation_id": "r-7", "image_ref": "abc",
            "key_name": "mykey", "key_data": PUBLIC_KEY, "config_drive": "True",
            "user_data": base64.b64encode(b"#cloud-config\nhostname: vm-1\n").decode()}
NETWORK_INFO = [{"id": "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d", "address": "fa:16:3e:aa:bb:cc",
                 "fixed_ip": "10.0.0.7", "bridge": "br100", "cidr": "10.0.0.0/24",
                 "gateway": "10.0.0.1", "dns": ["192.0.2.53"], "label": "private",
                 "network_id": "n1"}]


@pytest.fixture
def drive(tmp_path):
    vendor = tmp_path / "vendor.json"
    vendor.write_text('{"cloud-init": "#cloud-config\\npackages: [htop]"}')
    conf = make_conf(api__vendordata_jsonfile_path=str(vendor))
    path = configdrive.make_config_drive(
        conf, str(tmp_path / "disk.config"), INSTANCE, metadata={"role": "db"}, flavor=FLAVOR,
        network_info=NETWORK_INFO, admin_password="Secr3t!",
        injected_files=[("/etc/motd", "welcome\n"), ("/root/blob", b"\x00\x01")])
    iso = pycdlib.PyCdlib()
    iso.open(path)
    yield path, iso
    iso.close()


def read(iso, path, kind="rr_path"):
    out = io.BytesIO()
    iso.get_file_from_iso_fp(out, **{kind: path})
    return out.getvalue()


def files(iso):
    found = set()
    for directory, _, names in iso.walk(rr_path="/"):
        found.update(f"{directory.rstrip('/')}/{name}" for name in names)
    return found


def test_the_image_is_labelled_config_2(drive):
    path, iso = drive
    assert iso.pvd.volume_identifier.decode().strip() == "config-2"
    if shutil.which("blkid"):
        label = subprocess.run(["blkid", "-o", "value", "-s", "LABEL", path],
                               capture_output=True, text=True)
        assert label.stdout.strip() == "config-2"


def test_it_holds_the_openstack_and_ec2_trees(drive):
    _, iso = drive
    found = files(iso)
    for version in ("2012-08-10", "2015-10-15", "latest"):
        assert f"/openstack/{version}/meta_data.json" in found
        assert f"/openstack/{version}/user_data" in found
    assert "/openstack/latest/vendor_data2.json" in found
    assert "/openstack/2013-04-04/network_data.json" not in found  # from 2015-10-15 on
    assert {"/ec2/latest/meta-data.json", "/ec2/2009-04-04/meta-data.json",
            "/ec2/latest/user-data"} <= found
    assert not any(name.startswith("/ec2/2008-09-01/") for name in found)  # skipped by default
    assert {"/openstack/content/0000", "/openstack/content/0001"} <= found


def test_its_files_say_what_the_metadata_api_says(drive):
    _, iso = drive
    meta = json.loads(read(iso, "/openstack/latest/meta_data.json"))
    assert meta["uuid"] == INSTANCE["uuid"] and meta["meta"] == {"role": "db"}
    assert meta["admin_pass"] == "Secr3t!"  # only the config drive carries it
    assert meta["public_keys"] == {"mykey": PUBLIC_KEY}
    assert meta["files"] == [{"path": "/etc/motd", "content_path": "/content/0000"},
                             {"path": "/root/blob", "content_path": "/content/0001"}]
    assert read(iso, "/openstack/content/0000") == b"welcome\n"
    assert read(iso, "/openstack/content/0001") == b"\x00\x01"
    assert read(iso, "/openstack/latest/user_data") == b"#cloud-config\nhostname: vm-1\n"
    network = json.loads(read(iso, "/openstack/latest/network_data.json"))
    assert network == content.network_data(NETWORK_INFO)
    assert network["links"][0]["ethernet_mac_address"] == "fa:16:3e:aa:bb:cc"
    assert json.loads(read(iso, "/openstack/latest/vendor_data.json")) == {
        "cloud-init": "#cloud-config\npackages: [htop]"}
    ec2 = json.loads(read(iso, "/ec2/latest/meta-data.json"))
    assert ec2["public-keys"] == {"0": {"openssh-key": PUBLIC_KEY}}
    assert (ec2["instance-id"], ec2["local-ipv4"]) == ("i-00000007", "10.0.0.7")
    # Joliet readers (Windows guests) see the same names.
    assert read(iso, "/openstack/latest/meta_data.json", "joliet_path") == read(
        iso, "/openstack/latest/meta_data.json")


def test_without_user_data_or_keys(tmp_path):
    conf = make_conf()
    instance = dict(INSTANCE, user_data=None, key_name=None, key_data=None)
    path = configdrive.make_config_drive(conf, str(tmp_path / "d.iso"), instance)
    iso = pycdlib.PyCdlib()
    iso.open(path)
    try:
        found = files(iso)
        assert "/openstack/latest/user_data" not in found and "/ec2/latest/user-data" not in found
        meta = json.loads(read(iso, "/openstack/latest/meta_data.json"))
        assert "public_keys" not in meta and "admin_pass" not in meta
        assert json.loads(read(iso, "/openstack/latest/network_data.json")) == {
            "links": [], "networks": [], "services": []}
    finally:
        iso.close()
    assert [p.name for p in tmp_path.iterdir()] == ["d.iso"]  # no temporary file left


def test_required_when_asked_for_or_forced():
    conf = make_conf()
    assert configdrive.required(conf, {"config_drive": "True"})
    assert not configdrive.required(conf, {"config_drive": ""})
    assert not configdrive.required(conf, {"config_drive": None})
    conf.set_override("force_config_drive", True)
    assert configdrive.required(conf, {"config_drive": ""})
