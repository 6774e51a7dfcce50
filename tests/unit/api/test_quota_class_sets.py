"""/os-quota-class-sets/{id}: show and update a quota class; the class
'default' changes what every project gets."""

import pytest

MEMBER = {"user": "alice", "project": "demo"}


@pytest.mark.parametrize("version, present, absent", [
    ("2.1", {"fixed_ips", "injected_files"}, {"server_groups", "server_group_members"}),
    ("2.50", {"server_groups", "injected_files"}, {"fixed_ips", "security_groups"}),
    ("2.57", {"server_groups"}, {"fixed_ips", "injected_files"}),
])
def test_update_the_default_class_as_tempest_does(client, version, present, absent):
    shown = client("GET", "/v2.1/os-quota-class-sets/default", version=version)
    assert shown.status_int == 200
    body = shown.data["quota_class_set"]
    assert body.pop("id") == "default"
    assert present <= set(body) and not absent & set(body)
    wanted = {name: value + 100 for name, value in body.items()}
    updated = client("PUT", "/v2.1/os-quota-class-sets/default",
                     {"quota_class_set": wanted}, version=version)
    assert updated.status_int == 200, updated.data
    assert updated.data["quota_class_set"] == wanted  # no "id" in the answer
    again = client("GET", "/v2.1/os-quota-class-sets/default", version=version)
    assert {**again.data["quota_class_set"]} == {"id": "default", **wanted}


def test_the_default_class_is_every_projects_default(client):
    client("PUT", "/v2.1/os-quota-class-sets/default", {"quota_class_set": {"instances": 7}})
    assert client("GET", "/v2.1/os-quota-sets/demo").data["quota_set"]["instances"] == 7
    # Another class keeps its own values over the defaults.
    client("PUT", "/v2.1/os-quota-class-sets/gold", {"quota_class_set": {"cores": 99}})
    gold = client("GET", "/v2.1/os-quota-class-sets/gold").data["quota_class_set"]
    assert (gold["cores"], gold["instances"]) == (99, 7)


def test_refusals(client):
    put = {"quota_class_set": {"instances": 5}}
    assert client("PUT", "/v2.1/os-quota-class-sets/default", put, **MEMBER).status_int == 403
    assert client("GET", "/v2.1/os-quota-class-sets/default", **MEMBER).status_int == 403
    for bad in ({"quota_class_set": {"bogus": 1}}, {"quota_class_set": {"cores": -2}},
                {"quota_class_set": {"cores": "lots"}}, {}):
        assert client("PUT", "/v2.1/os-quota-class-sets/default", bad).status_int == 400, bad
    # A network quota is refused from 2.50, a personality quota from 2.57.
    assert client("PUT", "/v2.1/os-quota-class-sets/default",
                  {"quota_class_set": {"fixed_ips": 1}}, version="2.50").status_int == 400
    assert client("PUT", "/v2.1/os-quota-class-sets/default",
                  {"quota_class_set": {"injected_files": 1}}, version="2.57").status_int == 400
    assert client("PUT", "/v2.1/os-quota-class-sets/" + "x" * 256, put).status_int == 400
