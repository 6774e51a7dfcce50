"""Servers end to end with the real ``openstack`` client: Keystone, Glance,
nova-api, conductors, scheduler and three fake computes, all real processes
on the tests' MariaDB and RabbitMQ (tests/cloud.py)."""

import base64
import re
import time

import pytest

pytestmark = pytest.mark.mysql


def wait_status(cloud, server, status, timeout=60, **who):
    deadline = time.monotonic() + timeout
    while True:
        shown = cloud.openstack_json("server", "show", server, **who)
        if shown["status"] == status and not shown.get("OS-EXT-STS:task_state"):
            return shown
        if time.monotonic() > deadline:
            raise AssertionError(f"{server} is {shown['status']}, not {status}: {shown}")
        time.sleep(1)


def create(cloud, name, *extra, **who):
    return cloud.openstack_json("server", "create", "--flavor", "m1.tiny", "--image",
                                cloud.image, "--wait", *extra, name, **who)


def delete(cloud, *servers, **who):
    result = cloud.openstack("server", "delete", "--wait", *servers, **who)
    assert result.returncode == 0, result.stderr


def test_server_lifecycle(full_cloud):
    cloud, member = full_cloud, full_cloud.member()
    created = create(cloud, "vm1", **member)
    assert created["status"] == "ACTIVE" and created["name"] == "vm1"
    assert created["flavor"]["original_name"] == "m1.tiny"  # 2.47+, negotiated by the client
    assert created["image"].startswith("cirros (")
    assert created["addresses"] is not None
    server = created["id"]

    listed = cloud.openstack_json("server", "list", **member)
    assert [(s["ID"], s["Name"], s["Status"], s["Flavor"], s["Image"]) for s in listed] == [
        (server, "vm1", "ACTIVE", "m1.tiny", "cirros")]

    shown = cloud.openstack_json("server", "show", "vm1", **member)
    assert shown["id"] == server and shown["OS-EXT-STS:vm_state"] == "active"
    assert shown["OS-EXT-AZ:availability_zone"] == "nova"
    assert "OS-EXT-SRV-ATTR:host" not in shown or shown["OS-EXT-SRV-ATTR:host"] is None
    assert cloud.openstack_json("server", "show", server)["OS-EXT-SRV-ATTR:host"] in (
        "c1", "c2", "c3")  # the admin sees the host

    assert cloud.openstack("server", "stop", "vm1", **member).returncode == 0
    assert wait_status(cloud, server, "SHUTOFF", **member)["OS-EXT-STS:power_state"] in (
        "Shutdown", 4)
    assert cloud.openstack("server", "start", "vm1", **member).returncode == 0
    wait_status(cloud, server, "ACTIVE", **member)

    console = cloud.openstack_json("console", "url", "show", "vm1", **member)
    assert console["type"] == "novnc"
    assert re.fullmatch(r"http://127\.0\.0\.1:6080/vnc_auto\.html\?path=%3Ftoken%3D[\w-]+",
                        console["url"]), console

    actions = cloud.openstack_json("server", "event", "list", server, **member)
    assert [a["Action"] for a in actions][:3] == ["start", "stop", "create"]

    delete(cloud, server, **member)
    assert cloud.openstack_json("server", "list", **member) == []
    gone = cloud.openstack("server", "show", server, **member)
    assert gone.returncode == 1 and "No Server found" in gone.stderr


def test_anti_affinity_group_spreads_three_servers(full_cloud):
    cloud, member = full_cloud, full_cloud.member()
    group = cloud.openstack_json("server", "group", "create", "--policy", "anti-affinity",
                                 "spread", **member)
    servers = [create(cloud, f"spread-{n}", "--hint", f"group={group['id']}", **member)["id"]
               for n in range(3)]
    hosts = {cloud.openstack_json("server", "show", server)["OS-EXT-SRV-ATTR:host"]
             for server in servers}
    assert hosts == {"c1", "c2", "c3"}
    members = cloud.openstack_json("server", "group", "show", "spread", **member)["members"]
    assert sorted(members) == sorted(servers)
    delete(cloud, *servers, **member)


