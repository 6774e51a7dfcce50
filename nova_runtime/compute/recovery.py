"""What nova-compute does at start with the instances of its host that an
operation left half-done when the previous process died (upstream's
ComputeManager._init_instance), and with guests whose instance was deleted
while it was down.

One rule per task state (RULES), each a name that ``recover`` carries out
and a comment with what upstream does. The guest's power state, as the
driver reports it now, decides between a few of them. Messages for this
host that were still queued are delivered after these rules ran: each
compute step checks the task state it expects first, so a step that a rule
already finished or undid is refused there and changes nothing.
"""

import dataclasses
import logging

from nova_runtime import context as nova_context
from nova_runtime.states import power_state, task_states, vm_states
from nova_runtime.objects import exceptions as record_exc
from nova_runtime.virt import driver as virt_driver, exceptions as virt_exc

LOG = logging.getLogger(__name__)


class Interrupted(Exception):
    """The fault recorded for an operation that died with nova-compute."""


@dataclasses.dataclass(frozen=True)
class Rule:
    action: str  # what recover() does: see _ACTIONS
    fault: str = ""  # the fault's message when the rule ends in ERROR or rolls back


_BUILD = Rule("error", "Instance failed to spawn: nova-compute restarted during the build")
_REBUILD = Rule("error", "Instance failed to rebuild: nova-compute restarted during the "
                         "rebuild")
_RESIZE_LOST = Rule("resize_error", "Resize or migration interrupted: nova-compute "
                                    "restarted after the disk was moved")

RULES = {
    # Upstream puts an instance that was building in ERROR (without a fault):
    # what the driver made of it is unknown. So here, with a fault.
    task_states.SCHEDULING: _BUILD,
    task_states.SPAWNING: _BUILD,
    # Upstream finishes the delete.
    task_states.DELETING: Rule("delete"),
    # Upstream sends the stop or start again.
    task_states.POWERING_OFF: Rule("stop"),
    task_states.POWERING_ON: Rule("start"),
    # Upstream (_retry_reboot): a pending reboot is done again, and any reboot
    # of a guest that is not running becomes a hard one; a guest running after
    # a started reboot is ACTIVE with no task.
    task_states.REBOOTING: Rule("reboot"),
    task_states.REBOOT_PENDING: Rule("reboot"),
    task_states.REBOOT_STARTED: Rule("reboot"),
    task_states.REBOOTING_HARD: Rule("reboot"),
    task_states.REBOOT_PENDING_HARD: Rule("reboot"),
    task_states.REBOOT_STARTED_HARD: Rule("reboot"),
    # Upstream clears pausing/unpausing when the guest runs and unpauses a paused
    # one; it has no rule for suspending/resuming (the task stays). Here the
    # guest's power state says where each ended: its vm_state, no task.
    task_states.PAUSING: Rule("settle"),
    task_states.UNPAUSING: Rule("settle"),
    task_states.SUSPENDING: Rule("settle"),
    task_states.RESUMING: Rule("settle"),
    # Upstream puts an instance that was rebuilding in ERROR: its disk is half made.
    task_states.REBUILDING: _REBUILD,
    task_states.REBUILD_BLOCK_DEVICE_MAPPING: _REBUILD,
    task_states.REBUILD_SPAWNING: _REBUILD,
    # Upstream clears the snapshot's task; the guest is untouched. The Glance
    # image stays queued: only the API knew it (as upstream).
    task_states.IMAGE_SNAPSHOT_PENDING: Rule("clear"),
    task_states.IMAGE_SNAPSHOT: Rule("clear"),
    task_states.IMAGE_PENDING_UPLOAD: Rule("clear"),
    task_states.IMAGE_UPLOADING: Rule("clear"),
    task_states.IMAGE_BACKUP: Rule("clear"),
    # Upstream sends a soft delete again (power off); a restore is done again
    # here too: both only power the guest off or on.
    task_states.SOFT_DELETING: Rule("soft_delete"),
    task_states.RESTORING: Rule("restore"),
    # Upstream clears resize_prep: nothing moved yet.
    task_states.RESIZE_PREP: Rule("clear"),
    # Upstream reverts a resize_migrating source (finish_revert_migration): the
    # guest is still here. Here as a failed migration step: migration error,
    # flavors and allocations back, the guest powered on if it ran, a fault.
    task_states.RESIZE_MIGRATING: Rule("resize_rollback", "Resize or migration "
                                       "interrupted: nova-compute restarted while the disk "
                                       "was copied; rolled back"),
    # Upstream has no rule for these (the task stays). The instance is on this
    # host, the destination, and the source still has its disk: ERROR with a
    # fault and the migration in error, for an admin to look at.
    task_states.RESIZE_MIGRATED: _RESIZE_LOST,
    task_states.RESIZE_FINISH: _RESIZE_LOST,
    task_states.RESIZE_REVERTING: _RESIZE_LOST,
    # Nothing here sets it (a confirm marks the migration instead); should a
    # record carry it, the instance is still RESIZED and may be confirmed again.
    task_states.RESIZE_CONFIRMING: Rule("clear"),
    # Upstream has no rule for a shelve (the task stays). Here as an
    # interrupted snapshot: the guest's power state says where it stands
    # (its vm_state, no task; the queued image stays, only the API knew it).
    task_states.SHELVING: Rule("settle"),
    task_states.SHELVING_IMAGE_PENDING_UPLOAD: Rule("settle"),
    task_states.SHELVING_IMAGE_UPLOADING: Rule("settle"),
    # The instance is SHELVED, its image uploaded: the offload is done again.
    task_states.SHELVING_OFFLOADING: Rule("shelve_offload"),
    # A shelved instance of this host is powered on again; one that was
    # being spawned here from its image goes back to SHELVED_OFFLOADED (no
    # guest, no claim), with a fault, as a failed unshelve does upstream.
    task_states.UNSHELVING: Rule("unshelve", "Unshelve interrupted: nova-compute restarted "
                                             "during the unshelve"),
}


