"""/servers, server metadata and instance actions through the in-process stack
(SQLite, noauth2): servers are written into the databases as the conductor
and computes would, then read and changed through the API."""

import datetime
import json
import uuid

import pytest
import sqlalchemy as sa

from nova_runtime.api import server_views
from nova_runtime.db import engines
from nova_runtime.db.api import models as api_models
from nova_runtime.db.main import models as cell_models
from nova_runtime.objects import instance_actions, instances

MEMBER = {"user": "alice", "project": "demo"}
OTHER = {"user": "bob", "project": "other"}
FLAVOR = {"id": 1, "flavorid": "1", "name": "m1.tiny", "memory_mb": 512, "vcpus": 1,
          "root_gb": 1, "ephemeral_gb": 0, "swap": 0, "extra_specs": {"hw:cpu_policy": "shared"}}
IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"


def add_server(urls, name, project="demo", user="alice", host="c1", vm_state="active",
               task_state=None, created=None, metadata=None, **values):
    """An instance in cell1 with its mapping and request spec."""
    server = str(uuid.uuid4())
    created = created or datetime.datetime(2024, 1, 1, 12, 0, 0)
    instances.create(urls["cell1"], {
        "uuid": server, "display_name": name, "project_id": project, "user_id": user,
        "host": host, "node": host, "vm_state": vm_state, "task_state": task_state,
        "power_state": 1, "memory_mb": 512, "vcpus": 1, "root_gb": 1, "image_ref": IMAGE,
        "instance_type_id": 1, "availability_zone": "nova", "hostname": name,
        "launched_at": created, **values},
        flavor=FLAVOR, metadata=metadata or {},
        system_metadata={"image_os_type": "linux", "image_base_image_ref": IMAGE})
    with engines.get_engine(urls["cell1"]).begin() as connection:
        connection.execute(sa.update(cell_models.Instance).filter_by(uuid=server).values(
            created_at=created, updated_at=created))
    with engines.get_engine(urls["api"]).begin() as connection:
        cell_id = connection.scalar(sa.select(api_models.CellMapping.id).filter_by(name="cell1"))
        connection.execute(sa.insert(api_models.InstanceMapping).values(
            instance_uuid=server, cell_id=cell_id, project_id=project, user_id=user,
            queued_for_delete=False))
        connection.execute(sa.insert(api_models.RequestSpec).values(
            instance_uuid=server, spec=json.dumps({
                "availability_zone": None, "scheduler_hints": {"group": "g1"}})))
    return server


def add_build_request(urls, name, project="demo"):
    server = str(uuid.uuid4())
    instance = {"uuid": server, "display_name": name, "project_id": project,
                "user_id": "alice", "vm_state": "building", "task_state": "scheduling",
                "power_state": 0, "image_ref": IMAGE, "memory_mb": 512, "vcpus": 1,
                "flavor": FLAVOR, "metadata": {"k": "v"}, "system_metadata": {},
                "availability_zone": "nova"}
    with engines.get_engine(urls["api"]).begin() as connection:
        connection.execute(sa.insert(api_models.BuildRequest).values(
            instance_uuid=server, project_id=project, instance=json.dumps(instance),
            block_device_mappings="[]", tags="[]"))
        connection.execute(sa.insert(api_models.InstanceMapping).values(
            instance_uuid=server, cell_id=None, project_id=project, user_id="alice",
            queued_for_delete=False))
    return server


@pytest.fixture
def servers(cloud):
    client, urls = cloud
    made = {
        "web": add_server(urls, "web", created=datetime.datetime(2024, 1, 1)),
        "db": add_server(urls, "db", host="c2", vm_state="stopped",
                         created=datetime.datetime(2024, 1, 2), metadata={"role": "db"}),
        "rebooting": add_server(urls, "web-2", task_state="rebooting_hard",
                                created=datetime.datetime(2024, 1, 3)),
        "theirs": add_server(urls, "theirs", project="other", user="bob",
                             created=datetime.datetime(2024, 1, 4)),
        "building": add_build_request(urls, "new"),
    }
    return client, urls, made


@pytest.mark.parametrize("vm_state,task_state,status", [
    ("active", None, "ACTIVE"), ("building", "scheduling", "BUILD"),
    ("stopped", None, "SHUTOFF"), ("active", "rebooting", "REBOOT"),
    ("active", "rebooting_hard", "HARD_REBOOT"), ("active", "resize_prep", "RESIZE"),
    ("resized", None, "VERIFY_RESIZE"), ("resized", "resize_reverting", "REVERT_RESIZE"),
    ("paused", None, "PAUSED"), ("suspended", None, "SUSPENDED"),
    ("active", "rebuilding", "REBUILD"), ("active", "migrating", "MIGRATING"),
    ("error", None, "ERROR"), ("deleted", None, "DELETED"), ("active", "deleting", "ACTIVE"),
    ("shelved_offloaded", None, "SHELVED_OFFLOADED"), ("nonsense", None, "UNKNOWN"),
])
def test_status_mapping(vm_state, task_state, status):
    assert server_views.status(vm_state, task_state) == status


