"""The reads of every create request and every poll, built once with bound
parameters and run on plain connections (flavors.get, quotas' limits and
usage, instance mappings): what they return. On SQLite."""

import uuid

import pytest

from nova_runtime import cells, config
from nova_runtime.db.api import models as api_models
from nova_runtime.objects import (build_requests, cell_mappings, exceptions, flavors,
                                  instance_mappings, instances, quotas)
from tests.unit.test_record_statements import urls  # noqa: F401  the same databases


def test_flavor_with_its_extra_specs_as_each_caller_may_see_it(urls):
    public = flavors.create(urls["api"], name="pub", memory_mb=512, vcpus=1, root_gb=1,
                            flavorid="1")
    flavors.create(urls["api"], name="priv", memory_mb=1024, vcpus=2, root_gb=2,
                   flavorid="2", is_public=False)
    flavors.set_extra_specs(urls["api"], "1", {"b": "2", "a": "1"})
    found = flavors.get(urls["api"], 1, with_specs=True)
    assert found == dict(public, extra_specs={"a": "1", "b": "2"})
    assert list(found["extra_specs"]) == ["a", "b"]
    assert "extra_specs" not in flavors.get(urls["api"], "1")
    assert flavors.get(urls["api"], "2", with_specs=True)["extra_specs"] == {}
    assert flavors.get(urls["api"], "1", visible_to="p")["name"] == "pub"
    with pytest.raises(exceptions.NotFound):
        flavors.get(urls["api"], "2", visible_to="p", with_specs=True)
    flavors.add_access(urls["api"], "2", "p", public_is_conflict=True)
    assert flavors.get(urls["api"], "2", visible_to="p")["name"] == "priv"
    with pytest.raises(exceptions.NotFound):
        flavors.get(urls["api"], "2", visible_to="other")
    with pytest.raises(exceptions.NotFound):
        flavors.get(urls["api"], "3")


def test_limits_of_a_quota_class_override_the_defaults(urls):
    conf = config.new_conf()
    config.load(conf, [], prog="test", default_config_files=[])
    with cells.session(urls["api"]) as db:
        db.add_all([api_models.QuotaClass(class_name="default", resource="cores", hard_limit=7),
                    api_models.QuotaClass(class_name="gold", resource="cores", hard_limit=70),
                    api_models.QuotaClass(class_name="gold", resource="ram", hard_limit=9)])
    gold = quotas.class_limits(urls["api"], conf, "gold")
    assert (gold["cores"], gold["ram"], gold["instances"]) == (70, 9, 10)
    assert quotas.defaults(urls["api"], conf)["cores"] == 7
    assert quotas.limits(urls["api"], conf, None)["cores"] == 7


def test_usage_counts_builds_once_and_leaves_out_what_is_excluded(urls):
    cell_mappings.create_cell(urls["api"], "cell1", "fake://", urls["cell"])
    dbs = cells.Databases(urls["api"])
    made = [instances.create(urls["cell"], {"uuid": str(uuid.uuid4()), "project_id": "p",
                                            "user_id": user, "vcpus": 2, "memory_mb": 256})
            for user in ("u", "u", "v")]
    assert quotas.instance_usage([urls["cell"]], "p", "u") == (
        {"instances": 3, "cores": 6, "ram": 768}, {"instances": 2, "cores": 4, "ram": 512})
    assert quotas.instance_usage([urls["cell"]], "p", "u", exclude=[made[0]["uuid"]])[1] == {
        "instances": 1, "cores": 2, "ram": 256}
    # A server on its way whose instance is in its cell already counts once.
    on_its_way = {key: made[2][key] for key in ("uuid", "project_id", "user_id", "vcpus",
                                                  "memory_mb")}
    build_requests.create(urls["api"], [{"instance": on_its_way, "request_spec": {}}])
    flavor = {"vcpus": 2, "memory_mb": 256}
    limits = ({"instances": 4, "cores": -1, "ram": -1}, {"instances": 2, "cores": -1, "ram": -1})
    assert quotas.allowed_servers(dbs, "p", "v", flavor, 1, 5, limits) == 1
    with pytest.raises(exceptions.QuotaExceeded):
        quotas.allowed_servers(dbs, "p", "u", flavor, 1, 5, limits)


def test_mappings_of_several_instances(urls):
    cell = cell_mappings.create_cell(urls["api"], "cell1", "fake://", urls["cell"])
    uuids = [str(uuid.uuid4()) for _ in range(3)]
    build_requests.create(urls["api"], [
        {"instance": {"uuid": each, "project_id": "p", "user_id": "u"}, "request_spec": {}}
        for each in uuids])
    build_requests.mark_placed(urls["api"], uuids[0], cell.id)
    found = instance_mappings.get_many(urls["api"], uuids + ["missing"])
    assert set(found) == set(uuids)
    assert found[uuids[0]]["cell"].uuid == cell.uuid and found[uuids[1]]["cell"] is None
    assert instance_mappings.get_many(urls["api"], []) == {}
    with pytest.raises(exceptions.InstanceMappingNotFound):
        instance_mappings.get(urls["api"], "missing")
