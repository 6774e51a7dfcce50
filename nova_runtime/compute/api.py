"""The compute API: what the servers API handlers call to create, find,
delete, stop and start servers.

``API(conf)`` needs [api_database] connection (build requests, request specs,
instance mappings, server groups, cell mappings; each cell's database is
reached through its mapping) and [DEFAULT] transport_url (the API level's
message queue, where the super-conductor listens); a compute is reached over
its cell's message queue. The handlers validate the request (schemas,
policy, quotas, flavor and image access) before calling; these methods check
only what depends on the instance's state.

Errors: objects.exceptions.InstanceNotFound (404), InstanceInvalidState
(409: e.g. stop of a stopped server), InvalidRequest (400: e.g. an unknown
server group), InstanceGroupNotFound (a NotFound). Instances are dicts of the
instances columns plus ``cell_uuid`` (None while the server is a build
request, CELL0_UUID once it failed to be scheduled).

Server creation, step by step (upstream's cells v2 flow):

1. ``create_servers`` writes, per instance, a build request (the instance's
   values, vm_state building, task_state scheduling), a request spec, an
   instance mapping without cell, and the server group membership, in one
   transaction of the API database; then it casts schedule_and_build_instances
   to the super-conductor and returns: the server shows as BUILD.
2. The super-conductor asks nova-scheduler, creates the instance in the
   chosen cell and casts to the compute (see nova_runtime.conductor.build);
   with no valid host, the instance lands in cell0 in ERROR with a fault
   that names the filter that removed the last hosts.
3. The compute claims, spawns and sets vm_state active (power_state running);
   a failed spawn is rescheduled to an alternate host (up to [scheduler]
   max_attempts).

The request spec (request_specs.spec and the scheduler's RPC argument) is a
dict: flavor (memory_mb, vcpus, root_gb, ephemeral_gb, swap, extra_specs,
name, flavorid, id), image (id, properties), availability_zone,
instance_group (uuid, policy, rules) or None, scheduler_hints, force_hosts,
force_nodes, ignore_hosts, num_instances, project_id, user_id, instance_uuid,
and, once it is built, retry (num_attempts, hosts: [[host, node], ...]).
"""

import json
import logging
import re
import uuid as uuidlib

from nova_runtime import cells, placement, rpc
from nova_runtime.compute import rpcapi as compute_rpcapi
from nova_runtime.states import power_state
from nova_runtime.states import task_states, vm_states
from nova_runtime.conductor import rpcapi as conductor_rpcapi
from nova_runtime.db.base import utcnow
from nova_runtime.objects import availability_zones, build_requests, exceptions
from nova_runtime.objects import instance_actions
from nova_runtime.objects import instance_groups, instance_mappings, instances, services
from nova_runtime.objects import migrations
from nova_runtime.image import glance

LOG = logging.getLogger(__name__)

# The flavor fields kept with the instance (instance_extra) and in the request spec.
FLAVOR_FIELDS = ("id", "flavorid", "name", "memory_mb", "vcpus", "root_gb", "ephemeral_gb",
                 "swap", "rxtx_factor", "vcpu_weight", "is_public", "disabled", "description",
                 "extra_specs")
# rebuild: an argument not given leaves the instance's value as it is (None removes it).
UNCHANGED = object()
# What PUT /servers/{id} may change.
UPDATABLE_BY_USER = ("display_name", "display_description", "access_ip_v4", "access_ip_v6",
                     "hostname")
# The system metadata key of a server's security groups (a JSON list of
# names) once add/removeSecurityGroup changed them; absent, it is in
# "default", the only group there is without Neutron.
SECURITY_GROUPS_KEY = "security_groups"
SECURITY_GROUPS = ("default",)
# Metadata may change only in these vm_states, with no task running (as upstream).
METADATA_VM_STATES = ("active", "paused", "suspended", "stopped")

# The actions a locked server still allows its owner, as upstream's (those
# without check_instance_lock): every other action refuses, new ones too.
LOCK_EXEMPT = frozenset({"lock", "unlock", "update", "os-resetState", "createImage",
                         "createBackup", "addSecurityGroup", "removeSecurityGroup"})


class ComputeAPIError(Exception):
    pass


class InvalidRequest(ComputeAPIError):
    """The request cannot be served as asked (400)."""


class InstanceInvalidState(ComputeAPIError):
    """The server's state does not allow the action (409)."""


class SecurityGroupNotFound(exceptions.NotFound):
    """No such security group (404)."""


class InstanceIsLocked(InstanceInvalidState):
    """The server is locked and the caller is not an admin (409)."""


class UnshelveInstanceInvalidState(InstanceInvalidState):
    """An availability zone or a host for an unshelve of a server that is
    not shelved-offloaded (409, as upstream)."""


class UnshelveHostNotInAZ(InstanceInvalidState):
    """The unshelve's host is not in the server's (or the requested)
    availability zone (409, as upstream)."""


