"""The records that every build writes and every poll reads, with Core
statements instead of mapped objects (objects._db read_row, update_row,
insert_row): they write and return what the mapped objects did. On SQLite."""

import uuid

import pytest
import sqlalchemy as sa

from nova_runtime import cells, config
from nova_runtime.db import engines, migration
from nova_runtime.db.api import models as api_models
from nova_runtime.db.main import models
from nova_runtime.objects import build_requests, cell_mappings, compute_nodes, exceptions
from nova_runtime.objects import instance_actions, instance_mappings, instances, quotas


@pytest.fixture
def urls(tmp_path):
    found = {"api": f"sqlite:///{tmp_path}/api.sqlite", "cell": f"sqlite:///{tmp_path}/c.sqlite"}
    migration.sync("api", found["api"])
    migration.sync("main", found["cell"])
    yield found
    engines.dispose_all()


def _instance(url, **values):
    return instances.create(url, dict({"uuid": str(uuid.uuid4()), "project_id": "p",
                                       "user_id": "u", "vm_state": "building",
                                       "task_state": "scheduling", "memory_mb": 512,
                                       "vcpus": 1}, **values),
                            flavor={"id": 1}, metadata={"k": "v"},
                            system_metadata={"image_os_type": "linux"}, tags=["b", "a"])


def _row(url, model, **where):
    with engines.get_engine(url).connect() as connection:
        return connection.execute(sa.select(model.__table__).filter_by(**where)).mappings().one()


def test_create_returns_every_column_with_its_defaults_and_writes_the_other_rows(urls):
    created = _instance(urls["cell"], display_name="one")
    stored = dict(_row(urls["cell"], models.Instance, uuid=created["uuid"]))
    assert set(created) == set(stored)
    assert created["id"] == stored["id"] and created["deleted"] == 0
    assert created["locked"] is False and created["updated_at"] is None
    assert created["created_at"] is not None and created["display_name"] == "one"
    assert instances.get_by_uuid(urls["cell"], created["uuid"]) == stored
    assert instances.get_metadata(urls["cell"], created["uuid"]) == {"k": "v"}
    assert instances.get_metadata(urls["cell"], created["uuid"], system=True) == {
        "image_os_type": "linux"}
    assert instances.get_flavor(urls["cell"], created["uuid"]) == {"id": 1}
    with pytest.raises(exceptions.RecordError):
        instances.create(urls["cell"], {"uuid": created["uuid"], "project_id": "p"})


def test_update_writes_only_what_changes_and_checks_the_task_state(urls):
    created = _instance(urls["cell"])
    uuid_ = created["uuid"]
    same = instances.update(urls["cell"], uuid_, {"vm_state": "building"})
    assert same["updated_at"] is None  # nothing changed: no UPDATE, as the ORM's flush
    assert _row(urls["cell"], models.Instance, uuid=uuid_)["updated_at"] is None
    updated = instances.update(urls["cell"], uuid_, {"task_state": "spawning", "host": "h"},
                               expected_task_states=["scheduling"])
    stored = dict(_row(urls["cell"], models.Instance, uuid=uuid_))
    # updated_at as read, as the mapped object returned it before its flush.
    assert updated == dict(stored, updated_at=None)
    assert (stored["task_state"], stored["host"]) == ("spawning", "h")
    assert stored["updated_at"] is not None
    with pytest.raises(exceptions.UnexpectedTaskState, match="has task_state 'spawning'"):
        instances.update(urls["cell"], uuid_, {"task_state": None},
                         expected_task_states=["scheduling"])
    with pytest.raises(exceptions.InstanceNotFound):
        instances.update(urls["cell"], str(uuid.uuid4()), {"host": "h"})
    with pytest.raises(exceptions.InvalidField):
        instances.update(urls["cell"], uuid_, {"uuid": "x"})


def test_compute_node_update(urls):
    node = compute_nodes.create(urls["cell"], str(uuid.uuid4()), {
        "host": "h", "hypervisor_hostname": "h", "hypervisor_type": "fake",
        "hypervisor_version": 1, "cpu_info": "{}", "vcpus": 4, "memory_mb": 1024,
        "local_gb": 10, "vcpus_used": 0, "memory_mb_used": 0, "local_gb_used": 0})
    updated = compute_nodes.update(urls["cell"], node["id"], {"vcpus_used": 1})
    stored = dict(_row(urls["cell"], models.ComputeNode, id=node["id"]))
    assert updated == dict(stored, updated_at=None)  # as read, as before
    assert updated["vcpus_used"] == 1 and stored["updated_at"] is not None
    with pytest.raises(exceptions.ComputeNodeNotFound):
        compute_nodes.update(urls["cell"], node["id"] + 1, {"vcpus_used": 1})