def rule_for(instance):
    """The rule for one instance of this host, or None: nothing to do."""
    task = instance["task_state"]
    if task == task_states.DELETING:
        # Before the build rule: a server deleted while it was spawning is
        # deleted (upstream would put it in ERROR first, for a second delete).
        return RULES[task]
    if instance["vm_state"] == vm_states.ERROR and task != task_states.RESIZE_MIGRATING:
        return None  # as upstream: an instance in ERROR waits for its user
    if instance["vm_state"] == vm_states.BUILDING:
        return _BUILD
    return RULES.get(task)


def reboot_type(instance, state):
    """Upstream's get_reboot_type: SOFT only for a soft reboot of a running guest."""
    soft = (task_states.REBOOTING, task_states.REBOOT_PENDING, task_states.REBOOT_STARTED)
    return virt_driver.REBOOT_SOFT if instance["task_state"] in soft and \
        state == power_state.RUNNING else virt_driver.REBOOT_HARD


# A guest's power state -> the vm_state it shows ("settle").
_SETTLED = {power_state.RUNNING: vm_states.ACTIVE, power_state.PAUSED: vm_states.PAUSED,
            power_state.SUSPENDED: vm_states.SUSPENDED, power_state.SHUTDOWN: vm_states.STOPPED}


def recover(manager, context, instance):
    """Carry out the rule for ``instance``; returns the rule's action or None."""
    rule = rule_for(instance)
    if rule is None:
        return None
    LOG.info("Instance %s was left in vm_state %s, task_state %s when nova-compute stopped: "
             "%s", instance["uuid"], instance["vm_state"], instance["task_state"], rule.action)
    if rule.action in _RECORDED:
        # A request of its own, with its action: the steps record their events
        # there (os-instance-actions shows what the restart did).
        context = nova_context.get_admin_context()
        manager.conductor.action_start(context, instance["uuid"], _RECORDED[rule.action])
    _ACTIONS[rule.action](manager, context, instance, rule)
    return rule.action


def _error(manager, context, instance, rule):
    manager._fault(context, instance["uuid"], Interrupted(rule.fault), rule.fault)
    manager.conductor.instance_update(
        context, instance["uuid"], {"vm_state": vm_states.ERROR, "task_state": None,
                                    "power_state": _state(manager, instance)})


def _delete(manager, context, instance, rule):
    manager.terminate_instance(context, instance)


def _stop(manager, context, instance, rule):
    manager.stop_instance(context, instance)


def _start(manager, context, instance, rule):
    manager.start_instance(context, instance)


def _soft_delete(manager, context, instance, rule):
    manager.soft_delete_instance(context, instance)


def _restore(manager, context, instance, rule):
    manager.restore_instance(context, instance)


def _shelve_offload(manager, context, instance, rule):
    manager.shelve_offload_instance(context, instance, clean_shutdown=False)


def _unshelve(manager, context, instance, rule):
    if instance["vm_state"] == vm_states.SHELVED:
        manager.unshelve_instance(context, instance)
        return
    manager.undo_unshelve_claim(context, instance, instance["node"])
    manager._fault(context, instance["uuid"], Interrupted(rule.fault), rule.fault)
    manager.conductor.instance_update(
        context, instance["uuid"], {"vm_state": vm_states.SHELVED_OFFLOADED,
                                    "task_state": None, "power_state": power_state.NOSTATE})