class API:
    def __init__(self, conf, api_url=None):
        self.conf = conf
        self.api_url = api_url or conf.api_database.connection
        self._conductor = None
        self.computes = compute_rpcapi.CellClients(conf)
        # Releases a locally deleted server's claims ([placement] as the
        # daemons have it; does nothing without auth_type).
        self.allocations = placement.Allocations(placement.from_conf(conf))

    # --- create ------------------------------------------------------------------

    def create_servers(self, context, flavor, image, count=1, *, name=None,
                       description=None, availability_zone=None, group=None,
                       scheduler_hints=None, key_name=None, key_data=None, user_data=None,
                       metadata=None, admin_password=None, requested_networks=None,
                       access_ip_v4=None, access_ip_v6=None, config_drive=None,
                       hostname=None, tags=None):
        """Accept ``count`` servers of ``flavor`` (a flavor dict with
        extra_specs, as nova_runtime.objects.flavors.get(with_specs=True)
        returns it) booting ``image`` (the image's metadata: id, properties,
        ...). Returns their instance dicts (vm_state building, task_state
        scheduling, cell_uuid None), in launch order; they share a
        reservation_id.

        availability_zone: "zone", or "zone:host" / "zone:host:node" to force
        a host (an admin's request; the handler checks the policy); default
        [DEFAULT] default_schedule_zone. group: a server group uuid (also read
        from scheduler_hints["group"]); the new servers become its members.
        admin_password is handed to the compute and never stored. tags (2.52)
        are the new servers' tags."""
        if count < 1:
            raise InvalidRequest("count must be at least 1")
        hints = dict(scheduler_hints or {})
        group_uuid = group or hints.get("group")
        instance_group = self._group(group_uuid) if group_uuid else None
        zone, force_hosts, force_nodes = parse_availability_zone(
            availability_zone or self.conf.default_schedule_zone)
        flavor = {key: flavor.get(key) for key in FLAVOR_FIELDS if key in flavor}
        flavor["extra_specs"] = dict(flavor.get("extra_specs") or {})
        image = dict(image or {})
        properties = {key: value for key, value in (image.get("properties") or {}).items()
                      if value is not None}
        reservation_id = "r-" + uuidlib.uuid4().hex[:8]
        spec = {
            "flavor": flavor, "image": {"id": image.get("id"), "properties": properties},
            "availability_zone": zone, "instance_group": instance_group,
            "scheduler_hints": hints, "force_hosts": force_hosts, "force_nodes": force_nodes,
            "ignore_hosts": [], "num_instances": count, "project_id": context.project_id,
            "user_id": context.user_id,
        }
        created, requests = [], []
        for index in range(count):
            display_name = name if count == 1 or not name else f"{name}-{index + 1}"
            instance = self._instance_values(
                context, flavor, image, properties, display_name, description, zone,
                reservation_id, index, key_name, key_data, user_data, metadata,
                access_ip_v4, access_ip_v6, config_drive)
            if hostname:  # 2.90: the user's own hostname instead of one from the name
                instance["hostname"] = hostname
            instance["tags"] = sorted(set(tags or ()))
            requests.append({"instance": instance,
                             "request_spec": dict(spec, instance_uuid=instance["uuid"])})
            created.append(instance)
        uuids = [instance["uuid"] for instance in created]
        build_requests.create(self.api_url, requests,
                              group_uuid=instance_group["uuid"] if instance_group else None)
        try:
            self.conductor.schedule_and_build_instances(
                context, uuids, spec, image, admin_password=admin_password,
                requested_networks=requested_networks)
        except Exception:
            build_requests.destroy(self.api_url, uuids)  # no server left in BUILD forever
            raise
        return [_view(instance, None) for instance in created]

    def _group(self, group_uuid):
        try:
            group = instance_groups.get(self.api_url, group_uuid)
        except exceptions.InstanceGroupNotFound:
            raise InvalidRequest(f"Invalid server group {group_uuid}: not found") from None
        return {"uuid": group["uuid"], "policy": group["policy"], "rules": group["rules"]}

    def _instance_values(self, context, flavor, image, properties, display_name, description,
                         zone, reservation_id, index, key_name, key_data, user_data, metadata,
                         access_ip_v4, access_ip_v6, config_drive):
        uuid = str(uuidlib.uuid4())
        system_metadata = {f"image_{key}": str(value) for key, value in properties.items()}
        for key in ("min_ram", "min_disk", "disk_format", "container_format"):
            if image.get(key) is not None:
                system_metadata[f"image_{key}"] = str(image[key])
        if image.get("id"):
            system_metadata["image_base_image_ref"] = image["id"]
        return {
            "uuid": uuid, "display_name": display_name, "display_description": description,
            "hostname": hostname(display_name, uuid), "project_id": context.project_id,
            "user_id": context.user_id, "image_ref": image.get("id"),
            "memory_mb": flavor["memory_mb"], "vcpus": flavor["vcpus"],
            "root_gb": flavor.get("root_gb") or 0, "ephemeral_gb": flavor.get("ephemeral_gb") or 0,
            "instance_type_id": flavor.get("id"), "key_name": key_name, "key_data": key_data,
            "user_data": user_data, "availability_zone": zone,
            "vm_state": vm_states.BUILDING, "task_state": task_states.SCHEDULING,
            "power_state": power_state.NOSTATE, "reservation_id": reservation_id,
            "launch_index": index, "locked": False, "config_drive": "True" if config_drive else "",
            "access_ip_v4": access_ip_v4, "access_ip_v6": access_ip_v6,
            "os_type": properties.get("os_type"),
            "architecture": properties.get("hw_architecture") or properties.get("architecture"),
            "vm_mode": properties.get("hw_vm_mode"), "progress": 0,
            "flavor": flavor, "metadata": dict(metadata or {}), "system_metadata": system_metadata,
        }

    # --- read --------------------------------------------------------------------

    def get(self, context, instance_uuid):
        """The instance dict of a server: from its cell, or from its build
        request while it is scheduled. Raises InstanceNotFound (also once
        the server is deleted). Its flavor, metadata and system metadata are
        read with objects.instances.get_flavor and get_metadata."""
        return self.get_with_build_request(context, instance_uuid)[0]

    def get_with_build_request(self, context, instance_uuid):
        """(``get``'s instance dict, the build request's whole instance while
        the server is one, else None): its flavor, metadata, system metadata
        and tags, which the API's view of the server shows, read once."""
        mapping = self._mapping(instance_uuid)
        if mapping["cell"] is None:
            try:
                request = build_requests.get(self.api_url, instance_uuid)
            except exceptions.BuildRequestNotFound:
                mapping = self._mapping(instance_uuid)  # it reached a cell meanwhile
                if mapping["cell"] is None:
                    raise _not_found(instance_uuid) from None
            else:
                return _view(dict(request["instance"], created_at=request["created_at"]),
                             None), request["instance"]
        cell = mapping["cell"]
        instance = instances.get_by_uuid(cell.database_connection, instance_uuid)
        return _view(instance, cell.uuid), None

    # --- delete, stop, start ---------------------------------------------------------

    def delete(self, context, instance_uuid):
        """Delete the server. A build request is simply dropped (the
        conductor then drops what it placed); an instance without a host (in
        cell0, or whose build failed) or whose compute service is down is
        deleted in its cell's database at once (upstream's "local delete"),
        and its Placement allocations, with those of its unfinished
        migrations, are deleted here (no compute will); otherwise its
        compute destroys it (task_state deleting until it is gone)."""
        mapping = self._mapping(instance_uuid)
        if mapping["cell"] is None:
            if build_requests.delete(self.api_url, instance_uuid):
                instance_mappings.queue_for_delete(self.api_url, instance_uuid)
                return
            mapping = self._mapping(instance_uuid)  # it reached a cell meanwhile
            if mapping["cell"] is None:
                raise _not_found(instance_uuid)
        cell = mapping["cell"]
        url = cell.database_connection
        instance = instances.get_by_uuid(url, instance_uuid)
        self._check_unlocked(context, instance, "delete")
        if instance["task_state"] == task_states.DELETING:
            return
        if instance["vm_state"] in vm_states.ALLOW_UNSHELVE:
            self._delete_shelved_image(context, url, instance)
        if self._soft_delete(context, cell, instance):
            return
        self._delete(context, cell, instance)

    def force_delete(self, context, instance_uuid):
        """forceDelete: delete a SOFT_DELETED server now."""
        cell, instance = self._in_cell(context, instance_uuid, "forceDelete",
                                       (vm_states.SOFT_DELETED,))
        self._delete(context, cell, instance)

    def restore(self, context, instance_uuid):
        """restore: a SOFT_DELETED server powers on again, ACTIVE."""
        cell, instance = self._on_host(context, instance_uuid, "restore",
                                       (vm_states.SOFT_DELETED,))
        url = cell.database_connection
        instance = self._set_task_state(url, instance, task_states.RESTORING, [None],
                                        values={"deleted_at": None})
        self._record_action(context, url, instance_uuid, "restore")
        self.computes.get(cell).restore_instance(context, instance)

    def _soft_delete(self, context, cell, instance):
        """With [DEFAULT] reclaim_instance_interval, a server that runs on a
        live compute is only powered off, SOFT_DELETED (restorable) until its
        compute reclaims it; True if so. Upstream deletes for real what was
        never launched or has a task running, and so does this."""
        url = cell.database_connection
        if (not self.conf.reclaim_instance_interval or cell.uuid == cells.CELL0_UUID
                or not instance["host"] or not instance["launched_at"]
                or instance["vm_state"] == vm_states.SOFT_DELETED
                # A shelved server has lost its image already (as upstream's
                # delete): restoring it could only fail.
                or instance["vm_state"] in vm_states.ALLOW_UNSHELVE
                or not self._compute_up(url, instance["host"])):
            return False
        try:
            instance = self._set_task_state(url, instance, task_states.SOFT_DELETING, [None],
                                            values={"deleted_at": utcnow()})
        except InstanceInvalidState:
            return False
        self._record_action(context, url, instance["uuid"], "delete")
        self.computes.get(cell).soft_delete_instance(context, instance)
        return True

    def _delete(self, context, cell, instance):
        url = cell.database_connection
        instance_uuid = instance["uuid"]
        self._record_action(context, url, instance_uuid, "delete")
        if (cell.uuid == cells.CELL0_UUID or not instance["host"]
                or not self._compute_up(url, instance["host"])):
            moving = migrations.for_instance(url, instance_uuid, migrations.IN_PROGRESS)
            instances.destroy(url, instance_uuid, {
                "vm_state": vm_states.DELETED, "task_state": None, "terminated_at": utcnow()})
            self.allocations.release(instance_uuid)
            for migration in moving:
                self.allocations.release(migration["uuid"], what="migration")
        else:
            instance = self._set_task_state(url, instance, task_states.DELETING,
                                            task_states.DELETABLE)
            self._confirm_before_delete(context, cell, instance)
            self.computes.get(cell).terminate_instance(context, instance)
        instance_mappings.queue_for_delete(self.api_url, instance_uuid)

    # --- lock, state reset, security groups -------------------------------------------

    def lock(self, context, instance_uuid, reason=None):
        """Lock the server: then only admins may act on it (others get 409,
        as upstream's check_instance_lock). locked_by records who locked it:
        "owner" (its own project) or "admin" (another project's admin);
        ``reason`` (2.73) is kept in its system metadata."""
        cell, instance = self._in_cell(context, instance_uuid, "lock")
        url = cell.database_connection
        instances.update(url, instance_uuid, {"locked": True,
                                              "locked_by": self.locker(context, instance)})
        instances.set_system_metadata(url, instance_uuid, {"locked_reason": reason})
        self._record_action(context, url, instance_uuid, "lock")

    def unlock(self, context, instance_uuid):
        cell, instance = self._in_cell(context, instance_uuid, "unlock")
        url = cell.database_connection
        instances.update(url, instance_uuid, {"locked": False, "locked_by": None})
        instances.set_system_metadata(url, instance_uuid, {"locked_reason": None})
        self._record_action(context, url, instance_uuid, "unlock")

    @staticmethod
    def locker(context, instance):
        """Who ``context`` is to the server's lock: "owner" or "admin"."""
        return "owner" if context.project_id == instance["project_id"] else "admin"

    def reset_state(self, context, instance_uuid, vm_state):
        """os-resetState: set vm_state (active or error) and clear the task,
        whatever the server was doing; an admin's way out of a stuck task."""
        if vm_state not in vm_states.ALLOW_RESET_STATE:
            raise InvalidRequest(f"Cannot reset a server to vm_state {vm_state}")
        cell, instance = self._in_cell(context, instance_uuid, "os-resetState")
        url = cell.database_connection
        instances.update(url, instance_uuid, {"vm_state": vm_state, "task_state": None})
        self._record_action(context, url, instance_uuid, "resetState")

    def add_security_group(self, context, instance_uuid, name):
        self._change_security_groups(context, instance_uuid, name, add=True)

    def remove_security_group(self, context, instance_uuid, name):
        self._change_security_groups(context, instance_uuid, name, add=False)

    def _change_security_groups(self, context, instance_uuid, name, add):
        """The membership is recorded, as nova-network's associations were.
        The flat network filters no traffic by group: "default" allows all."""
        if name not in SECURITY_GROUPS:
            raise SecurityGroupNotFound(f"Security group {name} not found.")
        action = "addSecurityGroup" if add else "removeSecurityGroup"
        cell, instance = self._in_cell(context, instance_uuid, action)
        url = cell.database_connection
        groups = list(security_groups_of(instances.get_metadata(url, instance_uuid,
                                                                system=True)))
        if add == (name in groups):
            raise InvalidRequest(
                f"Security group {name} is already associated with the instance "
                f"{instance_uuid}" if add else
                f"Security group {name} not associated with the instance {instance_uuid}")
        groups = groups + [name] if add else [group for group in groups if group != name]
        instances.set_system_metadata(url, instance_uuid,
                                      {SECURITY_GROUPS_KEY: json.dumps(groups)})

    def _in_cell(self, context, instance_uuid, action, vm_states_allowed=None):
        """(cell, instance) of a server that is in a cell (cell0 included)."""
        cell = self._cell_of(context, instance_uuid, action, vm_states_allowed)
        return cell, instances.get_by_uuid(cell.database_connection, instance_uuid)

    @staticmethod
    def _check_unlocked(context, instance, action):
        """A locked server refuses the owner every action but LOCK_EXEMPT
        (upstream's check_instance_lock); an admin may do anything."""
        if (instance.get("locked") and not context.is_admin
                and action not in LOCK_EXEMPT):
            raise InstanceIsLocked(f"Instance {instance['uuid']} is locked")

    def stop(self, context, instance_uuid, clean_shutdown=True):
        """Power off an active server (vm_state active or error, on a host)."""
        cell, instance = self._on_host(context, instance_uuid, "stop",
                                       (vm_states.ACTIVE, vm_states.ERROR))
        url = cell.database_connection
        instance = self._set_task_state(url, instance, task_states.POWERING_OFF, [None])
        self._record_action(context, url, instance_uuid, "stop")
        self.computes.get(cell).stop_instance(context, instance, clean_shutdown=clean_shutdown)

    def start(self, context, instance_uuid):
        """Power on a stopped server."""
        cell, instance = self._on_host(context, instance_uuid, "start", (vm_states.STOPPED,))
        url = cell.database_connection
        instance = self._set_task_state(url, instance, task_states.POWERING_ON, [None])
        self._record_action(context, url, instance_uuid, "start")
        self.computes.get(cell).start_instance(context, instance)

    # --- list, update, metadata ------------------------------------------------------
    # Listing spans the build requests and every cell: it lives with the API's
    # queries (nova_runtime/api/server_listing.py), which reads them in bulk.

    def update(self, context, instance_uuid, values):
        """Set the user-editable fields of a server (display_name,
        display_description, access_ip_v4, access_ip_v6, hostname); returns
        the instance dict. A server still being scheduled cannot be changed
        yet (409): its build request becomes an instance within moments."""
        unknown = sorted(set(values) - set(UPDATABLE_BY_USER))
        if unknown:
            raise InvalidRequest(f"cannot update {', '.join(unknown)} of a server")
        cell = self._cell_of(context, instance_uuid, "update")
        instance = instances.update(cell.database_connection, instance_uuid, dict(values))
        return _view(instance, cell.uuid)

    def get_metadata(self, context, instance_uuid):
        """A server's user metadata (a build request's too)."""
        mapping = self._mapping(instance_uuid)
        if mapping["cell"] is None:
            try:
                return dict(build_requests.get(self.api_url, instance_uuid)["instance"]
                            .get("metadata") or {})
            except exceptions.BuildRequestNotFound:
                mapping = self._mapping(instance_uuid)
                if mapping["cell"] is None:
                    raise _not_found(instance_uuid) from None
        url = mapping["cell"].database_connection
        instances.get_by_uuid(url, instance_uuid)  # InstanceNotFound once deleted
        return instances.get_metadata(url, instance_uuid)

    def update_metadata(self, context, instance_uuid, metadata, replace=False):
        """Set metadata keys (``replace``: the server's metadata becomes
        exactly ``metadata``); returns the whole metadata. Upstream allows it
        only while the server is active, paused, suspended or stopped with no
        task running."""
        cell = self._cell_of(context, instance_uuid, "update metadata", METADATA_VM_STATES)
        return instances.set_metadata(cell.database_connection, instance_uuid, metadata,
                                      replace=replace)

    def delete_metadata_item(self, context, instance_uuid, key):
        """Delete one metadata key; False when the server has no such key."""
        cell = self._cell_of(context, instance_uuid, "delete metadata", METADATA_VM_STATES)
        return instances.delete_metadata_key(cell.database_connection, instance_uuid, key)

    def _cell_of(self, context, instance_uuid, action, vm_states_allowed=None):
        """The cell of a scheduled server, after checking its state and that
        the server is not locked against ``action``."""
        mapping = self._mapping(instance_uuid)
        cell = mapping["cell"]
        if cell is None:
            raise InstanceInvalidState(
                f"Cannot '{action}' instance {instance_uuid} while it is being scheduled")
        instance = instances.get_by_uuid(cell.database_connection, instance_uuid)
        self._check_unlocked(context, instance, action)
        if vm_states_allowed is not None and (
                instance["vm_state"] not in vm_states_allowed or instance["task_state"]):
            raise InstanceInvalidState(
                f"Cannot '{action}' instance {instance_uuid} while it is in vm_state "
                f"{instance['vm_state']}, task_state {instance['task_state']}")
        return cell

    # --- lifecycle actions -----------------------------------------------------------
    # Each checks the vm_state (InstanceInvalidState, 409), sets its task_state
    # with a compare-and-swap (409 when another task runs), records the action
    # (os-instance-actions) and casts to the compute, or to the super-conductor
    # for resize and migrate, which need the scheduler.

    def reboot(self, context, instance_uuid, reboot_type):
        """SOFT asks the guest (vm_state active, no task); HARD power-cycles
        a server that is active, stopped, paused, suspended or in error, and
        may interrupt a reboot, pause, unpause, suspend or resume."""
        if reboot_type not in ("SOFT", "HARD"):
            raise InvalidRequest(f"Reboot type must be SOFT or HARD, not {reboot_type!r}")
        if reboot_type == "SOFT":
            cell, instance = self._begin(context, instance_uuid, "reboot",
                                         vm_states.ALLOW_SOFT_REBOOT, task_states.REBOOTING)
        else:
            cell, instance = self._begin(context, instance_uuid, "reboot",
                                         vm_states.ALLOW_HARD_REBOOT, task_states.REBOOTING_HARD,
                                         expected=task_states.ALLOW_REBOOT)
        self.computes.get(cell).reboot_instance(context, instance, reboot_type)

    def pause(self, context, instance_uuid):
        cell, instance = self._begin(context, instance_uuid, "pause", (vm_states.ACTIVE,),
                                     task_states.PAUSING)
        self.computes.get(cell).pause_instance(context, instance)

    def unpause(self, context, instance_uuid):
        cell, instance = self._begin(context, instance_uuid, "unpause", (vm_states.PAUSED,),
                                     task_states.UNPAUSING)
        self.computes.get(cell).unpause_instance(context, instance)

    def suspend(self, context, instance_uuid):
        cell, instance = self._begin(context, instance_uuid, "suspend", (vm_states.ACTIVE,),
                                     task_states.SUSPENDING)
        self.computes.get(cell).suspend_instance(context, instance)

    def resume(self, context, instance_uuid):
        cell, instance = self._begin(context, instance_uuid, "resume", (vm_states.SUSPENDED,),
                                     task_states.RESUMING)
        self.computes.get(cell).resume_instance(context, instance)

    def trigger_crash_dump(self, context, instance_uuid):
        """An NMI to the guest of a server with no task running; its states
        do not change."""
        cell, instance = self._on_host(context, instance_uuid, "trigger_crash_dump",
                                       vm_states.ALLOW_TRIGGER_CRASH_DUMP)
        url = cell.database_connection
        instance = self._set_task_state(url, instance, None, [None])
        self._record_action(context, url, instance_uuid, "trigger_crash_dump")
        self.computes.get(cell).trigger_crash_dump(context, instance)

    def rebuild(self, context, instance_uuid, image, *, name=None, metadata=None,
                admin_password=None, keypair=UNCHANGED, user_data=UNCHANGED):
        """Rebuild the server from ``image`` (the image's metadata, as
        glance.show returns it) on its host: new disk, same flavor, address
        and uuid. ``name`` renames it; ``metadata`` replaces its metadata;
        ``keypair`` ((name, public key), or None to remove it) and
        ``user_data`` (None removes it) replace those the guest gets.
        A stopped server stays stopped."""
        image = dict(image or {})
        if not image.get("id"):
            raise InvalidRequest("Cannot rebuild without an image id")
        cell, instance = self._on_host(context, instance_uuid, "rebuild",
                                       vm_states.ALLOW_REBUILD)
        url = cell.database_connection
        self._check_image_fits(image, instances.get_flavor(url, instance_uuid))
        values = {"image_ref": image["id"]}
        if name is not None:
            values["display_name"] = name
        if keypair is not UNCHANGED:
            values["key_name"], values["key_data"] = keypair or (None, None)
        if user_data is not UNCHANGED:
            values["user_data"] = user_data
        instance = self._set_task_state(url, instance, task_states.REBUILDING, [None],
                                        values=values)
        if metadata is not None:
            instances.set_metadata(url, instance_uuid, dict(metadata), replace=True)
        instances.set_image_system_metadata(url, instance_uuid, image_system_metadata(image))
        self._record_action(context, url, instance_uuid, "rebuild")
        self.computes.get(cell).rebuild_instance(context, instance, image,
                                                admin_password=admin_password)

    def snapshot(self, context, instance_uuid, name, metadata=None):
        """createImage: a new Glance image (created now with the caller's
        token, queued) that the compute fills with the server's disk; returns
        its id. The image inherits the server's image properties, plus
        ``metadata``, instance_uuid, image_type snapshot and base_image_ref."""
        cell, instance = self._on_host(context, instance_uuid, "createImage",
                                       vm_states.ALLOW_SNAPSHOT)
        image_id, instance = self._new_image(context, cell, instance, "createImage", name,
                                             metadata, task_states.IMAGE_SNAPSHOT_PENDING)
        self.computes.get(cell).snapshot_instance(context, instance, image_id)
        return image_id

    def backup(self, context, instance_uuid, name, backup_type, rotation, metadata=None):
        """createBackup: a snapshot with image_type backup and ``backup_type``
        (daily, weekly...); once it is uploaded the compute deletes the
        oldest backups of that type of this server beyond ``rotation``.
        Returns the new image's id."""
        cell, instance = self._on_host(context, instance_uuid, "createBackup",
                                       vm_states.ALLOW_SNAPSHOT)
        image_id, instance = self._new_image(
            context, cell, instance, "createBackup", name, metadata, task_states.IMAGE_BACKUP,
            image_type="backup", backup_type=backup_type)
        self.computes.get(cell).backup_instance(context, instance, image_id, backup_type,
                                               rotation)
        return image_id

    def _new_image(self, context, cell, instance, action, name, metadata, task_state,
                   image_type="snapshot", **properties):
        """Create the queued Glance image and set ``task_state``: (image id,
        instance)."""
        if instance["task_state"] is not None:
            raise self._busy(instance, action)
        url = cell.database_connection
        system_metadata = instances.get_metadata(url, instance["uuid"], system=True)
        values = snapshot_image_values(instance, system_metadata,
                                       dict(metadata or {}, **properties),
                                       image_type=image_type)
        image = glance.create(context, name, conf=self.conf, **values)
        try:
            instance = self._set_task_state(url, instance, task_state, [None])
        except InstanceInvalidState:
            glance.delete(context, image["id"], conf=self.conf)
            raise
        self._record_action(context, url, instance["uuid"], action)
        return image["id"], instance

    # --- shelve ------------------------------------------------------------------------

    def shelve(self, context, instance_uuid, clean_shutdown=True):
        """shelve: the Glance image "<name>-shelved" (image_type snapshot,
        as createImage's) is created now with the caller's token; the
        compute powers the server off, uploads its disk there: SHELVED; with
        [DEFAULT] shelved_offload_time 0 (the default) it offloads it at
        once: SHELVED_OFFLOADED, on no host. Returns the image's id."""
        cell, instance = self._on_host(context, instance_uuid, "shelve", vm_states.ALLOW_SHELVE)
        image_id, instance = self._new_image(
            context, cell, instance, "shelve", f"{instance['display_name']}-shelved", None,
            task_states.SHELVING)
        # What the spawn of an unshelve boots again (upstream keeps it too).
        instances.set_system_metadata(cell.database_connection, instance_uuid,
                                      {"image_base_image_ref": instance["image_ref"]})
        self.computes.get(cell).shelve_instance(context, instance, image_id,
                                               clean_shutdown=clean_shutdown)
        return image_id

    def shelve_offload(self, context, instance_uuid, clean_shutdown=True):
        """shelveOffload: a SHELVED server leaves its host (its guest
        destroyed, its resources released): SHELVED_OFFLOADED."""
        cell, instance = self._begin(context, instance_uuid, "shelveOffload",
                                     (vm_states.SHELVED,), task_states.SHELVING_OFFLOADING)
        self.computes.get(cell).shelve_offload_instance(context, instance,
                                                       clean_shutdown=clean_shutdown)

    def unshelve(self, context, instance_uuid, new_az=UNCHANGED, host=None):
        """unshelve: a SHELVED server powers on again on its host; a
        SHELVED_OFFLOADED one goes through the super-conductor, which asks
        the scheduler for a host (only ``host`` when given: 2.91), and is
        spawned there from its shelved image. Either way ACTIVE, the image
        deleted. ``new_az`` (2.77; None unpins it, 2.91) becomes the
        server's availability zone and its request spec's; a zone or a host
        is for a SHELVED_OFFLOADED server only (409)."""
        cell, instance = self._in_cell(context, instance_uuid, "unshelve",
                                       vm_states.ALLOW_UNSHELVE)
        url = cell.database_connection
        zone_given = new_az is not UNCHANGED
        if (zone_given or host) and instance["vm_state"] != vm_states.SHELVED_OFFLOADED:
            raise UnshelveInstanceInvalidState(
                f"Specifying an availability zone or a host when unshelving server "
                f"{instance_uuid} with status {instance['vm_state'].upper()} is not "
                "supported. The server status must be SHELVED_OFFLOADED.")
        zones = None
        if zone_given and new_az is not None:
            zones = self._compute_zones(url)
            if new_az not in zones.values():
                raise InvalidRequest("The requested availability zone is not available")
        if host:
            zones = zones or self._compute_zones(url)
            if host not in zones:
                raise InvalidRequest(f"Compute host {host} could not be found.")
            zone = new_az if zone_given else self._pinned_zone(instance)
            if zone and zones[host] != zone:
                raise UnshelveHostNotInAZ(
                    f"Host {host} is not in the availability zone {zone}.")
        values = {"availability_zone": new_az} if zone_given else None
        instance = self._set_task_state(url, instance, task_states.UNSHELVING, [None],
                                        values=values)
        self._record_action(context, url, instance_uuid, "unshelve")
        try:
            if zone_given:
                build_requests.update_request_spec(self.api_url, instance_uuid,
                                                   {"availability_zone": new_az})
            if instance["vm_state"] == vm_states.SHELVED:
                self.computes.get(cell).unshelve_instance(context, instance["host"], instance)
            else:
                self.conductor.unshelve_instance(context, instance_uuid, host=host)
        except Exception:
            instances.update(url, instance_uuid, {"task_state": None})
            raise

    def _compute_zones(self, url):
        """{host: availability zone} of the cell's enabled compute services."""
        return {record["host"]: availability_zones.host_zone(
                    self.api_url, record["host"], self.conf.default_availability_zone)
                for record in services.list_services(url, binary="nova-compute")
                if not record.get("disabled")}

    def _pinned_zone(self, instance):
        """The availability zone the server's request spec asks for, if any."""
        try:
            return build_requests.get_request_spec(self.api_url, instance["uuid"]).get(
                "availability_zone")
        except exceptions.NotFound:
            return instance.get("availability_zone")

    def _delete_shelved_image(self, context, url, instance):
        """Deleting a shelved server deletes its shelved image (as upstream);
        an image that cannot be deleted is logged, not an error."""
        image_id = instances.get_metadata(url, instance["uuid"], system=True).get(
            "shelved_image_id")
        if not image_id:
            return
        try:
            glance.delete(context, image_id, conf=self.conf)
        except glance.ImageError as exc:
            LOG.warning("Cannot delete the shelved image %s of instance %s: %s", image_id,
                        instance["uuid"], exc)

    def resize(self, context, instance_uuid, flavor):
        """Move the server to a host that takes ``flavor`` (a flavor dict with
        FLAVOR_FIELDS): VERIFY_RESIZE once it runs there, until
        confirm_resize or revert_resize."""
        new = {key: flavor.get(key) for key in FLAVOR_FIELDS if key in flavor}
        new["extra_specs"] = dict(new.get("extra_specs") or {})
        cell, instance = self._on_host(context, instance_uuid, "resize",
                                       vm_states.ALLOW_RESIZE)
        url = cell.database_connection
        current = instances.get_flavor(url, instance_uuid)
        if (new.get("id"), new.get("flavorid")) == (current.get("id"), current.get("flavorid")):
            raise InvalidRequest("When resizing, instances must change flavor!")
        if not new.get("root_gb") and current.get("root_gb"):
            raise InvalidRequest("Resize to zero disk flavor is not allowed.")
        self._start_move(context, cell, instance, "resize", flavor=new)

    def migrate(self, context, instance_uuid, host=None):
        """Cold-migrate the server (same flavor) to a host the scheduler
        picks, or to ``host``: VERIFY_RESIZE there, as a resize."""
        cell, instance = self._on_host(context, instance_uuid, "migrate",
                                       vm_states.ALLOW_RESIZE)
        if host is not None:
            if host == instance["host"]:
                raise InvalidRequest(
                    f"The target host {host} is the server's current host")
            try:
                services.get_by_host_and_binary(cell.database_connection, host, "nova-compute")
            except exceptions.ServiceNotFound:
                raise InvalidRequest(f"Compute host {host} could not be found.") from None
        self._start_move(context, cell, instance, "migrate", host=host)

    def confirm_resize(self, context, instance_uuid):
        """Keep the server where it was resized or migrated to: the source
        host removes its copy."""
        cell, instance = self._on_host(context, instance_uuid, "confirmResize",
                                       (vm_states.RESIZED,))
        if instance["task_state"] is not None:
            raise self._busy(instance, "confirmResize")
        url = cell.database_connection
        migration = self._finished_migration(url, instance, migrations.CONFIRMING)
        self._record_action(context, url, instance_uuid, "confirmResize")
        self.computes.get(cell).confirm_resize(context, instance, migration)

    def revert_resize(self, context, instance_uuid):
        """Go back to the source host and the old flavor."""
        cell, instance = self._on_host(context, instance_uuid, "revertResize",
                                       (vm_states.RESIZED,))
        url = cell.database_connection
        migration = self._finished_migration(url, instance, None)
        instance = self._set_task_state(url, instance, task_states.RESIZE_REVERTING, [None])
        try:
            migration = migrations.update(url, migration["id"], {
                "status": migrations.REVERTING}, expected_statuses=[migrations.FINISHED])
        except exceptions.UnexpectedTaskState:
            instances.update(url, instance_uuid, {"task_state": None})
            raise InstanceInvalidState(
                f"Cannot 'revertResize' instance {instance_uuid}: its migration is being "
                "confirmed") from None
        self._record_action(context, url, instance_uuid, "revertResize")
        self.computes.get(cell).revert_resize(context, instance, migration)

    def _confirm_before_delete(self, context, cell, instance):
        """A server in VERIFY_RESIZE is confirmed first, so that its source
        host removes its copy too (as upstream)."""
        if instance["vm_state"] != vm_states.RESIZED:
            return
        try:
            migration = self._finished_migration(cell.database_connection, instance,
                                                 migrations.CONFIRMING)
        except (InvalidRequest, InstanceInvalidState):
            return  # being confirmed or reverted already
        self.computes.get(cell).confirm_resize(context, instance, migration)

    def _begin(self, context, instance_uuid, action, vm_states_allowed, task_state,
               expected=(None,)):
        """Check the vm_state, set ``task_state`` (from one of ``expected``)
        and record ``action``: (cell, instance)."""
        cell, instance = self._on_host(context, instance_uuid, action, vm_states_allowed)
        url = cell.database_connection
        instance = self._set_task_state(url, instance, task_state, expected)
        self._record_action(context, url, instance_uuid, action)
        return cell, instance

    def _start_move(self, context, cell, instance, action, flavor=None, host=None):
        url = cell.database_connection
        self._set_task_state(url, instance, task_states.RESIZE_PREP, [None])
        self._record_action(context, url, instance["uuid"], action)
        try:
            self.conductor.migrate_server(context, instance["uuid"], flavor=flavor, host=host)
        except Exception:
            instances.update(url, instance["uuid"], {"task_state": None})
            raise

    def _finished_migration(self, url, instance, status):
        """The migration waiting in VERIFY_RESIZE (400 without one); with
        ``status``, set to it (409 if another request changed it first)."""
        found = migrations.for_instance(url, instance["uuid"], [migrations.FINISHED])
        if not found:
            raise InvalidRequest(
                f"Instance {instance['uuid']} has no finished migration to confirm or revert")
        if status is None:
            return found[0]
        try:
            return migrations.update(url, found[0]["id"], {"status": status},
                                     expected_statuses=[migrations.FINISHED])
        except exceptions.UnexpectedTaskState:
            raise InstanceInvalidState(
                f"Instance {instance['uuid']}: its migration is being confirmed or "
                "reverted already") from None

    @staticmethod
    def _busy(instance, action):
        return InstanceInvalidState(
            f"Cannot '{action}' instance {instance['uuid']} while it is in task_state "
            f"{instance['task_state']}")

    @staticmethod
    def _check_image_fits(image, flavor):
        if int(image.get("min_ram") or 0) > int(flavor.get("memory_mb") or 0):
            raise InvalidRequest("Flavor's memory is too small for requested image.")
        root_gb = int(flavor.get("root_gb") or 0)
        if root_gb and int(image.get("min_disk") or 0) > root_gb:
            raise InvalidRequest("Flavor's disk is too small for requested image.")

    # --- helpers ------------------------------------------------------------------

    @property
    def conductor(self):
        """The super-conductor, on [DEFAULT] transport_url."""
        if self._conductor is None:
            self._conductor = conductor_rpcapi.ConductorAPI(rpc.get_transport(self.conf))
        return self._conductor

    def _compute_up(self, db_url, host):
        try:
            record = services.get_by_host_and_binary(db_url, host, "nova-compute")
        except exceptions.ServiceNotFound:
            return False
        return services.is_up(record, self.conf.service_down_time)

    def _mapping(self, instance_uuid):
        try:
            return instance_mappings.get(self.api_url, instance_uuid)
        except exceptions.InstanceMappingNotFound:
            raise _not_found(instance_uuid) from None

    def _on_host(self, context, instance_uuid, action, vm_states_allowed):
        """(cell, instance) of a server on a host in one of ``vm_states_allowed``;
        409 also when it is locked against ``action``."""
        mapping = self._mapping(instance_uuid)
        cell = mapping["cell"]
        if cell is None or cell.uuid == cells.CELL0_UUID or mapping["queued_for_delete"]:
            raise InstanceInvalidState(
                f"Cannot '{action}' instance {instance_uuid} while it is not on a host")
        instance = instances.get_by_uuid(cell.database_connection, instance_uuid)
        self._check_unlocked(context, instance, action)
        if instance["vm_state"] not in vm_states_allowed or not instance["host"]:
            raise InstanceInvalidState(
                f"Cannot '{action}' instance {instance_uuid} while it is in vm_state "
                f"{instance['vm_state']}")
        return cell, instance

    @staticmethod
    def _set_task_state(url, instance, task_state, expected, values=None):
        """Set task_state (and ``values``) if it is one of ``expected``, else 409."""
        try:
            return instances.update(url, instance["uuid"],
                                    dict(values or {}, task_state=task_state),
                                    expected_task_states=list(expected))
        except exceptions.UnexpectedTaskState:
            raise InstanceInvalidState(
                f"Cannot set instance {instance['uuid']} to task_state {task_state} while it "
                f"is in task_state {instance['task_state']}") from None

    @staticmethod
    def _record_action(context, url, instance_uuid, action):
        instance_actions.action_start(
            url, instance_uuid=instance_uuid, request_id=context.request_id, action=action,
            user_id=context.user_id, project_id=context.project_id)


