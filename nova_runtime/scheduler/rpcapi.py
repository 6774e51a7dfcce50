"""The client side of nova-scheduler's RPC API (topic 'scheduler').

Version history:

1.0 - ping, select_destinations

The request spec is a dict (see nova_runtime.compute.api, which builds it, and
scheduler.manager.request_spec_from_dict, which reads it). A selection is a
dict: host, nodename, compute_node_uuid, cell_uuid, limits (the
oversubscription limits the compute's claim enforces), weight, and
allocation_request: with Placement, what claims the instance's resources on
that host ({"allocations": {provider uuid: {"resources": {...}}}}), else None.
"""

import oslo_messaging as messaging

from nova_runtime import rpc
from nova_runtime.scheduler.errors import NoValidHost

TOPIC = "scheduler"


class SchedulerAPI(rpc.RPCAPI):
    TOPIC = TOPIC
    VERSION = "1.0"

    def ping(self, context, timeout=None):
        return self._prepare("1.0", timeout=timeout).call(context, "ping")

    def select_destinations(self, context, request_spec, instance_uuids, return_alternates=True):
        """One list per instance of ``instance_uuids``: its selection first,
        then (with return_alternates) up to [scheduler] max_attempts - 1
        alternates in the same cell, best first.

        Raises NoValidHost, whose message is the scheduler's own: the reason,
        then one line per filter (hosts in -> hosts out, which it removed)."""
        try:
            return self._prepare("1.0").call(
                context, "select_destinations", request_spec=request_spec,
                instance_uuids=list(instance_uuids), return_alternates=return_alternates)
        except messaging.RemoteError as exc:
            # nova_runtime.scheduler.errors is not among rpc.ALLOWED_EXMODS
            # (it would import the NumPy scheduler into every client), so the
            # error arrives by name with the remote str() as its value.
            if exc.exc_type == NoValidHost.__name__:
                raise no_valid_host(exc.value) from None
            raise


def no_valid_host(message):
    """NoValidHost rebuilt from its str(): the reason, then the filter lines."""
    reason, *lines = (message or "No valid host was found").split("\n")
    return NoValidHost(reason, [line.strip() for line in lines if line.strip()])
