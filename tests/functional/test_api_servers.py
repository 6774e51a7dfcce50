"""Servers end to end with the real ``openstack`` client: Keystone, Glance,
nova-api, conductors, scheduler and three fake computes, all real processes
on the tests' MariaDB and RabbitMQ (harness/cloud.py)."""

import base64
import re
import subprocess
import time

import pytest

from nova_runtime.api import crypto

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


def test_access_addresses_rebuild_fields_and_regex_filters(full_cloud):
    cloud = full_cloud
    token = cloud.token(**cloud.member())
    # Tempest's long form of an IPv6 address (41 characters): kept canonical, it
    # fits the 39-character column and the server becomes ACTIVE.
    created = cloud.request("POST", "/servers", token, "2.37", json={"server": {
        "name": "access", "flavorRef": "1", "imageRef": cloud.image, "networks": "auto",
        "accessIPv4": "192.0.2.10",
        "accessIPv6": "0000:0000:0000:0000:0000:babe:220.12.22.2"}})
    assert created.status_code == 202, created.text
    server = created.json()["server"]["id"]
    try:
        shown = wait_status(cloud, server, "ACTIVE", **cloud.member())
        assert (shown["accessIPv4"], shown["accessIPv6"]) == ("192.0.2.10", "::babe:dc0c:1602")
        assert shown["security_groups"] == [{"name": "default"}]
        bad = cloud.request("PUT", f"/servers/{server}", token,
                            json={"server": {"accessIPv6": "not-an-address"}})
        assert bad.status_code == 400

        # Rebuild with a key pair and user data (2.57); null removes them again.
        keypair = cloud.request("POST", "/os-keypairs", token, json={"keypair": {"name": "rk"}})
        assert keypair.status_code == 200, keypair.text
        user_data = base64.b64encode(b"#!/bin/sh\necho rebuilt\n").decode()
        rebuilt = cloud.request("POST", f"/servers/{server}/action", token, "2.57", json={
            "rebuild": {"imageRef": cloud.image, "key_name": "rk", "user_data": user_data}})
        assert rebuilt.status_code == 202, rebuilt.text
        answer = rebuilt.json()["server"]
        assert (answer["key_name"], answer["user_data"]) == ("rk", user_data)
        assert not any(key.startswith("OS-EXT-") for key in answer)
        wait_status(cloud, server, "ACTIVE", **cloud.member())
        removed = cloud.request("POST", f"/servers/{server}/action", token, "2.57", json={
            "rebuild": {"imageRef": cloud.image, "key_name": None, "user_data": None}})
        assert removed.status_code == 202, removed.text
        assert (removed.json()["server"]["key_name"], removed.json()["server"]["user_data"]) \
            == (None, None)
        wait_status(cloud, server, "ACTIVE", **cloud.member())

        # Regular-expression filters on MariaDB: a bad one is a 400, a good one filters.
        for name in ("ip", "name"):
            refused = cloud.request("GET", f"/servers?{name}=(((", token)
            assert refused.status_code == 400, refused.text
            # Python's re takes this one, MariaDB's does not: still a 400, not a
            # cell left out of the answer.
            refused = cloud.request("GET", f"/servers/detail?{name}=[[:foo:]]", token)
            assert refused.status_code == 400, refused.text
            assert "POSIX class" in refused.json()["badRequest"]["message"]
        found = cloud.request("GET", "/servers?name=^acc.ss$", token).json()["servers"]
        assert [s["id"] for s in found] == [server]
    finally:
        cloud.request("DELETE", "/os-keypairs/rk", token)
        delete(cloud, server, **cloud.member())


def test_hypervisor_uptime_comes_from_the_compute(full_cloud):
    cloud = full_cloud
    token = cloud.token()
    listed = cloud.request("GET", "/os-hypervisors", token, "2.53").json()["hypervisors"]
    for hypervisor in listed:
        answer = cloud.request("GET", f"/os-hypervisors/{hypervisor['id']}/uptime", token,
                               "2.53")
        assert answer.status_code == 200, answer.text
        assert re.fullmatch(r" \d\d:\d\d:\d\d up .+,  load average: [\d.]+, [\d.]+, [\d.]+",
                            answer.json()["hypervisor"]["uptime"]), answer.text
        shown = cloud.request("GET", f"/os-hypervisors/{hypervisor['id']}", token, "2.88")
        assert " up " in shown.json()["hypervisor"]["uptime"]


