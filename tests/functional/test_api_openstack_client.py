"""The real ``openstack`` client against nova-api (a process, on MariaDB) and a
real Keystone: what an operator and a project member type."""

import pytest

pytestmark = pytest.mark.mysql


def test_flavor_lifecycle(compute_cloud):
    cloud = compute_cloud
    created = cloud.openstack_json("flavor", "create", "--ram", "512", "--vcpus", "1",
                                   "--disk", "1", "--id", "100", "--description", "tiny one",
                                   "m1.tiny")
    assert created["id"] == "100" and created["ram"] == 512
    assert created["description"] == "tiny one"   # 2.55, negotiated by the client
    assert created["os-flavor-access:is_public"] is True

    listed = cloud.openstack_json("flavor", "list")
    assert [(f["ID"], f["Name"], f["RAM"]) for f in listed] == [("100", "m1.tiny", 512)]

    set_result = cloud.openstack("flavor", "set", "--property", "hw:cpu_policy=dedicated",
                                 "--property", "quota:cpu_shares=1024", "m1.tiny")
    assert set_result.returncode == 0, set_result.stderr
    shown = cloud.openstack_json("flavor", "show", "m1.tiny")
    assert shown["properties"] == {"hw:cpu_policy": "dedicated", "quota:cpu_shares": "1024"}

    # A member sees the flavor but may not create one: 403 in Nova's words.
    member = cloud.as_member()
    assert [f["Name"] for f in cloud.openstack_json("flavor", "list", **member)] == ["m1.tiny"]
    refused = cloud.openstack("flavor", "create", "--ram", "1", "--vcpus", "1", "x", **member)
    assert refused.returncode == 1
    assert "os_compute_api:os-flavor-manage:create" in refused.stderr
    assert "ForbiddenException: 403" in refused.stderr

    deleted = cloud.openstack("flavor", "delete", "m1.tiny")
    assert deleted.returncode == 0, deleted.stderr
    assert cloud.openstack_json("flavor", "list") == []


def test_flavor_bad_request_names_the_field(compute_cloud):
    result = compute_cloud.openstack("flavor", "create", "--ram", "0", "--vcpus", "1", "zero")
    assert result.returncode == 1
    assert "Invalid input for field/attribute ram" in result.stderr
    assert "BadRequestException: 400" in result.stderr


def test_keypairs_are_per_user(compute_cloud, tmp_path):
    cloud = compute_cloud
    member = cloud.as_member()
    private_key = tmp_path / "k1.pem"
    created = cloud.openstack_json("keypair", "create", "--private-key", str(private_key),
                                   "k1", **member)
    assert created["name"] == "k1" and created["type"] == "ssh"
    assert private_key.read_text().startswith("-----BEGIN")

    public = tmp_path / "id.pub"
    public.write_text(_ssh_public_key())
    imported = cloud.openstack_json("keypair", "create", "--public-key", str(public), "k2",
                                    **member)
    assert imported["fingerprint"]

    mine = {k["Name"] for k in cloud.openstack_json("keypair", "list", **member)}
    assert mine == {"k1", "k2"}
    # Another member of the same project, and the admin, do not see them.
    other = cloud.as_member("demo-member2")
    assert cloud.openstack_json("keypair", "list", **other) == []
    assert cloud.openstack_json("keypair", "list") == []
    # The admin does, when asking for that user (microversion 2.10).
    assert {k["Name"] for k in cloud.openstack_json(
        "keypair", "list", "--user", "demo-member")} == {"k1", "k2"}
    # The member may not list another user's key pairs.
    refused = cloud.openstack("keypair", "list", "--user", "demo-member", **other)
    assert refused.returncode == 1 and "ForbiddenException: 403" in refused.stderr

    deleted = cloud.openstack("keypair", "delete", "k1", "k2", **member)
    assert deleted.returncode == 0, deleted.stderr
    assert cloud.openstack_json("keypair", "list", **member) == []


def _ssh_public_key():
    from nova_runtime.api import crypto
    return crypto.generate_ssh()[1]