def _reboot(manager, context, instance, rule):
    state = _state(manager, instance)
    task = instance["task_state"]
    started = task in (task_states.REBOOT_STARTED, task_states.REBOOT_STARTED_HARD,
                       task_states.REBOOTING, task_states.REBOOTING_HARD)
    if started and state == power_state.RUNNING:
        manager.conductor.instance_update(
            context, instance["uuid"], {"vm_state": vm_states.ACTIVE, "task_state": None,
                                        "power_state": state})
        return
    kind = reboot_type(instance, state)
    if kind == virt_driver.REBOOT_HARD and task in (
            task_states.REBOOTING, task_states.REBOOT_PENDING, task_states.REBOOT_STARTED):
        # A soft reboot that shut the guest down is now a hard one (as upstream).
        manager.conductor.instance_update(
            context, instance["uuid"], {"task_state": task_states.REBOOT_PENDING_HARD})
    manager.reboot_instance(context, instance, kind)


def _settle(manager, context, instance, rule):
    state = _state(manager, instance)
    vm_state = _SETTLED.get(state)
    if vm_state is None:  # the guest is gone
        _error(manager, context, instance, Rule("error", "The guest is gone: nova-compute "
                                                "restarted during " + instance["task_state"]))
        return
    manager.conductor.instance_update(
        context, instance["uuid"], {"vm_state": vm_state, "task_state": None,
                                    "power_state": state})


def _clear(manager, context, instance, rule):
    manager.conductor.instance_update(context, instance["uuid"], {"task_state": None})


def _resize_rollback(manager, context, instance, rule):
    migration = _migration(manager, context, instance)
    uuid = instance["uuid"]
    if migration is not None:
        manager._revert_allocations(uuid, migration)
    try:  # the source copy runs again if the instance ran
        if instance["vm_state"] == vm_states.ACTIVE and \
                _state(manager, instance) != power_state.RUNNING:
            manager.driver.finish_revert_migration(context, instance, [], migration,
                                                   power_on=True)
    except virt_exc.VirtError as exc:
        LOG.warning("Cannot power instance %s on again: %s", uuid, exc)
    _move_failed(manager, context, instance, migration, virt_exc.MigrationError(rule.fault))


def _resize_error(manager, context, instance, rule):
    migration = _migration(manager, context, instance)
    _move_failed(manager, context, instance, migration, Interrupted(rule.fault))


def _move_failed(manager, context, instance, migration, exc):
    """As a failed resize step: a MigrationError rolls back, anything else is ERROR."""
    event = "compute_init_host"
    manager._event_start(context, instance["uuid"], event)
    if migration is None:
        manager._failed(context, instance["uuid"], event, exc,
                        None if isinstance(exc, virt_exc.MigrationError) else vm_states.ERROR)
        return
    manager._move_failed(context, instance["uuid"], migration, event, exc, instance["node"],
                         record=instance)


def _migration(manager, context, instance):
    """The instance's migration in progress through this host's node, or None."""
    for migration in manager.conductor.migration_get_in_progress_by_host_and_node(
            context, manager.host, instance["node"]):
        if migration["instance_uuid"] == instance["uuid"]:
            return migration
    return None


def _state(manager, instance):
    try:
        return manager.driver.get_info(instance).state
    except virt_exc.InstanceNotFound:
        return power_state.NOSTATE


# Rules that run a compute step, and the instance action each records.
_RECORDED = {"delete": "delete", "stop": "stop", "start": "start", "reboot": "reboot",
             "resize_rollback": "resize", "resize_error": "resize",
             "soft_delete": "delete", "restore": "restore",
             "shelve_offload": "shelveOffload", "unshelve": "unshelve"}

_ACTIONS = {"error": _error, "delete": _delete, "stop": _stop, "start": _start,
            "reboot": _reboot, "settle": _settle, "clear": _clear,
            "resize_rollback": _resize_rollback, "resize_error": _resize_error,
            "soft_delete": _soft_delete, "restore": _restore,
            "shelve_offload": _shelve_offload, "unshelve": _unshelve}


def destroy_deleted_guests(manager, context, live):
    """Guests on the hypervisor whose instance was deleted while this host
    was down (its record is gone): destroyed, as upstream's
    running_deleted_instance_action "reap" does. ``live``: the uuids of this
    host's instances. A guest whose instance lives on elsewhere is kept (the
    source copy of a resize waiting for confirm or revert)."""
    destroyed = []
    for uuid in manager.driver.list_instances():
        if uuid in live:
            continue
        try:
            manager.conductor.instance_get_by_uuid(context, uuid)
            continue
        except record_exc.InstanceNotFound:
            pass
        LOG.info("Instance %s was deleted while nova-compute was down: destroying its guest",
                 uuid)
        try:
            manager.driver.destroy(context, {"uuid": uuid}, network_info=[])
            destroyed.append(uuid)
        except virt_exc.VirtError as exc:
            LOG.warning("Cannot destroy the guest of deleted instance %s: %s", uuid, exc)
    return destroyed
