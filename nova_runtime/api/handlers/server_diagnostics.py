"""GET /servers/{server_id}/diagnostics: what the server's virt driver
measures of it, asked of its nova-compute (compute RPC API 1.6).

Before 2.48 the body is the driver's own flat dict of counters; from 2.48
the standard form (virt.diagnostics). A server on no host is 409 (not
ready), one the hypervisor does not have 404, a driver without
diagnostics 501, as upstream answers.
"""

from nova_runtime import cells, rpc
from nova_runtime.api import errors, util
from nova_runtime.api.handlers import servers
from nova_runtime.policies import server_diagnostics as policies
from nova_runtime.virt import exceptions as virt_exc


def index(req, server_id):
    instance = servers.get_server(req, server_id)
    # As upstream: a non-admin is refused (403) even for a server of its own.
    req.context.can(policies.ROOT, target={"project_id": instance["project_id"]})
    if not instance.get("host") or instance.get("cell_uuid") in (None, cells.CELL0_UUID):
        raise errors.Conflict(f"Instance {server_id} is not ready")
    compute = req.compute_api.computes.get(req.db.cell_by_uuid(instance["cell_uuid"]))
    try:
        if req.version >= "2.48":
            return util.json_response(compute.get_instance_diagnostics(req.context, instance))
        return util.json_response(compute.get_diagnostics(req.context, instance))
    except virt_exc.InstanceNotFound:
        raise errors.NotFound(f"Instance {server_id} could not be found.") from None
    except virt_exc.InstanceInvalidState as exc:
        raise errors.Conflict(str(exc)) from None
    except (virt_exc.NotSupported, rpc.ServiceTooOld):
        raise errors.NotImplementedYet("The requested functionality is not supported.") \
            from None
