"""Each resource of this slice through the whole in-process stack."""

from tests.unit.api.conftest import add_service

MEMBER = {"user": "alice", "project": "demo"}
FLAVOR = {"flavor": {"name": "m1.small", "ram": 512, "vcpus": 1, "disk": 1, "id": "1"}}


# --- flavors --------------------------------------------------------------------

def test_flavor_lifecycle_and_microversions(client):
    created = client("POST", "/v2.1/flavors", FLAVOR)
    assert created.status_int == 200
    flavor = created.data["flavor"]
    assert flavor["swap"] == "" and flavor["os-flavor-access:is_public"] is True
    assert flavor["links"][0]["href"] == "http://localhost/v2.1/flavors/1"
    assert client("POST", "/v2.1/flavors", FLAVOR).status_int == 409

    shown = client("GET", "/v2.1/flavors/1", version="2.75").data["flavor"]
    assert shown["swap"] == 0 and shown["description"] is None and shown["extra_specs"] == {}
    assert "description" not in client("GET", "/v2.1/flavors/1").data["flavor"]

    assert client("PUT", "/v2.1/flavors/1", {"flavor": {"description": "x"}}).status_int == 404
    updated = client("PUT", "/v2.1/flavors/1", {"flavor": {"description": "small"}},
                     version="2.55")
    assert updated.data["flavor"]["description"] == "small"

    listed = client("GET", "/v2.1/flavors").data["flavors"]
    assert [f["id"] for f in listed] == ["1"] and "ram" not in listed[0]
    assert client("GET", "/v2.1/flavors/detail").data["flavors"][0]["ram"] == 512
    assert client("DELETE", "/v2.1/flavors/1").status_int == 202
    assert client("GET", "/v2.1/flavors/1").data["itemNotFound"]["code"] == 404


def test_flavor_bad_input_names_the_field(client):
    response = client("POST", "/v2.1/flavors", {"flavor": {**FLAVOR["flavor"], "ram": "lots"}})
    assert response.status_int == 400
    assert response.data["badRequest"]["message"].startswith(
        "Invalid input for field/attribute ram. Value: lots.")
    missing = client("POST", "/v2.1/flavors", {"flavor": {"name": "x", "ram": 1, "vcpus": 1}})
    assert "'disk' is a required property" in missing.data["badRequest"]["message"]
    negative = client("POST", "/v2.1/flavors", {"flavor": {**FLAVOR["flavor"], "disk": -1}})
    assert "field/attribute disk" in negative.data["badRequest"]["message"]
    extra = client("POST", "/v2.1/flavors", {"flavor": {**FLAVOR["flavor"], "description": "d"}})
    assert "'description' was unexpected" in extra.data["badRequest"]["message"]


def test_extra_specs(client):
    client("POST", "/v2.1/flavors", FLAVOR)
    specs = client("POST", "/v2.1/flavors/1/os-extra_specs",
                   {"extra_specs": {"hw:cpu_policy": "dedicated", "size": 2}})
    assert specs.data == {"extra_specs": {"hw:cpu_policy": "dedicated", "size": "2"}}
    assert client("GET", "/v2.1/flavors/1/os-extra_specs/size").data == {"size": "2"}
    assert client("PUT", "/v2.1/flavors/1/os-extra_specs/size", {"other": "1"}).status_int == 400
    assert client("PUT", "/v2.1/flavors/1/os-extra_specs/size", {"size": "3"}).data == {"size": "3"}
    assert client("DELETE", "/v2.1/flavors/1/os-extra_specs/size").status_int == 200
    assert client("GET", "/v2.1/flavors/1/os-extra_specs/size").status_int == 404
    assert client("GET", "/v2.1/flavors/1", version="2.61").data["flavor"]["extra_specs"] == {
        "hw:cpu_policy": "dedicated"}
    # 2.86 validates the namespaces nova knows; before, anything goes.
    bad = {"extra_specs": {"hw:cpu_policy": "sometimes"}}
    assert client("POST", "/v2.1/flavors/1/os-extra_specs", bad).status_int == 200
    refused = client("POST", "/v2.1/flavors/1/os-extra_specs", bad, version="2.86")
    assert refused.status_int == 400 and "hw:cpu_policy" in refused.data["badRequest"]["message"]
    ok = {"extra_specs": {"resources:VCPU": "2", "trait:HW_CPU_X86_AVX": "required",
                          "mine:anything": "goes"}}
    assert client("POST", "/v2.1/flavors/1/os-extra_specs", ok, version="2.86").status_int == 200