def test_status_filter_states():
    assert server_views.states_of(["active"]) == (["active"], None)
    assert server_views.states_of(["HARD_REBOOT"]) == (
        ["active"], ["reboot_pending_hard", "reboot_started_hard", "rebooting_hard"])
    vm_states, tasks = server_views.states_of(["RESIZE"])
    assert vm_states == ["active", "stopped"] and "resize_prep" in tasks
    assert server_views.states_of(["bogus"]) == ([], [])


def test_member_sees_only_their_project(servers):
    client, _urls, made = servers
    listed = client("GET", "/v2.1/servers", **MEMBER).data["servers"]
    # Newest first (created_at desc); the build request is the newest.
    assert [s["name"] for s in listed] == ["new", "web-2", "db", "web"]
    assert listed[1]["links"][0]["href"] == f"http://localhost/v2.1/servers/{made['rebooting']}"
    refused = client("GET", "/v2.1/servers?all_tenants=1", **MEMBER)
    assert refused.status_int == 403
    assert "os_compute_api:servers:index:get_all_tenants" in refused.data["forbidden"]["message"]
    assert client("GET", f"/v2.1/servers/{made['theirs']}", **MEMBER).status_int == 404
    # host is an admin filter: a member's is ignored, not applied.
    assert len(client("GET", "/v2.1/servers?host=c2", **MEMBER).data["servers"]) == 4


def test_admin_filters_and_all_tenants(servers):
    client, _urls, made = servers
    everyone = client("GET", "/v2.1/servers/detail?all_tenants=true").data["servers"]
    assert {s["tenant_id"] for s in everyone} == {"demo", "other"} and len(everyone) == 5
    assert client("GET", "/v2.1/servers").data["servers"] == []  # the admin's own project
    on_c2 = client("GET", "/v2.1/servers?all_tenants=1&host=c2").data["servers"]
    assert [s["id"] for s in on_c2] == [made["db"]]
    named = client("GET", "/v2.1/servers?all_tenants=1&name=^web").data["servers"]
    assert {s["name"] for s in named} == {"web", "web-2"}
    shutoff = client("GET", "/v2.1/servers/detail?all_tenants=1&status=SHUTOFF").data["servers"]
    assert [s["name"] for s in shutoff] == ["db"] and shutoff[0]["status"] == "SHUTOFF"
    hard = client("GET", "/v2.1/servers/detail?all_tenants=1&status=HARD_REBOOT").data
    assert [s["name"] for s in hard["servers"]] == ["web-2"]
    assert client("GET", "/v2.1/servers?all_tenants=1&status=NOPE").data["servers"] == []
    building = client("GET", "/v2.1/servers?all_tenants=1&status=BUILD").data["servers"]
    assert [s["id"] for s in building] == [made["building"]]
    since = client("GET", "/v2.1/servers?all_tenants=1&changes-since=2024-01-02T00:00:00Z")
    assert {s["name"] for s in since.data["servers"]} == {"db", "web-2", "theirs", "new"}
    assert client("GET", "/v2.1/servers?changes-since=yesterday").status_int == 400


def test_paging_and_sorting(servers):
    client, _urls, _made = servers
    first = client("GET", "/v2.1/servers?limit=2", **MEMBER).data
    assert [s["name"] for s in first["servers"]] == ["new", "web-2"]
    next_href = first["servers_links"][0]["href"]
    assert next_href.startswith("http://localhost/v2.1/servers?") and "limit=2" in next_href
    marker = first["servers"][-1]["id"]
    second = client("GET", f"/v2.1/servers?limit=2&marker={marker}", **MEMBER).data
    assert [s["name"] for s in second["servers"]] == ["db", "web"]
    third = client("GET", f"/v2.1/servers?limit=2&marker={second['servers'][-1]['id']}",
                   **MEMBER).data
    assert third == {"servers": []}
    by_name = client("GET", "/v2.1/servers?sort_key=display_name&sort_dir=asc", **MEMBER)
    assert [s["name"] for s in by_name.data["servers"]] == ["db", "new", "web", "web-2"]
    assert client("GET", "/v2.1/servers?marker=nope", **MEMBER).status_int == 400
    assert client("GET", "/v2.1/servers?sort_key=bogus", **MEMBER).status_int == 400
    assert client("GET", "/v2.1/servers?sort_key=host", **MEMBER).status_int == 403