def test_projects_see_only_their_servers(full_cloud):
    cloud, member = full_cloud, full_cloud.member()
    mine = create(cloud, "member-vm", **member)["id"]
    admins = create(cloud, "admin-vm")["id"]
    try:
        assert [s["ID"] for s in cloud.openstack_json("server", "list", **member)] == [mine]
        assert [s["ID"] for s in cloud.openstack_json("server", "list")] == [admins]
        everyone = {s["ID"] for s in cloud.openstack_json("server", "list", "--all-projects")}
        assert everyone == {mine, admins}
        # Another member of the project sees it; a reader too, but may not change it.
        other = cloud.member("demo-member2")
        assert [s["ID"] for s in cloud.openstack_json("server", "list", **other)] == [mine]
        refused = cloud.openstack("server", "stop", mine, **cloud.reader())
        assert refused.returncode == 1 and "403" in refused.stderr
        # A member may not list every project, see the admin's server, or the hypervisors.
        all_projects = cloud.openstack("server", "list", "--all-projects", **member)
        assert all_projects.returncode == 1 and "403" in all_projects.stderr
        token = cloud.token(**member)
        assert cloud.request("GET", f"/servers/{admins}", token).status_code == 404
        assert cloud.request("DELETE", f"/servers/{admins}", token).status_code == 404
        hypervisors = cloud.openstack("hypervisor", "list", **member)
        assert hypervisors.returncode == 1 and "403" in hypervisors.stderr
        # host is an admin filter: the admin's narrows the list.
        host = cloud.openstack_json("server", "show", admins)["OS-EXT-SRV-ATTR:host"]
        on_host = cloud.openstack_json("server", "list", "--all-projects", "--host", host)
        assert admins in {s["ID"] for s in on_host}
    finally:
        delete(cloud, mine, **member)
        delete(cloud, admins)


def test_bad_requests_name_the_field(full_cloud):
    cloud = full_cloud
    token = cloud.token(**cloud.member())
    good = {"name": "bad", "flavorRef": "1", "imageRef": cloud.image, "networks": "auto"}

    def post(version="2.37", **changes):
        server = {k: v for k, v in {**good, **changes}.items() if v is not None}
        response = cloud.request("POST", "/servers", token, version, json={"server": server})
        assert response.status_code == 400, response.text
        return response.json()["badRequest"]["message"]

    assert "flavorRef" in post(flavorRef="no-such-flavor")
    assert "'name' is a required property" in post(name=None)
    assert "user_data" in post(user_data="%%% not base64 %%%")
    too_big = base64.b64encode(b"x" * 70000).decode()
    assert "user_data" in post(user_data=too_big)
    assert "imageRef" in post(imageRef="8ca5d2c1-9d3e-4c3b-9a4e-2b9f1e1d0c11")
    assert "'networks' is a required property" in post(networks=None)
    assert cloud.openstack_json("server", "list", **cloud.member()) == []


def test_quota_exceeded_is_403(full_cloud):
    cloud, member = full_cloud, full_cloud.member()
    demo = cloud.keystone.ids["demo"]
    assert cloud.openstack("quota", "set", "--instances", "1", demo).returncode == 0
    try:
        first = create(cloud, "quota-1", **member)["id"]
        refused = cloud.openstack("server", "create", "--flavor", "m1.tiny", "--image",
                                  cloud.image, "quota-2", **member)
        assert refused.returncode == 1
        assert "Quota exceeded for instances" in refused.stderr and "403" in refused.stderr
        delete(cloud, first, **member)
    finally:
        cloud.openstack("quota", "set", "--instances", "10", demo)


def test_reboot_pause_suspend(full_cloud):
    cloud, member = full_cloud, full_cloud.member()
    server = create(cloud, "actions", **member)["id"]
    try:
        for command, status in ((["reboot", "--wait"], "ACTIVE"),
                                (["reboot", "--hard", "--wait"], "ACTIVE"),
                                (["pause"], "PAUSED"), (["unpause"], "ACTIVE"),
                                (["suspend"], "SUSPENDED"), (["resume"], "ACTIVE")):
            result = cloud.openstack("server", *command, server, **member)
            assert result.returncode == 0, (command, result.stderr)
            wait_status(cloud, server, status, **member)
        # Pausing a paused server is a conflict, in Nova's words.
        assert cloud.openstack("server", "pause", server, **member).returncode == 0
        wait_status(cloud, server, "PAUSED", **member)
        again = cloud.openstack("server", "pause", server, **member)
        assert again.returncode == 1 and "409" in again.stderr
        actions = [a["Action"] for a in cloud.openstack_json("server", "event", "list", server,
                                                             **member)]
        assert {"reboot", "pause", "unpause", "suspend", "resume"} <= set(actions)
    finally:
        delete(cloud, server, **member)