def test_private_flavor_access(client):
    private = {"flavor": {**FLAVOR["flavor"], "os-flavor-access:is_public": False}}
    client("POST", "/v2.1/flavors", private)
    assert client("GET", "/v2.1/flavors/1", **MEMBER).status_int == 404
    assert client("GET", "/v2.1/flavors", **MEMBER).data["flavors"] == []
    added = client("POST", "/v2.1/flavors/1/action", {"addTenantAccess": {"tenant": "demo"}})
    assert added.data == {"flavor_access": [{"flavor_id": "1", "tenant_id": "demo"}]}
    assert client("GET", "/v2.1/flavors/1", **MEMBER).status_int == 200
    assert [f["id"] for f in client("GET", "/v2.1/flavors", **MEMBER).data["flavors"]] == ["1"]
    # Admins list public flavors by default, all with is_public=none.
    assert client("GET", "/v2.1/flavors").data["flavors"] == []
    assert len(client("GET", "/v2.1/flavors?is_public=none").data["flavors"]) == 1
    assert client("GET", "/v2.1/flavors/1/os-flavor-access").data["flavor_access"][0][
        "tenant_id"] == "demo"
    client("POST", "/v2.1/flavors/1/action", {"removeTenantAccess": {"tenant": "demo"}})
    assert client("GET", "/v2.1/flavors/1", **MEMBER).status_int == 404


def test_access_to_public_flavor_is_conflict_from_2_7(client):
    client("POST", "/v2.1/flavors", FLAVOR)
    body = {"addTenantAccess": {"tenant": "demo"}}
    assert client("POST", "/v2.1/flavors/1/action", body, version="2.7").status_int == 409


def test_member_cannot_manage_flavors(client):
    response = client("POST", "/v2.1/flavors", FLAVOR, **MEMBER)
    assert response.status_int == 403
    assert response.data == {"forbidden": {
        "code": 403,
        "message": "Policy doesn't allow os_compute_api:os-flavor-manage:create to be performed."}}


# --- keypairs -------------------------------------------------------------------