def test_show_across_microversions(servers):
    client, _urls, made = servers
    old = client("GET", f"/v2.1/servers/{made['db']}", **MEMBER).data["server"]
    assert old["status"] == "SHUTOFF" and old["metadata"] == {"role": "db"}
    assert old["flavor"] == {"id": "1", "links": [
        {"rel": "bookmark", "href": "http://localhost/flavors/1"}]}
    assert old["image"]["id"] == IMAGE and "properties" not in old["image"]
    assert old["created"] == "2024-01-02T00:00:00Z" and old["hostId"]
    assert "OS-EXT-SRV-ATTR:host" not in old and "locked" not in old and "progress" not in old
    new = client("GET", f"/v2.1/servers/{made['db']}", version="2.100", **MEMBER).data["server"]
    assert new["flavor"] == {"vcpus": 1, "ram": 512, "disk": 1, "ephemeral": 0, "swap": 0,
                             "original_name": "m1.tiny",
                             "extra_specs": {"hw:cpu_policy": "shared"}}
    assert new["locked"] is False and new["locked_reason"] is None and new["tags"] == []
    assert new["description"] is None and new["server_groups"] == []
    assert new["pinned_availability_zone"] is None
    assert new["scheduler_hints"] == {"group": "g1"}
    assert new["image"]["properties"] == {"os_type": "linux"}
    assert new["OS-EXT-SRV-ATTR:hostname"] == "db" and "host_status" not in new
    admin = client("GET", f"/v2.1/servers/{made['db']}", version="2.16").data["server"]
    assert admin["OS-EXT-SRV-ATTR:host"] == "c2" and admin["host_status"] == "UP"
    assert admin["OS-EXT-SRV-ATTR:instance_name"].startswith("instance-")
    building = client("GET", f"/v2.1/servers/{made['building']}", version="2.47",
                      **MEMBER).data["server"]
    assert building["status"] == "BUILD" and building["progress"] == 0
    assert building["metadata"] == {"k": "v"} and building["flavor"]["original_name"] == "m1.tiny"


def test_fault_shown_for_errored_servers(cloud):
    client, urls = cloud
    server = add_server(urls, "broken", vm_state="error", host=None)
    instance_actions.fault_create(urls["cell1"], instance_uuid=server, code=500,
                                  message="No valid host was found", details="Traceback...")
    shown = client("GET", f"/v2.1/servers/{server}", **MEMBER).data["server"]
    assert shown["status"] == "ERROR"
    assert shown["fault"]["message"] == "No valid host was found"
    assert "details" not in shown["fault"]  # an internal error's traceback: admins only
    assert client("GET", f"/v2.1/servers/{server}").data["server"]["fault"]["details"] == \
        "Traceback..."


def test_update_and_metadata(servers):
    client, _urls, made = servers
    server = made["web"]
    updated = client("PUT", f"/v2.1/servers/{server}",
                     {"server": {"name": "Web Front", "description": "front"}},
                     version="2.19", **MEMBER)
    assert updated.status_int == 200
    assert (updated.data["server"]["name"], updated.data["server"]["description"]) == (
        "Web Front", "front")
    admin_view = client("GET", f"/v2.1/servers/{server}", version="2.3").data["server"]
    assert admin_view["OS-EXT-SRV-ATTR:hostname"] == "web-front"
    bad = client("PUT", f"/v2.1/servers/{server}", {"server": {"flavor": "x"}}, **MEMBER)
    assert bad.status_int == 400 and "'flavor' was unexpected" in bad.data["badRequest"]["message"]
    assert client("PUT", f"/v2.1/servers/{made['theirs']}", {"server": {"name": "x"}},
                  **MEMBER).status_int == 404

    base = f"/v2.1/servers/{server}/metadata"
    assert client("POST", base, {"metadata": {"a": "1"}}, **MEMBER).data == {
        "metadata": {"a": "1"}}
    assert client("PUT", f"{base}/b", {"meta": {"b": "2"}}, **MEMBER).data == {
        "meta": {"b": "2"}}
    assert client("GET", base, **MEMBER).data == {"metadata": {"a": "1", "b": "2"}}
    assert client("GET", f"{base}/a", **MEMBER).data == {"meta": {"a": "1"}}
    assert client("PUT", f"{base}/b", {"meta": {"c": "2"}}, **MEMBER).status_int == 400
    assert client("PUT", base, {"metadata": {"only": "this"}}, **MEMBER).data == {
        "metadata": {"only": "this"}}
    assert client("DELETE", f"{base}/only", **MEMBER).status_int == 204
    assert client("DELETE", f"{base}/only", **MEMBER).status_int == 404
    assert client("GET", f"{base}/a", **MEMBER).status_int == 404
    too_long = client("POST", base, {"metadata": {"k": "v" * 256}}, **MEMBER)
    assert too_long.status_int == 400
    # A rebooting server's metadata cannot change (409), as upstream.
    busy = client("POST", f"/v2.1/servers/{made['rebooting']}/metadata",
                  {"metadata": {"a": "1"}}, **MEMBER)
    assert busy.status_int == 409
    # The reader role may read but not change.
    reader = {**MEMBER, "headers": {"X-Roles": "reader"}}
    assert client("GET", base, **reader).status_int == 200
    assert client("POST", base, {"metadata": {"x": "1"}}, **reader).status_int == 403


