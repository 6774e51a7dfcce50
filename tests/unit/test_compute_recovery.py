"""nova-compute's recovery at start (compute.recovery): the rule table, and
each rule carried out by a real ComputeManager with the fake driver (the
in-process cloud of test_conductor_build: conductor, scheduler and one
compute on a fake:// transport, SQLite). An interrupted operation is
staged by writing the task state the dead process would have left and
setting the guest's power state; then the manager's start-up recovery runs.
Also [DEFAULT] instance_build_timeout's periodic task."""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import datetime

import pytest
import sqlalchemy as sa

from nova_runtime import context as nova_context
from nova_runtime.compute import manager as compute_manager
from nova_runtime.compute import recovery
from nova_runtime.states import power_state, task_states, vm_states
from nova_runtime.db import engines
from nova_runtime.db.main.models import Instance
from nova_runtime.objects import exceptions as record_exc, instance_actions, instances
from nova_runtime.virt import driver as virt_driver
from tests.unit import test_conductor_build as build_tests
from tests.unit.test_conductor_build import settled


# --- the table ---------------------------------------------------------------------------

def test_every_task_state_an_operation_can_leave_has_a_rule():
    interruptible = set(task_states.DELETABLE) - {None}
    assert interruptible <= set(recovery.RULES), interruptible - set(recovery.RULES)
    assert all(rule.action in recovery._ACTIONS for rule in recovery.RULES.values())
    assert all(rule.fault for rule in recovery.RULES.values()
               if rule.action in ("error", "resize_error", "resize_rollback"))


@pytest.mark.parametrize("vm_state, task_state, action", [
    (vm_states.BUILDING, None, "error"),
    (vm_states.BUILDING, task_states.SPAWNING, "error"),
    (vm_states.BUILDING, task_states.DELETING, "delete"),
    (vm_states.ACTIVE, None, None),
    (vm_states.ERROR, None, None),
    (vm_states.ERROR, task_states.REBOOTING_HARD, None),  # waits for its user, as upstream
    (vm_states.ERROR, task_states.DELETING, "delete"),
    (vm_states.ACTIVE, task_states.DELETING, "delete"),
    (vm_states.ACTIVE, task_states.POWERING_OFF, "stop"),
    (vm_states.STOPPED, task_states.POWERING_ON, "start"),
    (vm_states.ACTIVE, task_states.REBOOT_PENDING, "reboot"),
    (vm_states.ACTIVE, task_states.SUSPENDING, "settle"),
    (vm_states.STOPPED, task_states.REBUILD_SPAWNING, "error"),
    (vm_states.ACTIVE, task_states.IMAGE_UPLOADING, "clear"),
    (vm_states.ACTIVE, task_states.RESIZE_PREP, "clear"),
    (vm_states.ACTIVE, task_states.RESIZE_MIGRATING, "resize_rollback"),
    (vm_states.ACTIVE, task_states.RESIZE_FINISH, "resize_error"),
    (vm_states.ACTIVE, task_states.SHELVING_IMAGE_UPLOADING, "settle"),
    (vm_states.SHELVED, task_states.SHELVING_OFFLOADING, "shelve_offload"),
    (vm_states.SHELVED, task_states.UNSHELVING, "unshelve"),
    (vm_states.SHELVED_OFFLOADED, task_states.UNSHELVING, "unshelve"),
    (vm_states.SHELVED_OFFLOADED, None, None),
])
def test_rule_for(vm_state, task_state, action):
    rule = recovery.rule_for({"vm_state": vm_state, "task_state": task_state})
    assert (rule.action if rule else None) == action


def test_reboot_type_as_upstream():
    soft, hard = virt_driver.REBOOT_SOFT, virt_driver.REBOOT_HARD
    running, off = power_state.RUNNING, power_state.SHUTDOWN
    assert recovery.reboot_type({"task_state": task_states.REBOOT_PENDING}, running) == soft
    assert recovery.reboot_type({"task_state": task_states.REBOOT_PENDING}, off) == hard
    assert recovery.reboot_type({"task_state": task_states.REBOOT_PENDING_HARD},
                                running) == hard


# --- the rules carried out ---------------------------------------------------------------

@pytest.fixture
def cloud(tmp_path):
    started = build_tests.Cloud(tmp_path, {"c1": (4096, "fake.FakeDriver")})
    yield started
    started.stop()


