"""The request context: who asks, and the request id that ties log lines together.

It travels with every RPC message (see rpc.RequestContextSerializer), so a line
logged by nova-compute carries the request id of the API call that caused it.
"""

from oslo_context import context


class RequestContext(context.RequestContext):
    """oslo.context's RequestContext.

    A class of our own so that a context coming out of RPC is always this
    type, and so that later fields (service catalog, read_deleted, ...) have a
    home."""


def get_admin_context():
    """A context for the service's own work (heartbeats, periodic tasks).

    Each call makes a new request id; it is not stored as the thread's current
    context."""
    return RequestContext(is_admin=True, overwrite=False)


def from_dict(values):
    return RequestContext.from_dict(values)