def test_instance_actions(servers):
    client, urls, made = servers
    server = made["web"]
    for request_id, action in (("req-1", "create"), ("req-2", "stop")):
        instance_actions.action_start(urls["cell1"], instance_uuid=server,
                                      request_id=request_id, action=action,
                                      user_id="alice", project_id="demo")
        instance_actions.event_start(urls["cell1"], instance_uuid=server,
                                     request_id=request_id, event=f"compute_{action}",
                                     host="c1")
        instance_actions.event_finish(urls["cell1"], instance_uuid=server,
                                      request_id=request_id, event=f"compute_{action}",
                                      result="Success")
    listed = client("GET", f"/v2.1/servers/{server}/os-instance-actions", **MEMBER)
    assert [a["action"] for a in listed.data["instanceActions"]] == ["stop", "create"]
    shown = client("GET", f"/v2.1/servers/{server}/os-instance-actions/req-1",
                   version="2.62", **MEMBER).data["instanceAction"]
    [event] = shown["events"]
    assert event["event"] == "compute_create" and event["result"] == "Success"
    assert "traceback" not in event and "host" not in event and event["hostId"]
    assert "events" not in client("GET", f"/v2.1/servers/{server}/os-instance-actions/req-1",
                                  **MEMBER).data["instanceAction"]
    admin = client("GET", f"/v2.1/servers/{server}/os-instance-actions/req-1",
                   version="2.62").data["instanceAction"]
    assert admin["events"][0]["host"] == "c1"
    assert client("GET", f"/v2.1/servers/{server}/os-instance-actions/nope",
                  **MEMBER).status_int == 404


def test_create_refuses_bad_requests_naming_the_field(cloud):
    client, _urls = cloud
    client("POST", "/v2.1/flavors", {"flavor": {"name": "m1.tiny", "ram": 512, "vcpus": 1,
                                                "disk": 1, "id": "1"}})
    good = {"name": "vm", "flavorRef": "1", "imageRef": IMAGE, "networks": "auto"}

    def create(version="2.37", **changes):
        server = {key: value for key, value in {**good, **changes}.items() if value is not None}
        return client("POST", "/v2.1/servers", {"server": server}, version=version, **MEMBER)

    missing_name = create(name=None)
    assert missing_name.status_int == 400
    assert "'name' is a required property" in missing_name.data["badRequest"]["message"]
    bad_flavor = create(flavorRef="42")
    assert bad_flavor.status_int == 400
    assert "flavorRef" in bad_flavor.data["badRequest"]["message"]
    bad_user_data = create(user_data="not base64!")
    assert bad_user_data.status_int == 400
    assert "field/attribute user_data" in bad_user_data.data["badRequest"]["message"]
    huge = create(user_data="QUFB" * 20000)
    assert "field/attribute user_data" in huge.data["badRequest"]["message"]
    no_networks = create(networks=None)
    assert "'networks' is a required property" in no_networks.data["badRequest"]["message"]
    no_image = create(imageRef=None)
    assert no_image.status_int == 400 and "imageRef" in no_image.data["badRequest"]["message"]
    bad_image = create(imageRef="not-a-uuid")
    assert "imageRef" in bad_image.data["badRequest"]["message"]
    port = create(networks=[{"port": str(uuid.uuid4())}])
    assert port.status_int == 400 and "Neutron" in port.data["badRequest"]["message"]
    assert create(min_count=3, max_count=2).status_int == 400
    assert create(bogus=1).status_int == 400


def test_addresses_from_the_flat_network_info():
    flat = [{"id": "v1", "address": "fa:16:3e:00:00:01", "fixed_ip": "10.0.0.5",
             "label": "flat", "bridge": "br100"}]
    assert server_views.addresses({"network_info": flat}) == {"flat": [
        {"version": 4, "addr": "10.0.0.5", "OS-EXT-IPS:type": "fixed",
         "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"}]}
    vif_model = [{"address": "fa:16:3e:00:00:02", "network": {"label": "private", "subnets": [
        {"ips": [{"address": "fd00::5", "type": "fixed", "version": 6}]}]}}]
    assert server_views.addresses({"network_info": vif_model})["private"][0]["addr"] == \
        "fd00::5"
    assert server_views.addresses({"network_info": [], "fixed_ips": [
        {"address": "10.0.0.9", "network": "flat"}]})["flat"][0]["addr"] == "10.0.0.9"
