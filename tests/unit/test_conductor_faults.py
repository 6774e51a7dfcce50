"""Every failure of the super-conductor's build ends the instance in ERROR
with a fault, and leaves no build request behind: failures injected at each
step (SQLite databases and recording stand-ins for the scheduler and the
compute, as in test_conductor_build); and the quota recount
([quota] recheck_quota) that the conductor runs under the project's lock."""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import oslo_messaging as messaging
import pytest
from oslo_db import exception as db_exc

from nova_runtime import cells
from nova_runtime.compute import api as compute_api
from nova_runtime.conductor import migrate
from nova_runtime.network import api as network_api
from nova_runtime.objects import build_requests, exceptions, instance_actions
from nova_runtime.objects import instance_mappings, instances, migrations, quotas
from tests.unit.test_conductor_build import FLAVOR, IMAGE, context, make_group, tasks
from tests.unit.test_conductor_build import databases  # noqa: F401 (fixture)


def ended_in(databases, server, cell):
    """The instance's record in ``cell`` (ERROR, no task) and its one fault;
    its build request gone and its mapping pointing at that cell."""
    url = databases[cell]
    instance = instances.get_by_uuid(url, server)
    assert (instance["vm_state"], instance["task_state"]) == ("error", None)
    [fault] = instance_actions.faults_for(url, server)
    with pytest.raises(exceptions.BuildRequestNotFound):
        build_requests.get(databases["api"], server)
    mapping = instance_mappings.get(databases["api"], server)
    cell_uuid = cells.CELL0_UUID if cell == "cell0" else databases["cell1_uuid"]
    assert mapping["cell"].uuid == cell_uuid
    return instance, fault


def accepted(databases, count=1, group=None):
    """Servers accepted by the compute API, without the cast to the conductor."""
    api = compute_api.API(tasks(databases)[0].conf, api_url=databases["api"])
    api._conductor = type("NoCast", (), {
        "schedule_and_build_instances": lambda *args, **kwargs: None})()
    created = api.create_servers(context(), FLAVOR, IMAGE, count, name="x", group=group)
    return [i["uuid"] for i in created], api


def build(databases, builder, servers):
    builder.schedule_and_build_instances(context(), servers, {"flavor": FLAVOR}, IMAGE)


def test_a_value_no_cell_can_hold_ends_in_cell0_with_what_identifies_it(databases, monkeypatch):
    """A field too long for its column (accessIPv6 in MariaDB: a DataError;
    SQLite does not check lengths, so the column's refusal is injected)."""
    builder, recorder = tasks(databases)
    [server], _ = accepted(databases)
    create = instances.create

    def column_refuses(url, values, **kwargs):
        if "access_ip_v6" in values:  # the full values: cell0 keeps only the essential ones
            raise db_exc.DBDataError("Data too long for column 'access_ip_v6'")
        return create(url, values, **kwargs)

    monkeypatch.setattr(instances, "create", column_refuses)
    build(databases, builder, [server])
    assert recorder.casts == []
    instance, fault = ended_in(databases, server, "cell0")
    assert fault["message"] == "Build failed: DBDataError"
    assert "Data too long" in fault["details"]
    assert (instance["project_id"], instance["display_name"]) == ("p1", "x")
    with pytest.raises(exceptions.InstanceNotFound):
        instances.get_by_uuid(databases["cell1"], server)


def test_api_database_failing_after_the_instance_was_created(databases, monkeypatch):
    builder, recorder = tasks(databases)
    [server], _ = accepted(databases)
    mark_placed, calls = build_requests.mark_placed, []

    def fails_once(api_url, instance_uuid, cell_id):
        calls.append(cell_id)
        if len(calls) == 1:
            raise db_exc.DBConnectionError("lost connection")
        return mark_placed(api_url, instance_uuid, cell_id)

    monkeypatch.setattr(build_requests, "mark_placed", fails_once)
    build(databases, builder, [server])
    # The record in cell1 is removed again: cell0 holds the only one.
    with pytest.raises(exceptions.InstanceNotFound):
        instances.get_by_uuid(databases["cell1"], server)
    _, fault = ended_in(databases, server, "cell0")
    assert fault["message"] == "Build failed: DBConnectionError"