def test_keypair_generated_and_owned(client):
    created = client("POST", "/v2.1/os-keypairs", {"keypair": {"name": "k1"}}, **MEMBER)
    assert created.status_int == 200
    keypair = created.data["keypair"]
    assert keypair["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert keypair["public_key"].startswith("ssh-rsa ") and "type" not in keypair
    assert len(keypair["fingerprint"].split(":")) == 16

    listed = client("GET", "/v2.1/os-keypairs", **MEMBER).data["keypairs"]
    assert [k["keypair"]["name"] for k in listed] == ["k1"]
    # Another user sees only their own.
    assert client("GET", "/v2.1/os-keypairs", user="bob", project="demo").data["keypairs"] == []
    assert client("GET", "/v2.1/os-keypairs/k1", user="bob", project="demo").status_int == 404
    shown = client("GET", "/v2.1/os-keypairs/k1", version="2.2", **MEMBER).data["keypair"]
    assert shown["type"] == "ssh" and shown["user_id"] == "alice" and shown["deleted"] is False
    # Member may not look at another user's key pairs (2.10 user_id).
    assert client("GET", "/v2.1/os-keypairs?user_id=alice", version="2.10",
                  user="bob", project="demo").status_int == 403
    assert client("GET", "/v2.1/os-keypairs?user_id=alice", version="2.10").data[
        "keypairs"][0]["keypair"]["name"] == "k1"
    assert client("DELETE", "/v2.1/os-keypairs/k1", version="2.2", **MEMBER).status_int == 204


def test_keypair_import_types_and_errors(client):
    from nova_runtime.api import crypto
    _, public, fingerprint = crypto.generate_ssh()
    created = client("POST", "/v2.1/os-keypairs",
                     {"keypair": {"name": "mine", "public_key": public}}, version="2.2")
    assert created.status_int == 201
    assert created.data["keypair"]["fingerprint"] == fingerprint
    assert "private_key" not in created.data["keypair"]
    assert client("POST", "/v2.1/os-keypairs",
                  {"keypair": {"name": "mine", "public_key": public}}).status_int == 409
    bad = client("POST", "/v2.1/os-keypairs", {"keypair": {"name": "b", "public_key": "junk"}})
    assert bad.data["badRequest"]["message"] == (
        "Keypair data is invalid: failed to generate fingerprint")
    x509 = client("POST", "/v2.1/os-keypairs", {"keypair": {"name": "cert", "type": "x509"}},
                  version="2.2").data["keypair"]
    assert x509["public_key"].startswith("-----BEGIN CERTIFICATE-----")
    name = client("POST", "/v2.1/os-keypairs", {"keypair": {"name": "a/b"}})
    assert "field/attribute name" in name.data["badRequest"]["message"]
    for_other = client("POST", "/v2.1/os-keypairs",
                       {"keypair": {"name": "k", "user_id": "alice"}}, version="2.10",
                       user="bob", project="demo")
    assert for_other.status_int == 403


def test_keypair_quota(client):
    client("PUT", "/v2.1/os-quota-sets/demo", {"quota_set": {"key_pairs": 1}})
    assert client("POST", "/v2.1/os-keypairs", {"keypair": {"name": "a"}},
                  **MEMBER).status_int == 200
    refused = client("POST", "/v2.1/os-keypairs", {"keypair": {"name": "b"}}, **MEMBER)
    assert refused.data == {"forbidden": {"code": 403,
                                          "message": "Quota exceeded, too many key pairs."}}


# --- services, hypervisors, zones -----------------------------------------------

def test_services_list_and_update(client):
    services = client("GET", "/v2.1/os-services").data["services"]
    assert {(s["binary"], s["host"], s["zone"], s["state"]) for s in services} == {
        ("nova-conductor", "ctl", "internal", "up"), ("nova-compute", "c1", "nova", "up"),
        ("nova-compute", "c2", "nova", "up")}
    assert isinstance(services[0]["id"], int) and "forced_down" not in services[0]
    computes = client("GET", "/v2.1/os-services?binary=nova-compute&host=c1").data["services"]
    assert len(computes) == 1

    disabled = client("PUT", "/v2.1/os-services/disable-log-reason",
                      {"host": "c1", "binary": "nova-compute", "disabled_reason": "maint"})
    assert disabled.data["service"]["status"] == "disabled"
    assert client("PUT", "/v2.1/os-services/force-down",
                  {"host": "c1", "binary": "nova-compute", "forced_down": True}).status_int == 404
    forced = client("PUT", "/v2.1/os-services/force-down",
                    {"host": "c1", "binary": "nova-compute", "forced_down": True}, version="2.11")
    assert forced.data == {"service": {"host": "c1", "binary": "nova-compute",
                                       "forced_down": True}}

    new = client("GET", "/v2.1/os-services?host=c1", version="2.53").data["services"][0]
    assert new["state"] == "down" and new["disabled_reason"] == "maint"
    enabled = client("PUT", f"/v2.1/os-services/{new['id']}",
                     {"status": "enabled", "forced_down": False}, version="2.53")
    assert enabled.data["service"]["status"] == "enabled"
    assert enabled.data["service"]["state"] == "up"
    assert client("PUT", f"/v2.1/os-services/{new['id']}", {}, version="2.53").status_int == 400
    conductor = next(s for s in client("GET", "/v2.1/os-services", version="2.53").data[
        "services"] if s["binary"] == "nova-conductor")
    assert client("PUT", f"/v2.1/os-services/{conductor['id']}", {"status": "disabled"},
                  version="2.53").status_int == 400
    assert client("GET", "/v2.1/os-services", **MEMBER).status_int == 403


def test_delete_compute_service(client):
    service = client("GET", "/v2.1/os-services?host=c2", version="2.53").data["services"][0]
    assert client("DELETE", f"/v2.1/os-services/{service['id']}",
                  version="2.53").status_int == 204
    assert client("GET", "/v2.1/os-services?host=c2").data["services"] == []
    assert [h["hypervisor_hostname"] for h in
            client("GET", "/v2.1/os-hypervisors").data["hypervisors"]] == ["c1"]
    assert client("DELETE", "/v2.1/os-services/not-a-uuid", version="2.53").status_int == 400


def test_hypervisors(client):
    listed = client("GET", "/v2.1/os-hypervisors").data["hypervisors"]
    assert [(h["hypervisor_hostname"], h["state"], h["status"]) for h in listed] == [
        ("c1", "up", "enabled"), ("c2", "up", "enabled")]
    detail = client("GET", "/v2.1/os-hypervisors/detail").data["hypervisors"][0]
    assert detail["vcpus"] == 4 and detail["cpu_info"] == '{"arch": "x86_64"}'
    assert client("GET", "/v2.1/os-hypervisors/detail", version="2.28").data[
        "hypervisors"][0]["cpu_info"] == {"arch": "x86_64"}
    new = client("GET", "/v2.1/os-hypervisors/detail", version="2.88").data["hypervisors"][0]
    assert "vcpus" not in new and len(new["id"]) == 36  # uptime: test_hypervisor_uptime.py
    stats = client("GET", "/v2.1/os-hypervisors/statistics").data["hypervisor_statistics"]
    assert stats["count"] == 2 and stats["vcpus"] == 8
    assert client("GET", "/v2.1/os-hypervisors/statistics", version="2.88").status_int == 404
    paged = client("GET", "/v2.1/os-hypervisors?limit=1", version="2.53").data
    assert len(paged["hypervisors"]) == 1 and paged["hypervisors_links"][0]["rel"] == "next"


def test_availability_zones_and_aggregates(client, cloud):
    zones = client("GET", "/v2.1/os-availability-zone", **MEMBER).data["availabilityZoneInfo"]
    assert zones == [{"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}]
    assert client("GET", "/v2.1/os-availability-zone/detail", **MEMBER).status_int == 403

    created = client("POST", "/v2.1/os-aggregates",
                     {"aggregate": {"name": "fast", "availability_zone": "az1"}}, version="2.41")
    aggregate = created.data["aggregate"]
    assert aggregate["availability_zone"] == "az1" and "hosts" not in aggregate
    assert "uuid" in aggregate
    agg = aggregate["id"]
    assert client("POST", "/v2.1/os-aggregates", {"aggregate": {"name": "fast"}}).status_int == 409
    added = client("POST", f"/v2.1/os-aggregates/{agg}/action", {"add_host": {"host": "c1"}})
    assert added.data["aggregate"]["hosts"] == ["c1"]
    assert client("POST", f"/v2.1/os-aggregates/{agg}/action",
                  {"add_host": {"host": "nowhere"}}).status_int == 404

    detail = client("GET", "/v2.1/os-availability-zone/detail").data["availabilityZoneInfo"]
    by_zone = {zone["zoneName"]: zone for zone in detail}
    assert set(by_zone) == {"az1", "internal", "nova"}
    assert by_zone["az1"]["hosts"]["c1"]["nova-compute"]["available"] is True
    assert by_zone["internal"]["hosts"]["ctl"]["nova-conductor"]["active"] is True
    services = client("GET", "/v2.1/os-services?host=c1").data["services"]
    assert services[0]["zone"] == "az1"

    # A host may not end up in two zones.
    other = client("POST", "/v2.1/os-aggregates",
                   {"aggregate": {"name": "slow", "availability_zone": "az2"}}).data["aggregate"]
    clash = client("POST", f"/v2.1/os-aggregates/{other['id']}/action",
                   {"add_host": {"host": "c1"}})
    assert clash.status_int == 400 and "az1" in clash.data["badRequest"]["message"]

    meta = client("POST", f"/v2.1/os-aggregates/{agg}/action",
                  {"set_metadata": {"metadata": {"ssd": "true", "availability_zone": "az3"}}})
    assert meta.data["aggregate"]["metadata"] == {"availability_zone": "az3", "ssd": "true"}
    assert client("DELETE", f"/v2.1/os-aggregates/{agg}").status_int == 400
    client("POST", f"/v2.1/os-aggregates/{agg}/action", {"remove_host": {"host": "c1"}})
    assert client("DELETE", f"/v2.1/os-aggregates/{agg}").status_int == 200
    bad = client("POST", "/v2.1/os-aggregates",
                 {"aggregate": {"name": "x", "availability_zone": "a:b"}})
    assert "field/attribute availability_zone" in bad.data["badRequest"]["message"]
    assert client("POST", f"/v2.1/os-aggregates/{other['id']}/images",
                  {"cache": [{"id": "x"}]}, version="2.81").status_int == 501


def test_services_of_a_down_cell(client, cloud, monkeypatch):
    from nova_runtime import cells
    from nova_runtime.objects import cell_mappings
    api_url = cloud[1]["api"]
    cell = cell_mappings.create_cell(api_url, "cell2", "rabbit://x:y@127.0.0.1/2",
                                    "mysql+pymysql://nova:x@127.0.0.1:1/nowhere")
    from nova_runtime.db import engines
    import sqlalchemy as sa
    from nova_runtime.db.api import models
    with engines.get_engine(api_url).begin() as connection:
        connection.execute(sa.insert(models.HostMapping).values(host="c9", cell_id=cell.id))
    import time
    monkeypatch.setattr(cells, "CELL_CACHE_SECONDS", 0)
    time.sleep(0.01)
    old = client("GET", "/v2.1/os-services").data["services"]
    assert "c9" not in {s["host"] for s in old}
    new = client("GET", "/v2.1/os-services", version="2.69").data["services"]
    assert {"binary": "nova-compute", "host": "c9", "status": "UNKNOWN"} in new


# --- server groups, limits, quotas ----------------------------------------------

def test_server_groups(client):
    old = client("POST", "/v2.1/os-server-groups",
                 {"server_group": {"name": "g1", "policies": ["anti-affinity"]}}, **MEMBER)
    assert old.status_int == 200
    group = old.data["server_group"]
    assert group["policies"] == ["anti-affinity"] and group["members"] == []
    assert "project_id" not in group
    soft = {"server_group": {"name": "g2", "policies": ["soft-affinity"]}}
    assert client("POST", "/v2.1/os-server-groups", soft, **MEMBER).status_int == 400
    assert client("POST", "/v2.1/os-server-groups", soft, version="2.15",
                  **MEMBER).status_int == 200
    new = client("POST", "/v2.1/os-server-groups",
                 {"server_group": {"name": "g3", "policy": "anti-affinity",
                                   "rules": {"max_server_per_host": 2}}},
                 version="2.64", **MEMBER).data["server_group"]
    assert new["policy"] == "anti-affinity" and new["rules"] == {"max_server_per_host": 2}
    assert new["project_id"] == "demo" and "policies" not in new
    rules = client("POST", "/v2.1/os-server-groups",
                   {"server_group": {"name": "g4", "policy": "affinity",
                                     "rules": {"max_server_per_host": 2}}},
                   version="2.64", **MEMBER)
    assert rules.status_int == 400
    assert len(client("GET", "/v2.1/os-server-groups", **MEMBER).data["server_groups"]) == 3
    assert client("GET", "/v2.1/os-server-groups", user="bob",
                  project="other").data["server_groups"] == []
    assert client("GET", f"/v2.1/os-server-groups/{new['id']}", user="bob",
                  project="other").status_int == 403
    assert len(client("GET", "/v2.1/os-server-groups?all_projects=True").data[
        "server_groups"]) == 3
    assert client("DELETE", f"/v2.1/os-server-groups/{new['id']}", **MEMBER).status_int == 204
    reader = client("POST", "/v2.1/os-server-groups", soft, version="2.15",
                    user="carol", project="demo", headers={"X-Roles": "reader"})
    assert reader.status_int == 403


def test_limits_and_quotas(client):
    absolute = client("GET", "/v2.1/limits", **MEMBER).data["limits"]["absolute"]
    assert absolute["maxTotalInstances"] == 10 and absolute["maxTotalCores"] == 20
    assert absolute["maxSecurityGroups"] == -1 and "maxImageMeta" in absolute
    new = client("GET", "/v2.1/limits", version="2.57", **MEMBER).data["limits"]["absolute"]
    assert "maxSecurityGroups" not in new and "maxPersonality" not in new
    assert "maxImageMeta" not in new and new["totalServerGroupsUsed"] == 0
    assert client("GET", "/v2.1/limits?tenant_id=other", **MEMBER).status_int == 403

    shown = client("GET", "/v2.1/os-quota-sets/demo", **MEMBER).data["quota_set"]
    assert shown["id"] == "demo" and shown["instances"] == 10 and "floating_ips" in shown
    assert client("GET", "/v2.1/os-quota-sets/other", **MEMBER).status_int == 403
    assert client("PUT", "/v2.1/os-quota-sets/demo", {"quota_set": {"instances": 5}},
                  **MEMBER).status_int == 403
    updated = client("PUT", "/v2.1/os-quota-sets/demo",
                     {"quota_set": {"instances": 5, "cores": "8"}}, version="2.57")
    assert updated.data["quota_set"]["instances"] == 5 and "id" not in updated.data["quota_set"]
    assert "injected_files" not in updated.data["quota_set"]
    bad = client("PUT", "/v2.1/os-quota-sets/demo", {"quota_set": {"instances": -2}})
    assert "field/attribute instances" in bad.data["badRequest"]["message"]
    gone = client("PUT", "/v2.1/os-quota-sets/demo", {"quota_set": {"floating_ips": 1}},
                  version="2.36")
    assert gone.status_int == 400
    detail = client("GET", "/v2.1/os-quota-sets/demo/detail", **MEMBER).data["quota_set"]
    assert detail["instances"] == {"limit": 5, "in_use": 0, "reserved": 0}
    assert client("GET", "/v2.1/os-quota-sets/demo/defaults", **MEMBER).data[
        "quota_set"]["instances"] == 10
    assert client("DELETE", "/v2.1/os-quota-sets/demo").status_int == 202
    assert client("GET", "/v2.1/os-quota-sets/demo").data["quota_set"]["instances"] == 10


def test_instances_count_in_limits(client, cloud):
    import uuid
    import sqlalchemy as sa
    from nova_runtime.db import engines
    from nova_runtime.db.main import models
    with engines.get_engine(cloud[1]["cell1"]).begin() as connection:
        connection.execute(sa.insert(models.Instance).values(
            uuid=str(uuid.uuid4()), project_id="demo", user_id="alice", vcpus=2,
            memory_mb=1024, host="c1", node="c1"))
    absolute = client("GET", "/v2.1/limits", **MEMBER).data["limits"]["absolute"]
    assert (absolute["totalInstancesUsed"], absolute["totalCoresUsed"],
            absolute["totalRAMUsed"]) == (1, 2, 1024)
    service = client("GET", "/v2.1/os-services?host=c1", version="2.53").data["services"][0]
    assert client("DELETE", f"/v2.1/os-services/{service['id']}",
                  version="2.53").status_int == 409
    assert add_service  # imported helper stays available to other tests