def test_console_log_show(full_cloud, tmp_path):
    """``openstack console log show``: the fake guest's log from its compute,
    in any state; ``--lines N`` the last N pieces between newlines, as upstream
    cuts them (a log ends with a newline: N - 1 lines)."""
    cloud, member = full_cloud, full_cloud.member()
    public = tmp_path / "console.pub"
    public.write_text(crypto.generate_ssh()[1])
    fingerprint = subprocess.run(["ssh-keygen", "-l", "-f", str(public)], capture_output=True,
                                 text=True, check=True).stdout.split()[1]
    assert cloud.openstack("keypair", "create", "--public-key", str(public), "console-key",
                           **member).returncode == 0
    server = create(cloud, "console", "--key-name", "console-key", **member)["id"]
    try:
        shown = cloud.openstack("console", "log", "show", server, **member)
        assert shown.returncode == 0, shown.stderr
        log = shown.stdout.splitlines()
        assert log[0].startswith("fake-guest: powered on: 1 vCPU, 512 MiB, 1 GB disk")
        assert f"fake-guest: booting image {cloud.image}" in log
        assert "fake-guest: hostname console" in log
        assert f"fake-guest: keys {fingerprint}" in log  # as ssh-keygen -l shows it
        assert log[-1] == f"fake-guest: ready uuid={server}"

        tail = cloud.openstack("console", "log", "show", "--lines", "3", "console", **member)
        assert tail.returncode == 0, tail.stderr
        assert tail.stdout == f"fake-guest: keys {fingerprint}\nfake-guest: ready uuid={server}\n"

        # A stopped server still has its log, with its last words.
        assert cloud.openstack("server", "stop", server, **member).returncode == 0
        wait_status(cloud, server, "SHUTOFF", **member)
        stopped = cloud.openstack("console", "log", "show", "--lines", "2", server, **member)
        assert stopped.stdout == "fake-guest: powered off\n", stopped.stderr

        # A reader may not read it (project member or admin, as upstream).
        refused = cloud.openstack("console", "log", "show", server, **cloud.reader())
        assert refused.returncode == 1
        assert "os_compute_api:os-console-output" in refused.stderr and "403" in refused.stderr
    finally:
        delete(cloud, server, **member)
        cloud.openstack("keypair", "delete", "console-key", **member)


def test_tags_ips_password_crash_dump_and_console_tokens(full_cloud):
    """The API pieces of issue 11 against the real daemons on MariaDB: server
    tags and their filters, ips, os-server-password, trigger_crash_dump
    (cast to the compute, recorded as an action), os-console-auth-tokens."""
    cloud, member = full_cloud, full_cloud.member()
    token, admin = cloud.token(**member), cloud.token()
    servers = [create(cloud, f"tagged-{n}", **member)["id"] for n in range(2)]
    first, second = servers
    try:
        put = cloud.request("PUT", f"/servers/{first}/tags", token, "2.26",
                            json={"tags": ["web", "prod"]})
        assert put.status_code == 200 and put.json() == {"tags": ["prod", "web"]}
        assert cloud.request("PUT", f"/servers/{second}/tags/web", token,
                             "2.26").status_code == 201
        for query, expected in (("tags=web,prod", {first}), ("tags-any=web", {first, second}),
                                ("not-tags=web,prod", {second}), ("not-tags-any=prod", {second})):
            found = cloud.request("GET", f"/servers/detail?{query}", token, "2.26").json()
            assert {s["id"] for s in found["servers"]} == expected, query
        shown = cloud.openstack_json("--os-compute-api-version", "2.26", "server", "show",
                                     first, **member)
        assert sorted(shown["tags"]) == ["prod", "web"]

        ips = cloud.request("GET", f"/servers/{first}/ips", token).json()["addresses"]
        body = cloud.request("GET", f"/servers/{first}", token).json()["server"]
        assert ips == {label: [{"version": a["version"], "addr": a["addr"]} for a in addrs]
                       for label, addrs in body["addresses"].items()}

        password = cloud.request("GET", f"/servers/{first}/os-server-password", token)
        assert password.status_code == 200 and password.json() == {"password": ""}
        assert cloud.request("DELETE", f"/servers/{first}/os-server-password",
                             token).status_code == 204

        dump = cloud.request("POST", f"/servers/{first}/action", token, "2.17",
                             json={"trigger_crash_dump": None})
        assert dump.status_code == 202, dump.text
        deadline = time.monotonic() + 30
        while True:
            actions = cloud.request("GET", f"/servers/{first}/os-instance-actions",
                                    admin).json()["instanceActions"]
            if actions[0]["action"] == "trigger_crash_dump":
                request_id = actions[0]["request_id"]
                events = cloud.request(
                    "GET", f"/servers/{first}/os-instance-actions/{request_id}",
                    admin).json()["instanceAction"]["events"]
                if events and events[0].get("result"):
                    assert events[0]["event"] == "compute_trigger_crash_dump"
                    assert events[0]["result"] == "Success"
                    break
            assert time.monotonic() < deadline, actions
            time.sleep(0.5)

        console = cloud.openstack_json("console", "url", "show", first, **member)
        console_token = re.search(r"token%3D([\w-]+)", console["url"]).group(1)
        details = cloud.request("GET", f"/os-console-auth-tokens/{console_token}", admin,
                                "2.31")
        assert details.status_code == 200, details.text
        assert details.json()["console"]["instance_uuid"] == first
        assert cloud.request("GET", f"/os-console-auth-tokens/{console_token}",
                             token, "2.31").status_code == 403
    finally:
        delete(cloud, *servers, **member)


def test_soft_anti_affinity_and_different_host(full_cloud):
    cloud, member = full_cloud, full_cloud.member()
    group = cloud.openstack_json("server", "group", "create", "--policy",
                                 "soft-anti-affinity", "soft-spread", **member)
    servers = [create(cloud, f"soft-{n}", "--hint", f"group={group['id']}", **member)["id"]
               for n in range(3)]
    try:
        hosts = {cloud.openstack_json("server", "show", server)["OS-EXT-SRV-ATTR:host"]
                 for server in servers}
        assert hosts == {"c1", "c2", "c3"}
        apart = create(cloud, "apart", "--hint", f"different_host={servers[0]}",
                       "--hint", f"different_host={servers[1]}", **member)["id"]
        servers.append(apart)
        host = cloud.openstack_json("server", "show", apart)["OS-EXT-SRV-ATTR:host"]
        first_two = {cloud.openstack_json("server", "show", s)["OS-EXT-SRV-ATTR:host"]
                     for s in servers[:2]}
        assert host not in first_two
    finally:
        delete(cloud, *servers, **member)
