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

import re
import uuid as uuidlib

from nova_runtime import cells, rpc, service
from nova_runtime.compute import power_state, rpcapi as compute_rpcapi
from nova_runtime.compute import task_states, vm_states
from nova_runtime.conductor import rpcapi as conductor_rpcapi
from nova_runtime.db.base import utcnow
from nova_runtime.objects import build_requests, exceptions, instance_actions
from nova_runtime.objects import instance_groups, instance_mappings, instances, services

# The flavor fields kept with the instance (instance_extra) and in the request spec.
FLAVOR_FIELDS = ("id", "flavorid", "name", "memory_mb", "vcpus", "root_gb", "ephemeral_gb",
                 "swap", "rxtx_factor", "vcpu_weight", "is_public", "disabled", "description",
                 "extra_specs")


class ComputeAPIError(Exception):
    pass


class InvalidRequest(ComputeAPIError):
    """The request cannot be served as asked (400)."""


class InstanceInvalidState(ComputeAPIError):
    """The server's state does not allow the action (409)."""


class API:
    def __init__(self, conf, api_url=None):
        self.conf = conf
        self.api_url = api_url or conf.api_database.connection
        self._conductor = None
        self._computes = {}  # transport URL -> compute_rpcapi.ComputeAPI

    # --- create ------------------------------------------------------------------

    def create_servers(self, context, flavor, image, count=1, *, name=None,
                       description=None, availability_zone=None, group=None,
                       scheduler_hints=None, key_name=None, key_data=None, user_data=None,
                       metadata=None, admin_password=None, requested_networks=None,
                       access_ip_v4=None, access_ip_v6=None, config_drive=None):
        """Accept ``count`` servers of ``flavor`` (a flavor dict with
        extra_specs, as nova_runtime.api.objects.flavors.get(with_specs=True)
        returns it) booting ``image`` (the image's metadata: id, properties,
        ...). Returns their instance dicts (vm_state building, task_state
        scheduling, cell_uuid None), in launch order; they share a
        reservation_id.

        availability_zone: "zone", or "zone:host" / "zone:host:node" to force
        a host (an admin's request; the handler checks the policy); default
        [DEFAULT] default_schedule_zone. group: a server group uuid (also read
        from scheduler_hints["group"]); the new servers become its members.
        admin_password is handed to the compute and never stored."""
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
        mapping = self._mapping(instance_uuid)
        if mapping["cell"] is None:
            try:
                request = build_requests.get(self.api_url, instance_uuid)
            except exceptions.BuildRequestNotFound:
                mapping = self._mapping(instance_uuid)  # it reached a cell meanwhile
                if mapping["cell"] is None:
                    raise _not_found(instance_uuid) from None
            else:
                return _view(dict(request["instance"], created_at=request["created_at"]), None)
        cell = mapping["cell"]
        instance = instances.get_by_uuid(cell.database_connection, instance_uuid)
        return _view(instance, cell.uuid)

    # --- delete, stop, start ---------------------------------------------------------

    def delete(self, context, instance_uuid):
        """Delete the server. A build request is simply dropped (the
        conductor then drops what it placed); an instance without a host (in
        cell0, or whose build failed) or whose compute service is down is
        deleted in its cell's database at once (upstream's "local delete");
        otherwise its compute destroys it (task_state deleting until it is
        gone)."""
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
        if instance["task_state"] == task_states.DELETING:
            return
        self._record_action(context, url, instance_uuid, "delete")
        if (cell.uuid == cells.CELL0_UUID or not instance["host"]
                or not self._compute_up(url, instance["host"])):
            instances.destroy(url, instance_uuid, {
                "vm_state": vm_states.DELETED, "task_state": None, "terminated_at": utcnow()})
        else:
            instance = self._set_task_state(url, instance, task_states.DELETING,
                                            task_states.DELETABLE)
            self.compute_api(cell).terminate_instance(context, instance)
        instance_mappings.queue_for_delete(self.api_url, instance_uuid)

    def stop(self, context, instance_uuid, clean_shutdown=True):
        """Power off an active server (vm_state active or error, on a host)."""
        cell, instance = self._on_host(instance_uuid, "stop",
                                       (vm_states.ACTIVE, vm_states.ERROR))
        url = cell.database_connection
        instance = self._set_task_state(url, instance, task_states.POWERING_OFF, [None])
        self._record_action(context, url, instance_uuid, "stop")
        self.compute_api(cell).stop_instance(context, instance, clean_shutdown=clean_shutdown)

    def start(self, context, instance_uuid):
        """Power on a stopped server."""
        cell, instance = self._on_host(instance_uuid, "start", (vm_states.STOPPED,))
        url = cell.database_connection
        instance = self._set_task_state(url, instance, task_states.POWERING_ON, [None])
        self._record_action(context, url, instance_uuid, "start")
        self.compute_api(cell).start_instance(context, instance)

    # --- helpers ------------------------------------------------------------------

    @property
    def conductor(self):
        """The super-conductor, on [DEFAULT] transport_url."""
        if self._conductor is None:
            self._conductor = conductor_rpcapi.ConductorAPI(rpc.get_transport(self.conf))
        return self._conductor

    def compute_api(self, cell):
        if cell.transport_url not in self._computes:
            self._computes[cell.transport_url] = compute_rpcapi.ComputeAPI(
                rpc.get_cell_transport(self.conf, cell))
        return self._computes[cell.transport_url]

    def _compute_up(self, db_url, host):
        try:
            record = services.get_by_host_and_binary(db_url, host, "nova-compute")
        except exceptions.ServiceNotFound:
            return False
        return service.is_up(record, self.conf.service_down_time)

    def _mapping(self, instance_uuid):
        try:
            return instance_mappings.get(self.api_url, instance_uuid)
        except exceptions.InstanceMappingNotFound:
            raise _not_found(instance_uuid) from None

    def _on_host(self, instance_uuid, action, vm_states_allowed):
        mapping = self._mapping(instance_uuid)
        cell = mapping["cell"]
        if cell is None or cell.uuid == cells.CELL0_UUID or mapping["queued_for_delete"]:
            raise InstanceInvalidState(
                f"Cannot '{action}' instance {instance_uuid} while it is not on a host")
        instance = instances.get_by_uuid(cell.database_connection, instance_uuid)
        if instance["vm_state"] not in vm_states_allowed or not instance["host"]:
            raise InstanceInvalidState(
                f"Cannot '{action}' instance {instance_uuid} while it is in vm_state "
                f"{instance['vm_state']}")
        return cell, instance

    @staticmethod
    def _set_task_state(url, instance, task_state, expected):
        try:
            return instances.update(url, instance["uuid"], {"task_state": task_state},
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
            if key not in ("flavor", "metadata", "system_metadata")}
    view["cell_uuid"] = cell_uuid
    return view


def _not_found(instance_uuid):
    return exceptions.InstanceNotFound(f"instance {instance_uuid} could not be found")