def security_groups_of(system_metadata):
    """The names of a server's security groups, from its system metadata."""
    stored = system_metadata.get(SECURITY_GROUPS_KEY)
    return SECURITY_GROUPS if stored is None else tuple(json.loads(stored))


def parse_availability_zone(text):
    """(zone, force_hosts, force_nodes) of "zone", "zone:host" or "zone:host:node"."""
    if not text:
        return None, [], []
    zone, _, rest = text.partition(":")
    host, _, node = rest.partition(":")
    return zone or None, [host] if host else [], [node] if node else []


def hostname(display_name, uuid):
    """A DNS label from the display name, as upstream sanitises it."""
    label = re.sub(r"[^a-z0-9-]+", "-", (display_name or "").lower()).strip("-.")[:63]
    return label.strip("-") or f"server-{uuid}"


def _view(instance, cell_uuid):
    view = {key: value for key, value in instance.items()
            if key not in ("flavor", "metadata", "system_metadata", "tags")}
    view["cell_uuid"] = cell_uuid
    return view


def _not_found(instance_uuid):
    return exceptions.InstanceNotFound(f"instance {instance_uuid} could not be found")


# --- lifecycle helpers -------------------------------------------------------------

# Image attributes an instance remembers in its system metadata (image_<key>).
_IMAGE_ATTRIBUTES = ("min_ram", "min_disk", "disk_format", "container_format")


