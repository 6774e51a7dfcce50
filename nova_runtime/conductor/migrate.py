"""nova-conductor's part of a resize or cold migration: choose the destination.

The super-conductor (it needs [api_database] connection for the instance's
cell mapping and request spec) runs ``migrate_server`` for the compute API's
resize and migrate:

1. a migration record in the instance's cell, status pre-migrating (type
   resize when the flavor changes, else migration), and the instance's old
   and new flavors in instance_extra;
2. with Placement, the instance's allocations (the source host's) move to
   the migration record's uuid as their consumer, in one POST
   /allocations (placement.claims.move), so that the scheduler's claim
   for the instance does not replace them: until the move is confirmed or
   reverted the source keeps what the instance took there, and the
   destination what the scheduler claimed (on the same host, both);
3. nova-scheduler chooses a host for the new flavor from the instance's
   request spec and claims it for the instance; the source host is ignored
   unless [DEFAULT] allow_resize_to_same_host, and a requested ``host`` is
   forced. Only hosts of the instance's own cell qualify (no cross-cell
   moves);
4. prep_resize goes to the destination compute, which claims and hands on
   to the source (see compute.resize).

When no host fits (or the scheduler fails) the move ends here: the
migration's allocations go back to the instance (dropping any destination
claim), migration error, the flavors as before, the instance back to
task_state None in its vm_state, with a fault that says why; the
conductor_migrate_server event of the user's action records the error.
"""

import logging
import traceback

from nova_runtime.states import task_states
from nova_runtime.conductor import moves
from nova_runtime.conductor.build import fault_message, fault_text
from nova_runtime.objects import exceptions as record_exc
from nova_runtime.objects import instance_actions, instances, migrations
from nova_runtime.scheduler.errors import NoValidHost

LOG = logging.getLogger(__name__)

EVENT = "conductor_migrate_server"
_RESOURCE_FIELDS = ("memory_mb", "vcpus", "root_gb", "ephemeral_gb")


class MigrationTasks:
    """``clients``: the conductor's BuildTasks, whose scheduler and compute
    RPC clients this shares."""

    def __init__(self, conf, api_url, clients):
        self.conf = conf
        self.api_url = api_url
        self.clients = clients

    def migrate_server(self, context, instance_uuid, flavor=None, host=None):
        moves.run(context, self.api_url, instance_uuid, EVENT, ("migrate", "migrating"),
                  lambda cell: self._migrate(context, cell, instance_uuid, flavor, host),
                  self._not_started)

    @staticmethod
    def _not_started(url, instance_uuid, exc):
        """A failure before _abort could undo anything (reading the instance,
        writing the migration): the task resize_prep goes, with a fault, so
        that the instance is not stuck. After _abort its task is None already."""
        try:
            instances.update(url, instance_uuid, {"task_state": None},
                             expected_task_states=[task_states.RESIZE_PREP])
        except record_exc.RecordError:
            return
        except Exception as error:
            LOG.error("Cannot clear the task of instance %s: %s", instance_uuid, error)
            return
        try:
            instance_actions.fault_create(url, instance_uuid=instance_uuid, code=500,
                                          message=f"Migration failed: {fault_text(exc)}",
                                          details=traceback.format_exc())
        except Exception as error:
            LOG.error("Cannot record the fault of instance %s: %s", instance_uuid, error)

    def _migrate(self, context, cell, instance_uuid, flavor, host):
        url = cell.database_connection
        instance = instances.get_by_uuid(url, instance_uuid)
        current = instances.get_flavor(url, instance_uuid)
        new = flavor or current
        resize = any(new.get(key) != current.get(key) for key in ("id", *_RESOURCE_FIELDS))
        migration = migrations.create(url, {
            "instance_uuid": instance_uuid, "source_compute": instance["host"],
            "source_node": instance["node"], "status": migrations.PRE_MIGRATING,
            "migration_type": "resize" if resize else "migration",
            "old_instance_type_id": current.get("id"), "new_instance_type_id": new.get("id"),
            "user_id": context.user_id, "project_id": context.project_id})
        allocations = self.clients.allocations
        held = None  # whether the migration holds the source's allocations, once asked
        try:
            # In the try: a failure here must also end the migration (_abort).
            instances.set_flavors(url, instance_uuid, old=current, new=new)
            spec = moves.request_spec(
                self.api_url, instance, new, host,
                ignore_hosts=() if self.conf.allow_resize_to_same_host else [instance["host"]])
            held = allocations.hold_for_migration(instance_uuid, migration["uuid"])
            selection = moves.select_in_cell(self.clients, context, cell, instance["uuid"], spec)
            migration = migrations.update(url, migration["id"], {
                "dest_compute": selection["host"], "dest_node": selection["nodename"]})
            LOG.info("%s of instance %s from %s to %s (node %s)",
                     "Resize" if resize else "Cold migration", instance_uuid,
                     instance["host"], selection["host"], selection["nodename"])
            self.clients.computes.get(cell).prep_resize(
                context, selection["host"], instance, migration=migration, flavor=new,
                image=spec.get("image") or {}, node=selection["nodename"],
                limits=selection["limits"], request_spec=spec)
        except Exception as exc:
            if held:
                allocations.revert_migration(instance_uuid, migration["uuid"])
            elif held is False:  # it held none before: it holds none after
                allocations.release(instance_uuid)
            self._abort(url, instance, migration, exc)
            raise

    @staticmethod
    def _abort(url, instance, migration, exc):
        """No destination: everything as before the request, with a fault."""
        message = fault_message(exc) if isinstance(exc, NoValidHost) else f"Migration failed: {exc}"
        migrations.update(url, migration["id"], {"status": migrations.ERROR})
        instances.set_flavors(url, instance["uuid"], old=None, new=None)
        instances.update(url, instance["uuid"], {"task_state": None})
        instance_actions.fault_create(url, instance_uuid=instance["uuid"],
                                      code=400 if isinstance(exc, NoValidHost) else 500,
                                      message=message, details=str(exc))
