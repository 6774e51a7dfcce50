"""lock/unlock, os-resetState, security groups and the request shapes Tempest
checks, through the in-process API (SQLite, noauth2): these actions change
only the databases, so no compute is needed."""

from nova_runtime.objects import fixed_ips
from tests.unit.api.test_server_listing import _network
from tests.unit.api.test_servers import MEMBER, add_server


def action(client, server, body, version=None, **who):
    return client("POST", f"/v2.1/servers/{server}/action", body, version=version, **who)


def test_lock_with_a_reason_refuses_the_owner_until_unlocked(cloud):
    client, urls = cloud
    server = add_server(urls, "web")
    assert action(client, server, {"lock": {"locked_reason": "backup window"}}, "2.73",
                  **MEMBER).status_int == 202
    shown = client("GET", f"/v2.1/servers/{server}", version="2.73", **MEMBER).data["server"]
    assert (shown["locked"], shown["locked_reason"]) == (True, "backup window")
    stop = action(client, server, {"os-stop": None}, **MEMBER)
    assert stop.status_int == 409 and "is locked" in stop.data["conflictingRequest"]["message"]
    assert client("DELETE", f"/v2.1/servers/{server}", **MEMBER).status_int == 409
    assert action(client, server, {"unlock": None}, **MEMBER).status_int == 202
    shown = client("GET", f"/v2.1/servers/{server}", version="2.73", **MEMBER).data["server"]
    assert (shown["locked"], shown["locked_reason"]) == (False, None)
    # Before 2.73 the lock body is not read; the reason must be a string after it.
    assert action(client, server, {"lock": {"anything": 1}}, "2.72", **MEMBER).status_int == 202
    assert action(client, server, {"lock": {"locked_reason": 5}}, "2.73",
                  **MEMBER).status_int == 400


def test_a_locked_server_refuses_its_owner_all_but_the_exempt_actions(cloud):
    client, urls = cloud
    resized = add_server(urls, "resized", vm_state="resized")
    server = add_server(urls, "web")
    for locked in (resized, server):
        assert action(client, locked, {"lock": None}, **MEMBER).status_int == 202
    # Refused before any state check: confirming a resize changes the server.
    confirm = action(client, resized, {"confirmResize": None}, **MEMBER)
    assert confirm.status_int == 409 and "is locked" in confirm.data["conflictingRequest"]["message"]
    metadata = client("POST", f"/v2.1/servers/{server}/metadata",
                      {"metadata": {"role": "db"}}, **MEMBER)
    assert metadata.status_int == 409 and "is locked" in metadata.data["conflictingRequest"]["message"]
    # A new name and security groups are allowed while locked, as upstream.
    renamed = client("PUT", f"/v2.1/servers/{server}", {"server": {"name": "web2"}}, **MEMBER)
    assert renamed.status_int == 200 and renamed.data["server"]["name"] == "web2"
    assert action(client, server, {"removeSecurityGroup": {"name": "default"}},
                  **MEMBER).status_int == 202
    # The admin is not held by the lock.
    assert client("POST", f"/v2.1/servers/{server}/metadata",
                  {"metadata": {"role": "db"}}).status_int == 200


def test_a_lock_by_an_admin_is_not_the_owners_to_lift(cloud):
    client, urls = cloud
    server = add_server(urls, "web")
    assert action(client, server, {"lock": None}).status_int == 202  # the admin's project
    assert action(client, server, {"unlock": None}, **MEMBER).status_int == 403
    assert action(client, server, {"unlock": None}).status_int == 202


def test_reset_state(cloud):
    client, urls = cloud
    server = add_server(urls, "web", task_state="rebooting_hard")
    assert action(client, server, {"os-resetState": {"state": "error"}}).status_int == 202
    shown = client("GET", f"/v2.1/servers/{server}").data["server"]
    assert (shown["status"], shown["OS-EXT-STS:task_state"]) == ("ERROR", None)
    assert action(client, server, {"os-resetState": {"state": "stopped"}}).status_int == 400
    assert action(client, server, {"os-resetState": {"state": "active"}},
                  **MEMBER).status_int == 403  # an admin's action
    assert action(client, "999", {"os-resetState": {"state": "error"}}).status_int == 404


def test_removing_and_adding_the_default_security_group(cloud):
    client, urls = cloud
    server = add_server(urls, "web")
    fixed_ips.allocate(urls["cell1"], _network(urls), server)
    assert client("GET", f"/v2.1/servers/{server}", **MEMBER).data["server"][
        "security_groups"] == [{"name": "default"}]
    remove = {"removeSecurityGroup": {"name": "default"}}
    assert action(client, server, remove, **MEMBER).status_int == 202
    assert "security_groups" not in client("GET", f"/v2.1/servers/{server}",
                                           **MEMBER).data["server"]
    assert action(client, server, remove, **MEMBER).status_int == 400  # not a member now
    assert action(client, server, {"addSecurityGroup": {"name": "web"}},
                  **MEMBER).status_int == 404
    assert action(client, server, {"addSecurityGroup": {"name": "default"}},
                  **MEMBER).status_int == 202


def test_restore_and_force_delete_need_a_soft_deleted_server(cloud):
    client, urls = cloud
    server = add_server(urls, "web")
    assert action(client, server, {"restore": None}, **MEMBER).status_int == 409
    assert action(client, server, {"forceDelete": None}, **MEMBER).status_int == 409


def test_migrate_before_2_56_reads_no_body_and_checks_the_state(cloud):
    client, urls = cloud
    server = add_server(urls, "web", vm_state="suspended")
    assert action(client, server, {"migrate": {}}).status_int == 409
    assert action(client, server, {"migrate": {"host": "c2"}}, "2.56").status_int == 409


def test_a_bigger_flavor_must_fit_the_quota(cloud):
    client, urls = cloud
    server = add_server(urls, "web")
    flavor = client("POST", "/v2.1/flavors", {"flavor": {
        "name": "big", "ram": 4096, "vcpus": 1, "disk": 1, "id": "big"}})
    assert flavor.status_int == 200
    assert client("PUT", "/v2.1/os-quota-sets/demo",
                  {"quota_set": {"ram": 1024}}).status_int == 200
    over = action(client, server, {"resize": {"flavorRef": "big"}}, **MEMBER)
    assert over.status_int == 403
    assert "Quota exceeded for ram: Requested 3584" in over.data["forbidden"]["message"]


def test_a_trailing_slash_is_another_path(cloud):
    client, _urls = cloud
    assert client("GET", "/v2.1/os-simple-tenant-usage/").status_int == 404
    assert client("DELETE", "/v2.1/images/").status_int == 404
    assert client("GET", "/v2.1/os-simple-tenant-usage").status_int == 200