def test_compute_services_hypervisors_and_zones(compute_cloud):
    cloud = compute_cloud
    cloud.heartbeat()
    services = cloud.openstack_json("compute", "service", "list")
    assert {(s["Binary"], s["Host"], s["Zone"], s["Status"], s["State"]) for s in services} == {
        ("nova-conductor", "controller", "internal", "enabled", "up"),
        ("nova-scheduler", "controller", "internal", "enabled", "up"),
        ("nova-compute", "compute1", "nova", "enabled", "up"),
        ("nova-compute", "compute2", "nova", "enabled", "up"),
    }
    assert len(services[0]["ID"]) == 36   # UUIDs: the client negotiated 2.53 or later

    disabled = cloud.openstack("compute", "service", "set", "--disable",
                               "--disable-reason", "maintenance", "compute2", "nova-compute")
    assert disabled.returncode == 0, disabled.stderr
    hypervisors = cloud.openstack_json("hypervisor", "list")
    assert {(h["Hypervisor Hostname"], h["State"]) for h in hypervisors} == {
        ("compute1", "up"), ("compute2", "up")}
    long = cloud.openstack_json("compute", "service", "list", "--long",
                                "--service", "nova-compute")
    assert {(s["Host"], s["Status"], s["Disabled Reason"]) for s in long} == {
        ("compute1", "enabled", None), ("compute2", "disabled", "maintenance")}
    assert cloud.openstack("compute", "service", "set", "--enable", "compute2",
                           "nova-compute").returncode == 0

    # A member is refused the admin API.
    refused = cloud.openstack("compute", "service", "list", **cloud.as_member())
    assert refused.returncode == 1 and "ForbiddenException: 403" in refused.stderr

    aggregate = cloud.openstack_json("aggregate", "create", "--zone", "az1", "fast")
    assert aggregate["availability_zone"] == "az1"
    added = cloud.openstack("aggregate", "add", "host", "fast", "compute1")
    assert added.returncode == 0, added.stderr
    zones = cloud.openstack_json("availability", "zone", "list", "--compute")
    assert {(z["Zone Name"], z["Zone Status"]) for z in zones} == {
        ("az1", "available"), ("nova", "available"), ("internal", "available")}
    member_zones = cloud.openstack_json("availability", "zone", "list", "--compute",
                                        **cloud.as_member())
    assert {z["Zone Name"] for z in member_zones} == {"az1", "nova"}
    assert cloud.openstack("aggregate", "remove", "host", "fast", "compute1").returncode == 0
    assert cloud.openstack("aggregate", "delete", "fast").returncode == 0


def test_server_groups_limits_and_quotas(compute_cloud):
    cloud = compute_cloud
    member = cloud.as_member()
    group = cloud.openstack_json("server", "group", "create", "--policy", "anti-affinity",
                                 "spread", **member)
    assert group["policy"] == "anti-affinity" and group["name"] == "spread"
    assert [g["Name"] for g in cloud.openstack_json("server", "group", "list", **member)] == [
        "spread"]
    reader = cloud.openstack("server", "group", "create", "--policy", "affinity", "r",
                             user="demo-reader", password="DEMO_PASS", project="demo")
    assert reader.returncode == 1 and "ForbiddenException: 403" in reader.stderr

    limits = {row["Name"]: row["Value"] for row in cloud.openstack_json(
        "limits", "show", "--absolute", **member)}
    # openstacksdk names the absolute limits in snake case.
    assert limits["max_total_instances"] == 10 and limits["max_total_cores"] == 20
    assert limits["total_server_groups_used"] == 1 and limits["max_server_groups"] == 10

    updated = cloud.openstack("quota", "set", "--instances", "5", "--cores", "8", "demo")
    assert updated.returncode == 0, updated.stderr
    quota = cloud.openstack_json("quota", "show", "--compute", "demo")
    shown = {row["Resource"]: row["Limit"] for row in quota}
    assert shown["instances"] == 5 and shown["cores"] == 8
    assert cloud.openstack("server", "group", "delete", "spread", **member).returncode == 0