@pytest.mark.parametrize("step", ["network", "cast"])
def test_a_failure_once_the_instance_is_in_its_cell_leaves_it_there_in_error(
        databases, monkeypatch, step):
    builder, recorder = tasks(databases)
    [server], _ = accepted(databases)
    if step == "network":
        def no_address(conf, url, instance_uuid):
            raise db_exc.DBDeadlock("deadlock")
        monkeypatch.setattr(network_api, "allocate_for_instance", no_address)
    else:
        def unreachable(*args, **kwargs):
            raise messaging.MessageDeliveryFailure("no route to the compute")
        monkeypatch.setattr(recorder, "build_and_run_instance", unreachable)
    build(databases, builder, [server])
    _, fault = ended_in(databases, server, "cell1")
    expected = "DBDeadlock" if step == "network" else "MessageDeliveryFailure"
    assert fault["message"] == f"Build failed: {expected}"
    assert "Traceback" in fault["details"]
    assert not instances.get_metadata(databases["cell0"], server)


def test_a_failed_reschedule_cast_ends_in_error(databases, monkeypatch):
    builder, recorder = tasks(databases)
    [server], _ = accepted(databases)
    build(databases, builder, [server])
    [(host, _, kwargs)] = recorder.casts
    instance = instances.get_by_uuid(databases["cell1"], server)

    def unreachable(*args, **kwargs):
        raise messaging.MessagingTimeout("no answer")

    monkeypatch.setattr(recorder, "build_and_run_instance", unreachable)
    builder.build_instances(context(), [instance], kwargs["request_spec"],
                            [kwargs["host_list"]], IMAGE, reason="spawn failed")
    _, fault = ended_in(databases, server, "cell1")
    assert fault["message"] == "Reschedule failed: MessagingTimeout"


def test_a_database_that_cannot_record_the_error_does_not_break_the_loop(
        databases, monkeypatch, caplog):
    builder, recorder = tasks(databases)
    servers, _ = accepted(databases, count=2)

    def down(*args, **kwargs):
        raise db_exc.DBConnectionError("gone")

    monkeypatch.setattr(network_api, "allocate_for_instance", down)
    monkeypatch.setattr(instance_actions, "fault_create", down)
    build(databases, builder, servers)  # raises nothing
    assert "Cannot put instance" in caplog.text
    # Both reached their cell; ERROR was written before the fault failed.
    assert [instances.get_by_uuid(databases["cell1"], s)["vm_state"] for s in servers] == [
        "error", "error"]


# --- the quota recount -------------------------------------------------------------------

def test_instances_beyond_the_quota_end_in_error_with_the_quota_fault(databases):
    builder, recorder = tasks(databases)
    builder.conf.set_override("instances", 2, group="quota")
    servers, _ = accepted(databases, count=3)
    build(databases, builder, servers)
    assert [cast[1] for cast in recorder.casts] == servers[:2]
    instance, fault = ended_in(databases, servers[2], "cell0")
    assert fault["message"] == ("Quota exceeded for instances: Requested 1, but already "
                                "used 2 of 2 instances")
    assert fault["code"] == 413
    assert instance["vcpus"] == FLAVOR["vcpus"]  # it counts, as an ERROR instance does


def test_the_user_quota_and_cores_are_counted_too(databases):
    builder, recorder = tasks(databases)
    builder.conf.set_override("cores", 1, group="quota")
    servers, _ = accepted(databases, count=2)
    build(databases, builder, servers)
    assert [cast[1] for cast in recorder.casts] == servers[:1]
    _, fault = ended_in(databases, servers[1], "cell0")
    assert fault["message"].startswith("Quota exceeded for cores: Requested 1")


