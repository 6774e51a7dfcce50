"""The request context: who asks, and the request id that ties log lines together.

It travels with every RPC message (see rpc.RequestContextSerializer), so a line
logged by nova-compute carries the request id of the API call that caused it.
"""

from oslo_context import context


# The catalog entries a service may need on the user's behalf (Glance for
# snapshots); the rest of the token's catalog does not travel over RPC.
CATALOG_TYPES = ("image", "placement", "network")


class RequestContext(context.RequestContext):
    """oslo.context's RequestContext, plus the service catalog of the token.

    A class of our own so that a context coming out of RPC is always this
    type. The user's token (auth_token) and the catalog travel with RPC
    messages: nova-compute uploads a snapshot to Glance as the user who asked
    for it."""

    def __init__(self, *args, service_catalog=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.service_catalog = list(service_catalog or ())

    def to_dict(self):
        values = super().to_dict()
        values["service_catalog"] = [entry for entry in self.service_catalog
                                     if entry.get("type") in CATALOG_TYPES]
        return values

    @classmethod
    def from_dict(cls, values, **kwargs):
        kwargs.setdefault("service_catalog", values.get("service_catalog"))
        return super().from_dict(values, **kwargs)


def get_admin_context():
    """A context for the service's own work (heartbeats, periodic tasks).

    Each call makes a new request id; it is not stored as the thread's current
    context."""
    return RequestContext(is_admin=True, overwrite=False)


def from_dict(values):
    return RequestContext.from_dict(values)