def image_system_metadata(image):
    """The image_* system metadata of an instance booted or rebuilt from ``image``."""
    values = {f"image_{key}": str(value)
              for key, value in (image.get("properties") or {}).items() if value is not None}
    for key in _IMAGE_ATTRIBUTES:
        if image.get(key) is not None:
            values[f"image_{key}"] = str(image[key])
    if image.get("id"):
        values["image_base_image_ref"] = image["id"]
    return values


def snapshot_image_values(instance, system_metadata, metadata=None, image_type="snapshot"):
    """glance.create's arguments for a snapshot of ``instance``: the formats
    and minimums of its image, its image properties, ``metadata``, and what
    marks a snapshot (instance_uuid, user_id, image_type, base_image_ref)."""
    image = {key[len("image_"):]: value for key, value in system_metadata.items()
             if key.startswith("image_")}
    properties = {key: value for key, value in image.items()
                  if key not in _IMAGE_ATTRIBUTES and key != "base_image_ref"}
    properties.update(metadata or {})
    properties.update(instance_uuid=instance["uuid"], user_id=instance["user_id"],
                      image_type=image_type, base_image_ref=instance["image_ref"] or "")
    return {"disk_format": image.get("disk_format"),
            "container_format": image.get("container_format"),
            "min_ram": image.get("min_ram") or 0, "min_disk": image.get("min_disk") or 0,
            "properties": properties}
