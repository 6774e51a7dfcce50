"""nova-compute's steps of a resize or cold migration (part of ComputeManager).

The super-conductor chose the destination and created the migration record
(status pre-migrating, see conductor.migrate); the instance has task_state
resize_prep and its old and new flavors in instance_extra. Then, each step a
cast that records its compute_<method> event on the user's action:

1. prep_resize, on the destination: claim the new flavor on the node within
   the scheduler's limits (resource_tracker.move_claim); cast to the source.
2. resize_instance, on the source: migration migrating, task_state
   resize_migrating, driver.migrate_disk_and_power_off; then migration
   post-migrating and the instance's host and node are the destination's
   (task_state resize_migrated); cast to the destination.
3. finish_resize, on the destination: task_state resize_finish, the
   instance's flavor columns become the new flavor's,
   driver.finish_migration (powered on unless the instance was stopped),
   migration finished, vm_state resized (the API's VERIFY_RESIZE).
4. confirm_resize, on the source (migration confirming):
   driver.confirm_migration removes the source copy; migration confirmed,
   vm_state active (or stopped).
   revert_resize, on the destination (migration reverting, task_state
   resize_reverting): driver.destroy, the instance back on the source with
   its old flavor, migration reverted; finish_revert_resize, on the source:
   driver.finish_revert_migration, vm_state active (or stopped).

Until confirm or revert both hosts count the instance (the source its old
flavor, the destination its new one; see resource_tracker._moving_usage).
In Placement likewise (see placement.claims): the migration's uuid holds the
source's allocations (moved there by the conductor), the instance's uuid the
destination's (claimed by the scheduler). Confirm deletes the migration's;
revert, and a failure while the instance is still on the source (prep_resize,
resize_instance), give them back to the instance, which drops its
destination claim; an instance deleted meanwhile leaves the migration's
deleted. A failure in finish_resize (the instance in ERROR on the
destination) keeps both, as upstream: the source still has its disks.

Failures: a claim that does not fit, or a driver's MigrationError (the
driver left the instance as it was), roll back: migration error, the
flavors as before, task_state None in the old vm_state, with a fault. Any
other failure leaves the instance in ERROR with a fault and the migration in
error.

[DEFAULT] resize_confirm_window > 0: the destination confirms, on its own,
the resizes that waited longer than that in VERIFY_RESIZE (a confirmResize
action of its own).
"""

import logging

from nova_runtime import context as nova_context
from nova_runtime import rpc
from nova_runtime.compute import resource_tracker, rpcapi as compute_rpcapi
from nova_runtime.states import power_state
from nova_runtime.states import task_states, vm_states
from nova_runtime.db.base import utcnow
from nova_runtime.objects import exceptions as record_exc
from nova_runtime.objects import migrations
from nova_runtime.virt import exceptions as virt_exc

LOG = logging.getLogger(__name__)

# The columns of the instance record that follow its flavor.
_FLAVOR_COLUMNS = ("memory_mb", "vcpus", "root_gb", "ephemeral_gb")

# The instance was deleted, or another request changed its task, meanwhile.
_GONE = (record_exc.InstanceNotFound, record_exc.UnexpectedTaskState)

# Failures after which the instance is as it was before the request.
_ROLLBACK = (resource_tracker.ClaimFailed, virt_exc.MigrationError)


def _flavor_values(flavor):
    values = {key: flavor.get(key) or 0 for key in _FLAVOR_COLUMNS}
    values["instance_type_id"] = flavor.get("id")
    return values