def compute(cloud):
    [manager] = [svc.manager for svc in cloud.running
                 if isinstance(svc.manager, compute_manager.ComputeManager)]
    return manager


def active(cloud):
    [server] = cloud.boot()
    assert cloud.wait_for(server, settled)["vm_state"] == "active"
    return server


def interrupted(cloud, server, guest_state=None, **values):
    """Stage what a dead nova-compute left: the record's ``values`` and the
    guest's power state; then run the start-up recovery."""
    manager = compute(cloud)
    instances.update(cloud.urls["cell1"], server, values)
    if guest_state is not None:
        manager.driver._instances[server].state = guest_state
    manager._recover_instances(nova_context.get_admin_context())
    try:
        return instances.get_by_uuid(cloud.urls["cell1"], server)
    except Exception:
        return None


def faults(cloud, server):
    return [fault["message"] for fault in instance_actions.faults_for(cloud.urls["cell1"],
                                                                      server)]


def state(record):
    return record["vm_state"], record["task_state"], record["power_state"]


def test_recovery_rules_with_the_fake_driver(cloud):
    server = active(cloud)
    url = cloud.urls["cell1"]

    # Spawning: ERROR, with a fault that says why.
    record = interrupted(cloud, server, vm_state=vm_states.BUILDING,
                         task_state=task_states.SPAWNING)
    assert (record["vm_state"], record["task_state"]) == ("error", None)
    assert faults(cloud, server) == [recovery.RULES[task_states.SPAWNING].fault]

    # Powering off, the guest still running: stopped again.
    record = interrupted(cloud, server, power_state.RUNNING, vm_state=vm_states.ACTIVE,
                         task_state=task_states.POWERING_OFF)
    assert state(record) == ("stopped", None, power_state.SHUTDOWN)

    # A started soft reboot whose guest runs: ACTIVE, nothing redone.
    record = interrupted(cloud, server, power_state.RUNNING, vm_state=vm_states.ACTIVE,
                         task_state=task_states.REBOOT_STARTED)
    assert state(record) == ("active", None, power_state.RUNNING)

    # A soft reboot that had shut the guest down: a hard reboot now.
    record = interrupted(cloud, server, power_state.SHUTDOWN, vm_state=vm_states.ACTIVE,
                         task_state=task_states.REBOOT_STARTED)
    assert state(record) == ("active", None, power_state.RUNNING)

    # Pausing, the guest paused: PAUSED; then unpausing, the guest running: ACTIVE.
    record = interrupted(cloud, server, power_state.PAUSED, task_state=task_states.PAUSING)
    assert state(record) == ("paused", None, power_state.PAUSED)
    record = interrupted(cloud, server, power_state.RUNNING, task_state=task_states.UNPAUSING)
    assert state(record) == ("active", None, power_state.RUNNING)

    # A snapshot's upload: the task goes, the guest is untouched.
    record = interrupted(cloud, server, task_state=task_states.IMAGE_UPLOADING)
    assert state(record) == ("active", None, power_state.RUNNING)

    # Rebuilding: ERROR with a fault.
    record = interrupted(cloud, server, task_state=task_states.REBUILD_SPAWNING)
    assert (record["vm_state"], record["task_state"]) == ("error", None)
    assert faults(cloud, server)[0] == recovery.RULES[task_states.REBUILD_SPAWNING].fault

    # Deleting: the delete is finished, guest and record.
    record = interrupted(cloud, server, vm_state=vm_states.ERROR,
                         task_state=task_states.DELETING)
    assert record is None
    assert server not in compute(cloud).driver.list_instances()
    assert instances.get_all_by_host(url, "c1") == []


def test_an_interrupted_offload_is_done_again_and_an_unshelve_undone(cloud):
    server = active(cloud)
    manager = compute(cloud)
    record = interrupted(cloud, server, power_state.SHUTDOWN, vm_state=vm_states.SHELVED,
                         task_state=task_states.SHELVING_OFFLOADING)
    assert state(record) == ("shelved_offloaded", None, power_state.SHUTDOWN)
    assert record["host"] is None and manager.driver.list_instances() == []

    # Spawning here from its image when the process died: nothing is left here.
    staged = instances.update(cloud.urls["cell1"], server, {"host": "c1", "node": "c1"})
    manager.driver.spawn(None, staged, {}, [], None)
    record = interrupted(cloud, server, vm_state=vm_states.SHELVED_OFFLOADED,
                         task_state=task_states.UNSHELVING)
    assert state(record) == ("shelved_offloaded", None, power_state.NOSTATE)
    assert record["host"] is None and manager.driver.list_instances() == []
    assert faults(cloud, server)[0] == recovery.RULES[task_states.UNSHELVING].fault