def test_events_start_and_finish_as_before(urls):
    uuid_ = _instance(urls["cell"])["uuid"]
    instance_actions.action_start(urls["cell"], instance_uuid=uuid_, request_id="req",
                                  action="create", user_id="u", project_id="p")
    started = instance_actions.event_start(urls["cell"], instance_uuid=uuid_,
                                           request_id="req", event="build", host="h")
    assert started == dict(_row(urls["cell"], models.InstanceActionEvent, id=started["id"]))
    assert started["host"] == "h" and started["finish_time"] is None
    finished = instance_actions.event_finish(urls["cell"], instance_uuid=uuid_,
                                             request_id="req", event="build", result="Error",
                                             traceback="tb")
    assert finished == dict(_row(urls["cell"], models.InstanceActionEvent, id=started["id"]))
    assert (finished["result"], finished["traceback"]) == ("Error", "tb")
    [action] = instance_actions.actions_for(urls["cell"], uuid_)
    assert action["message"] == "Error" and action["events"][0]["result"] == "Error"
    with pytest.raises(exceptions.InstanceActionNotFound):
        instance_actions.event_finish(urls["cell"], instance_uuid=uuid_, request_id="req",
                                      event="other", result="Success")
    with pytest.raises(exceptions.InstanceActionNotFound):
        instance_actions.event_start(urls["cell"], instance_uuid=uuid_, request_id="nope",
                                     event="build")


def test_event_finish_ends_the_event_of_the_requests_newest_action(urls):
    url = urls["cell"]
    uuid_ = _instance(url)["uuid"]
    for action in ("create", "reboot"):
        instance_actions.action_start(url, instance_uuid=uuid_, request_id="req",
                                      action=action, user_id="u", project_id="p")
        if action == "create":
            instance_actions.event_start(url, instance_uuid=uuid_, request_id="req",
                                         event="build")
    # Only the newest action of the request counts, as before: its step never started.
    with pytest.raises(exceptions.InstanceActionNotFound, match="never started"):
        instance_actions.event_finish(url, instance_uuid=uuid_, request_id="req",
                                      event="build", result="Success")
    with pytest.raises(exceptions.InstanceActionNotFound, match="no action"):
        instance_actions.event_finish(url, instance_uuid=uuid_, request_id="other",
                                      event="build", result="Success")
    # Several record functions in one transaction (a conductor's build call).
    with cells.session(url) as db:
        instance_actions.event_start(url, instance_uuid=uuid_, request_id="req",
                                     event="reboot", host="h", db=db)
        instances.update(url, uuid_, {"task_state": "rebooting"},
                         expected_task_states=["scheduling"], db=db)
        finished = instance_actions.event_finish(url, instance_uuid=uuid_, request_id="req",
                                                 event="reboot", result="Error", db=db)
    assert finished["result"] == "Error" and finished["host"] == "h"
    assert instances.get_by_uuid(url, uuid_)["task_state"] == "rebooting"
    create, reboot = instance_actions.actions_for(url, uuid_)
    assert (create["message"], reboot["message"]) == (None, "Error")
    assert [e["event"] for e in reboot["events"]] == ["reboot"]


def test_build_requests_and_mappings(urls):
    cell = cell_mappings.create_cell(urls["api"], "cell1", "fake://", urls["cell"])
    instance = {"uuid": str(uuid.uuid4()), "project_id": "p", "user_id": "u", "vcpus": 2}
    build_requests.create(urls["api"], [{"instance": instance, "request_spec": {"a": 1}}])
    request = build_requests.get(urls["api"], instance["uuid"])
    assert request["instance"] == instance and request["project_id"] == "p"
    assert request["created_at"] is not None
    assert build_requests.get_request_spec(urls["api"], instance["uuid"]) == {"a": 1}
    mapping = instance_mappings.get(urls["api"], instance["uuid"])
    assert mapping["cell"] is None and mapping["queued_for_delete"] is False
    cell_id = cell.id
    assert build_requests.mark_placed(urls["api"], instance["uuid"], cell_id)
    mapping = instance_mappings.get(urls["api"], instance["uuid"])
    assert isinstance(mapping["cell"], cells.Cell)
    assert (mapping["cell"].name, mapping["cell"].database_connection) == ("cell1", urls["cell"])
    assert not build_requests.mark_placed(urls["api"], instance["uuid"], cell_id)
    with pytest.raises(exceptions.BuildRequestNotFound):
        build_requests.get(urls["api"], instance["uuid"])


def test_owner_limits_are_limits_of_the_project_and_of_the_user(urls):
    conf = config.new_conf()
    config.load(conf, [], prog="test", default_config_files=[])
    resources = dict(quotas.SERVER_RESOURCES, metadata_items="metadata_items")
    with cells.session(urls["api"]) as db:
        db.add_all([api_models.QuotaClass(class_name="default", resource="cores", hard_limit=7),
                    api_models.Quota(project_id="p", resource="ram", hard_limit=100),
                    api_models.Quota(project_id="p", resource="cores", hard_limit=5),
                    api_models.ProjectUserQuota(project_id="p", user_id="u",
                                                resource="instances", hard_limit=2)])
    for user in ("u", None, "other"):
        assert quotas.owner_limits(urls["api"], conf, "p", user, resources) == (
            quotas.limits(urls["api"], conf, "p", None, resources),
            quotas.limits(urls["api"], conf, "p", user, resources))
    project, user = quotas.owner_limits(urls["api"], conf, "p", "u", resources)
    assert (project["cores"], project["ram"], project["instances"]) == (5, 100, 10)
    assert user["instances"] == 2
