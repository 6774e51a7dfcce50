"""The API side of console requests: find the server, check that it can have
a console, and ask its compute for a token (compute RPC get_vnc_console).

Errors say what the API answers: ServerNotFound (404), ServerNotReady (409),
ConsoleUnavailable (400); the RPC layer's own errors (timeouts) pass through.
"""

import dataclasses

from nova_runtime import cells, rpc
from nova_runtime.compute import rpcapi as compute_rpcapi
from nova_runtime.states import task_states, vm_states
from nova_runtime.objects import exceptions as record_exc
from nova_runtime.objects import instance_mappings, instances
from nova_runtime.virt import exceptions as virt_exc

# Task states during which the instance's VNC server is going away: deleted,
# or powered off on its host to copy its disks (upstream refuses deleting and
# migrating).
_REFUSED_TASK_STATES = (task_states.DELETING, task_states.RESIZE_MIGRATING,
                        task_states.RESIZE_MIGRATED)


class ConsoleError(Exception):
    pass


class ServerNotFound(ConsoleError):
    pass


class ServerNotReady(ConsoleError):
    pass


class ConsoleUnavailable(ConsoleError):
    pass


@dataclasses.dataclass(frozen=True)
class Server:
    """A server that lives in a cell: its cell mapping and instance record."""

    cell: object
    instance: dict

    @property
    def project_id(self):
        return self.instance["project_id"]


def find_server(api_url, instance_uuid):
    """The Server ``instance_uuid`` names. Raises ServerNotFound, or
    ServerNotReady while it is still being scheduled (it has no cell yet)."""
    try:
        mapping = instance_mappings.get(api_url, instance_uuid)
    except record_exc.InstanceMappingNotFound:
        raise _not_found(instance_uuid) from None
    if mapping["queued_for_delete"]:
        raise _not_found(instance_uuid)
    cell = mapping["cell"]
    if cell is None:
        raise ServerNotReady(f"Instance {instance_uuid} is not ready yet.")
    try:
        instance = instances.get_by_uuid(cell.database_connection, instance_uuid)
    except record_exc.InstanceNotFound:
        raise _not_found(instance_uuid) from None
    return Server(cell, instance)


def get_vnc_console(conf, context, server, console_type):
    """{"access_url", "expires"} of a new token for the server's VNC console.
    The server must be ACTIVE on a host (409 otherwise)."""
    instance = server.instance
    uuid = instance["uuid"]
    if server.cell.uuid == cells.CELL0_UUID or not instance["host"]:
        raise ServerNotReady(f"Instance {uuid} is not on a host, it has no console.")
    if instance["vm_state"] != vm_states.ACTIVE:
        raise ServerNotReady(
            f"Cannot 'get_vnc_console' instance {uuid} while it is in vm_state "
            f"{instance['vm_state']}")
    if instance["task_state"] in _REFUSED_TASK_STATES:
        raise ServerNotReady(
            f"Cannot 'get_vnc_console' instance {uuid} while it is in task_state "
            f"{instance['task_state']}")
    compute = compute_rpcapi.ComputeAPI(rpc.get_cell_transport(conf, server.cell))
    try:
        return compute.get_vnc_console(context, instance, console_type)
    except rpc.ServiceTooOld as exc:
        raise ConsoleUnavailable(f"Unavailable console type {console_type}: {exc}") from None
    except virt_exc.NotSupported as exc:
        raise ConsoleUnavailable(f"Unavailable console type {console_type}: {exc}") from None
    except virt_exc.InstanceNotFound:
        raise ServerNotReady(
            f"Instance {uuid} is not running on its hypervisor (host {instance['host']}).") \
            from None


def _not_found(instance_uuid):
    return ServerNotFound(f"Instance {instance_uuid} could not be found.")