class ResizeMixin:
    """The resize and cold migration RPC methods (RPC API 1.2) of
    ComputeManager, which provides driver, conductor, resource_tracker and
    the helpers (_instance_lock, _event_start, _event_finish, _failed,
    _interrupted, _power_state)."""

    _compute_rpcapi = None

    @property
    def compute_rpcapi(self):
        """The other computes of this cell (the hops between source and destination)."""
        if self._compute_rpcapi is None:
            self._compute_rpcapi = compute_rpcapi.ComputeAPI(rpc.get_transport(self.conf))
        return self._compute_rpcapi

    # --- 1. the destination claims ----------------------------------------------------

    @rpc.expose
    def prep_resize(self, context, instance, migration, flavor, image, node, limits,
                    request_spec=None):
        uuid = instance["uuid"]

        def claim():
            if (migration["source_compute"] == self.host
                    and not self.driver.capabilities["supports_migrate_to_same_host"]):
                raise virt_exc.MigrationError(
                    f"the {type(self.driver).__name__} driver of host {self.host} cannot "
                    "resize an instance on its own host")
            record = self.conductor.instance_get_by_uuid(context, uuid)
            if record["task_state"] != task_states.RESIZE_PREP:
                raise record_exc.UnexpectedTaskState(
                    f"instance {uuid} has task_state {record['task_state']!r}, expected "
                    f"{task_states.RESIZE_PREP!r}")
            return record, self.resource_tracker.move_claim(
                context, self.service["id"], record, migration, flavor, node, limits)

        done = self._move_step(context, instance, migration, "compute_prep_resize", claim,
                               node, on_source=True, report=False, fault_power=False)
        if done:
            record, migration = done
            self.compute_rpcapi.resize_instance(context, record, migration=migration,
                                                flavor=flavor, image=image)

    # --- 2. the source copies ---------------------------------------------------------

    @rpc.expose
    def resize_instance(self, context, instance, migration, flavor, image):
        uuid = instance["uuid"]

        def copy():
            record = self.conductor.instance_update(
                context, uuid, {"task_state": task_states.RESIZE_MIGRATING},
                expected_task_states=[task_states.RESIZE_PREP])
            moving = self.conductor.migration_update(
                context, migration["id"], {"status": migrations.MIGRATING})
            disk_info = self.driver.migrate_disk_and_power_off(
                context, record, moving["dest_host"] or moving["dest_compute"],
                flavor, network_info=[], timeout=self._shutdown_timeout,
                retry_interval=self._shutdown_retry_interval)
            moved = self.conductor.migration_update(
                context, migration["id"], {"status": migrations.POST_MIGRATING})
            record = self.conductor.instance_update(
                context, uuid, {"host": moved["dest_compute"],
                                "node": moved["dest_node"],
                                "task_state": task_states.RESIZE_MIGRATED,
                                "power_state": self._power_state(record)},
                expected_task_states=[task_states.RESIZE_MIGRATING])
            return record, moved, disk_info

        done = self._move_step(context, instance, migration, "compute_resize_instance", copy,
                               migration["source_node"], on_source=True)
        if done:
            record, migration, disk_info = done
            self.compute_rpcapi.finish_resize(context, record, migration=migration,
                                              disk_info=disk_info, image=image)

    # --- 3. the destination runs it ---------------------------------------------------

    @rpc.expose
    def finish_resize(self, context, instance, migration, disk_info, image):
        uuid = instance["uuid"]

        def finish():
            record = self.conductor.instance_update(
                context, uuid, {"task_state": task_states.RESIZE_FINISH},
                expected_task_states=[task_states.RESIZE_MIGRATED])
            flavors = self.conductor.instance_flavors_get(context, uuid)
            old, new = flavors["old"], flavors["new"]
            power_on = record["vm_state"] != vm_states.STOPPED
            record = self.conductor.instance_update(context, uuid, _flavor_values(new))
            self.conductor.instance_flavors_update(context, uuid, {"cur": new})
            network_info = self.conductor.instance_spawn_info(
                context, uuid, config_drive=False)["network_info"]
            self.driver.finish_migration(
                context, migration, record, disk_info, network_info, image or {},
                resize_instance=_flavor_values(old) != _flavor_values(new),
                power_on=power_on)
            self.conductor.migration_update(context, migration["id"],
                                            {"status": migrations.FINISHED})
            self.conductor.instance_update(
                context, uuid, {"vm_state": vm_states.RESIZED, "task_state": None,
                                "power_state": self._power_state(record)},
                expected_task_states=[task_states.RESIZE_FINISH])
            return True

        if self._move_step(context, instance, migration, "compute_finish_resize", finish,
                           migration["dest_node"]):
            LOG.info("Instance %s runs on %s: VERIFY_RESIZE", uuid, self.host)

    # --- 4. confirm, or revert ------------------------------------------------------

    @rpc.expose
    def confirm_resize(self, context, instance, migration):
        uuid = instance["uuid"]

        def confirm():
            record = self.conductor.instance_get_by_uuid(context, uuid)
            self.driver.confirm_migration(context, migration, record, network_info=[])
            self.conductor.migration_update(context, migration["id"],
                                            {"status": migrations.CONFIRMED})
            self._release_migration(migration)  # the source's allocations
            self.conductor.instance_flavors_update(context, uuid, {"old": None, "new": None})
            stopped = record["power_state"] == power_state.SHUTDOWN
            try:
                self.conductor.instance_update(
                    context, uuid, {"vm_state": vm_states.STOPPED if stopped
                                    else vm_states.ACTIVE, "task_state": None},
                    expected_task_states=[None])
            except record_exc.UnexpectedTaskState:
                pass  # being deleted (confirmed first, see compute.api.delete): done here
            return True

        def deleted_meanwhile():
            # The migration is confirmed or about to be: not an error, its
            # allocations go all the same.
            self._release_migration(migration)
            self._update_node(context, migration["source_node"])

        if self._move_step(context, instance, migration, "compute_confirm_resize", confirm,
                           migration["source_node"], on_gone=deleted_meanwhile):
            LOG.info("Resize of instance %s confirmed: removed from %s", uuid, self.host)

    @rpc.expose
    def revert_resize(self, context, instance, migration):
        uuid = instance["uuid"]

        def revert():
            record = self.conductor.instance_get_by_uuid(context, uuid)
            self.driver.destroy(context, record, network_info=[])
            old = self.conductor.instance_flavors_get(context, uuid)["old"]
            record = self.conductor.instance_update(
                context, uuid, dict(_flavor_values(old), host=migration["source_compute"],
                                    node=migration["source_node"]),
                expected_task_states=[task_states.RESIZE_REVERTING])
            self.conductor.instance_flavors_update(context, uuid, {"cur": old})
            reverted = self.conductor.migration_update(
                context, migration["id"], {"status": migrations.REVERTED})
            self._revert_allocations(uuid, reverted)
            return record, reverted

        done = self._move_step(context, instance, migration, "compute_revert_resize", revert,
                               migration["dest_node"])
        if done:
            record, migration = done
            self.compute_rpcapi.finish_revert_resize(context, record, migration)

    @rpc.expose
    def finish_revert_resize(self, context, instance, migration):
        uuid = instance["uuid"]

        def finish_revert():
            record = self.conductor.instance_get_by_uuid(context, uuid)
            # The destination's copy ran unless the instance was stopped before.
            power_on = record["power_state"] != power_state.SHUTDOWN
            self.driver.finish_revert_migration(context, record, [], migration,
                                                power_on=power_on)
            self.conductor.instance_flavors_update(context, uuid, {"old": None, "new": None})
            self.conductor.instance_update(
                context, uuid, {"vm_state": vm_states.ACTIVE if power_on
                                else vm_states.STOPPED, "task_state": None,
                                "power_state": self._power_state(record)},
                expected_task_states=[task_states.RESIZE_REVERTING])
            return True

        if self._move_step(context, instance, migration, "compute_finish_revert_resize",
                           finish_revert, migration["source_node"], on_gone=lambda: None):
            LOG.info("Resize of instance %s reverted: back on %s", uuid, self.host)

    # --- [DEFAULT] resize_confirm_window ------------------------------------------

    def _confirm_expired_resizes(self, context):
        """Confirm the resizes to this host that waited in VERIFY_RESIZE
        longer than resize_confirm_window seconds."""
        window = self.conf.resize_confirm_window
        if window <= 0:
            return
        now = utcnow()
        for node in list(self.resource_tracker.nodes):
            for migration in self.conductor.migration_get_in_progress_by_host_and_node(
                    context, self.host, node):
                waited = now - (migration["updated_at"] or migration["created_at"])
                if (migration["status"] == migrations.FINISHED
                        and migration["dest_compute"] == self.host
                        and waited.total_seconds() > window):
                    self._auto_confirm(migration)

    def _auto_confirm(self, migration):
        uuid = migration["instance_uuid"]
        context = nova_context.get_admin_context()  # a request id of its own for the action
        try:
            record = self.conductor.instance_get_by_uuid(context, uuid)
            if record["vm_state"] != vm_states.RESIZED or record["task_state"] is not None:
                return
            migration = self.conductor.migration_update(
                context, migration["id"], {"status": migrations.CONFIRMING},
                expected_statuses=[migrations.FINISHED])
            self.conductor.action_start(context, uuid, "confirmResize")
        except _GONE:
            return
        LOG.info("Confirming the resize of instance %s: it waited more than %d s",
                 uuid, self.conf.resize_confirm_window)
        self.compute_rpcapi.confirm_resize(context, record, migration)

    # --- helpers ------------------------------------------------------------------

    def _move_step(self, context, instance, migration, event, step, node, *,
                   on_source=False, report=True, on_gone=None, fault_power=True):
        """Run ``step()`` under the instance's lock as the ``event`` of the
        user's action; its result, or None when it failed.

        Deleted or taken over meanwhile (InstanceNotFound,
        UnexpectedTaskState): ``on_gone()`` if given, else the migration in
        error and its allocations released; the event ends in Error. Any other
        failure: ``on_source`` (the instance has not left the source yet) gives
        the instance its source allocations back, then _move_failed on
        ``node`` (setting the instance's power state from the driver unless
        not ``fault_power``). Success: ``node`` reported (``report``), event
        Success.
        """
        uuid = instance["uuid"]
        with self._instance_lock(uuid):
            self._event_start(context, uuid, event)
            try:
                result = step()
            except _GONE:
                if on_gone is None:
                    self._migration_error(context, migration)
                    self._release_migration(migration)
                else:
                    on_gone()
                self._interrupted(context, uuid, event)
                return None
            except Exception as exc:
                if on_source:
                    self._revert_allocations(uuid, migration)
                self._move_failed(context, uuid, migration, event, exc, node,
                                  record=instance if fault_power else None)
                return None
            if report:
                self._update_node(context, node)
            self._event_finish(context, uuid, event, "Success")
            return result

    def _move_failed(self, context, uuid, migration, event, exc, node, record=None):
        """A step failed: migration error; a rollback (claim failed, the
        driver's MigrationError) restores the flavors and clears the task in
        the old vm_state, anything else puts the instance in ERROR."""
        rollback = isinstance(exc, _ROLLBACK)
        self._migration_error(context, migration)
        if rollback:
            self._quietly(self.conductor.instance_flavors_update, context, uuid,
                          {"old": None, "new": None})
        state = self._power_state(record, power_state.NOSTATE) if record else None
        self._failed(context, uuid, event, exc, None if rollback else vm_states.ERROR,
                     power_state=state)
        if node:
            self._update_node(context, node)

    def _release_migration(self, migration):
        """Delete the migration's allocations (the source's) in Placement."""
        self.resource_tracker.allocations.release(migration["uuid"], what="migration")

    def _revert_allocations(self, uuid, migration):
        """The instance holds its source allocations again, not the destination's."""
        self.resource_tracker.allocations.revert_migration(uuid, migration["uuid"])

    def _migration_error(self, context, migration):
        self._quietly(self.conductor.migration_update, context, migration["id"],
                      {"status": migrations.ERROR})

    def _update_node(self, context, node):
        """Report ``node`` now: a move started or ended on it."""
        if node not in self.resource_tracker.nodes:
            return
        try:
            self.resource_tracker.update_node(context, self.service["id"], node)
        except Exception as exc:  # the next periodic report catches up
            LOG.warning("Cannot report node %s after a migration step: %s", node, exc)
