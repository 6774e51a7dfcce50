"""The os-getConsoleOutput server action: the end of a server's console log.

The log is the guest's serial console as its virt driver keeps it (libvirt:
console.log in the instance directory; the fake driver: what its guest did).
The server's nova-compute reads it and cuts the last ``length`` lines
(compute RPC API 1.5).

As upstream: any vm_state will do (a stopped server still has its log) as
long as the server is on a host, else 409; 404 when the hypervisor no longer
has it; 501 when the driver keeps no console log. Control characters other
than tab and newline are removed from the output, as upstream does.
"""

import re

from nova_runtime import cells, rpc
from nova_runtime.api import errors, util, validation
from nova_runtime.api.schemas import console_output as schemas
from nova_runtime.virt import exceptions as virt_exc

_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f]")


def tail_length(length):
    """The number of lines to keep, None for all: upstream documents -1 (and
    null) as unlimited; its compute would drop the first line for -1."""
    if length is None or int(length) < 0:
        return None
    return int(length)


def get_console_output(req, server_id, instance, body):
    """POST /servers/{server_id}/action {"os-getConsoleOutput": {"length": N}}:
    {"output": "..."}. The policy was checked by the actions handler."""
    length = validation.body(req, schemas.GET_CONSOLE_OUTPUT)["os-getConsoleOutput"].get(
        "length")
    if not instance.get("host") or instance.get("cell_uuid") in (None, cells.CELL0_UUID):
        raise errors.Conflict(f"Instance {server_id} is not ready")
    compute = req.compute_api.computes.get(req.db.cell_by_uuid(instance["cell_uuid"]))
    try:
        output = compute.get_console_output(req.context, instance, tail_length(length))
    except virt_exc.InstanceNotFound:
        raise errors.NotFound(f"Instance {server_id} could not be found.") from None
    except (virt_exc.NotSupported, rpc.ServiceTooOld):
        raise errors.NotImplementedYet("The requested functionality is not supported.") \
            from None
    return util.json_response({"output": _CONTROL_CHARACTERS.sub("", output)})