def test_without_recheck_quota_nothing_is_counted_again(databases):
    builder, recorder = tasks(databases)
    builder.conf.set_override("instances", 1, group="quota")
    builder.conf.set_override("recheck_quota", False, group="quota")
    servers, _ = accepted(databases, count=2)
    build(databases, builder, servers)
    assert [cast[1] for cast in recorder.casts] == servers


def test_check_fits_and_lock_names():
    quotas.check_fits({"instances": -1, "cores": 4}, {"instances": 99, "cores": 3},
                      {"instances": 1, "cores": 1})
    with pytest.raises(quotas.OverQuota, match="used 3 of 4 cores"):
        quotas.check_fits({"cores": 4}, {"cores": 3}, {"cores": 2})
    assert quotas.lock_name("p1") == "nova-quota-p1"
    assert len(quotas.lock_name("x" * 200)) <= 64


def test_members_beyond_the_server_group_quota_end_in_error(databases):
    builder, recorder = tasks(databases)
    builder.conf.set_override("server_group_members", 2, group="quota")
    group = make_group(databases["api"], "affinity")
    servers, api = accepted(databases, count=3, group=group)
    builder.schedule_and_build_instances(
        context(), servers, {"flavor": FLAVOR, "instance_group": {"uuid": group}}, IMAGE)
    assert [cast[1] for cast in recorder.casts] == servers[:2]
    _, fault = ended_in(databases, servers[2], "cell0")
    assert fault["message"] == "Quota exceeded, too many servers in group"
    # Deleted members free their places (the one in ERROR counts until then, as upstream).
    api.delete(context(), servers[0])
    api.delete(context(), servers[2])
    [fourth], _ = accepted(databases, group=group)
    builder.schedule_and_build_instances(
        context(), [fourth], {"flavor": FLAVOR, "instance_group": {"uuid": group}}, IMAGE)
    assert recorder.casts[-1][1] == fourth


# --- the super-conductor's resize and migration -----------------------------------------

@pytest.mark.parametrize("module, failing", [(migrations, "create"), (instances, "set_flavors")])
def test_a_migration_that_fails_before_it_starts_leaves_no_task_behind(
        databases, monkeypatch, module, failing):
    builder, recorder = tasks(databases)
    [server], _ = accepted(databases)
    build(databases, builder, [server])
    url = databases["cell1"]
    instances.update(url, server, {"host": "h1", "node": "h1", "vm_state": "active",
                                   "task_state": "resize_prep"})

    def refused(*args, **kwargs):
        raise db_exc.DBDataError("Data too long")

    monkeypatch.setattr(module, failing, refused)
    migrate.MigrationTasks(builder.conf, databases["api"], builder).migrate_server(
        context(), server)
    instance = instances.get_by_uuid(url, server)
    assert (instance["vm_state"], instance["task_state"]) == ("active", None)
    [fault] = instance_actions.faults_for(url, server)
    # (set_flavors fails in _abort too: _not_started clears the task after it)
    assert fault["message"] == "Migration failed: DBDataError"
    assert migrations.for_instance(url, server, migrations.IN_PROGRESS) == []


def test_instances_the_scheduler_gave_no_host_end_in_cell0(databases):
    builder, recorder = tasks(databases)
    servers, _ = accepted(databases, count=2)

    class Short:
        def select_destinations(self, context, request_spec, instance_uuids, **kwargs):
            return [[{"host": "h1", "nodename": "h1", "cell_uuid": databases["cell1_uuid"],
                      "limits": {}}]]

    builder._scheduler = Short()
    build(databases, builder, servers)
    assert [cast[1] for cast in recorder.casts] == servers[:1]
    _, fault = ended_in(databases, servers[1], "cell0")
    assert fault["message"].startswith("No valid host was found")