def test_suspending_whose_guest_is_gone_ends_in_error(cloud):
    server = active(cloud)
    manager = compute(cloud)
    manager.driver.destroy(None, {"uuid": server})
    record = interrupted(cloud, server, task_state=task_states.SUSPENDING)
    assert state(record) == ("error", None, power_state.NOSTATE)
    assert faults(cloud, server)[0].startswith("The guest is gone")


def test_a_guest_whose_instance_was_deleted_meanwhile_is_destroyed(cloud):
    kept, deleted = active(cloud), active(cloud)
    manager = compute(cloud)
    # Deleted while the host was down (a local delete: the record only).
    instances.destroy(cloud.urls["cell1"], deleted, {"vm_state": vm_states.DELETED})
    assert deleted in manager.driver.list_instances()
    manager._recover_instances(nova_context.get_admin_context())
    assert manager.driver.list_instances() == [kept]


def test_instance_build_timeout_puts_old_builds_in_error(cloud):
    server = active(cloud)
    manager = compute(cloud)
    ctx = nova_context.get_admin_context()
    old = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - \
        datetime.timedelta(seconds=120)
    instances.update(cloud.urls["cell1"], server, {
        "vm_state": vm_states.BUILDING, "task_state": task_states.SPAWNING})
    with engines.get_engine(cloud.urls["cell1"]).begin() as connection:
        connection.execute(sa.update(Instance).filter_by(uuid=server).values(created_at=old))
    with manager._instance_lock(server):  # a build in progress here
        manager._check_instance_build_time(ctx)  # 0: off
        assert instances.get_by_uuid(cloud.urls["cell1"], server)["vm_state"] == "building"
        manager.conf.set_override("instance_build_timeout", 300)
        manager._check_instance_build_time(ctx)  # not that old yet
        assert instances.get_by_uuid(cloud.urls["cell1"], server)["vm_state"] == "building"
        manager.conf.set_override("instance_build_timeout", 60)
        manager._check_instance_build_time(ctx)
    record = instances.get_by_uuid(cloud.urls["cell1"], server)
    assert (record["vm_state"], record["task_state"]) == ("error", None)
    assert faults(cloud, server) == ["Instance build timed out. Set to error state."]


def test_a_build_no_thread_works_on_ends_in_error(cloud):
    """Spawning on this host, and no build of this process holds it (its end
    could not be recorded): the periodic task ends it, whatever
    instance_build_timeout says."""
    server = active(cloud)
    manager = compute(cloud)
    ctx = nova_context.get_admin_context()
    instances.update(cloud.urls["cell1"], server, {
        "vm_state": vm_states.BUILDING, "task_state": task_states.SPAWNING})
    with manager._instance_lock(server):  # its build still runs
        manager._check_instance_build_time(ctx)
    assert instances.get_by_uuid(cloud.urls["cell1"], server)["vm_state"] == "building"
    manager._check_instance_build_time(ctx)
    record = instances.get_by_uuid(cloud.urls["cell1"], server)
    assert (record["vm_state"], record["task_state"]) == ("error", None)
    assert faults(cloud, server)[0].startswith("Instance failed to spawn: its build on ")


def test_a_lost_delete_is_done_by_the_periodic_task(cloud):
    """Deleting for longer than an RPC call takes, and no thread here works on
    it: its terminate_instance cast was lost; the compute deletes it."""
    server = active(cloud)
    manager = compute(cloud)
    ctx = nova_context.get_admin_context()
    instances.update(cloud.urls["cell1"], server, {"task_state": task_states.DELETING})
    manager._check_instance_build_time(ctx)  # just now: its cast may be on its way
    assert instances.get_by_uuid(cloud.urls["cell1"], server)["task_state"] == "deleting"
    old = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - \
        datetime.timedelta(seconds=600)
    with engines.get_engine(cloud.urls["cell1"]).begin() as connection:
        connection.execute(sa.update(Instance).filter_by(uuid=server).values(updated_at=old))
    manager._check_instance_build_time(ctx)
    with pytest.raises(record_exc.InstanceNotFound):
        instances.get_by_uuid(cloud.urls["cell1"], server)
