"""POST /os-server-external-events: events that other services (Neutron,
Cinder, Ironic, Cyborg) send about servers.

Each event is answered on its own, as upstream does: 200 "completed" when
its server is on a host, 404 for a server no cell has, 422 for one on no
host yet, 400 for an event that needs a tag and has none; any failure makes
the whole answer 207. The event names accepted grow with the microversion.

This deployment runs none of the services that send these events (its
network is nova's own flat network, without Neutron; no volumes, no bare
metal, no accelerators), so its computes have nothing to do on them: an
accepted event is logged, not forwarded.
"""

import logging

from nova_runtime.api import util, validation
from nova_runtime.api.schemas import server_external_events as schemas
from nova_runtime.objects import exceptions
from nova_runtime.policies import server_external_events as policies

LOG = logging.getLogger(__name__)


def _host_of(req, server_uuid, known):
    """The server's host ("" when it has none), or None when no cell has it."""
    if server_uuid not in known:
        try:
            instance = req.compute_api.get(req.context, server_uuid)
        except exceptions.InstanceNotFound:
            instance = None
        # A server still being scheduled is in no cell: unknown, as upstream.
        known[server_uuid] = (instance.get("host") or "") \
            if instance and instance.get("cell_uuid") else None
    return known[server_uuid]


def create(req):
    req.context.can(policies.ROOT % "create", target={})
    events = validation.body(req, schemas.create(req.version))["events"]
    answers, status, known = [], 200, {}
    for event in events:
        answer = dict(event, status=event.get("status", "completed"))
        host = _host_of(req, event["server_uuid"], known)
        if host is None:
            answer.update(status="failed", code=404)
        elif event["name"] in schemas.TAG_REQUIRED and "tag" not in event:
            answer.update(status="failed", code=400)
        elif host:
            answer.update(status="completed", code=200)
            LOG.info("Event %s:%s for instance %s on %s accepted", event["name"],
                     event.get("tag"), event["server_uuid"], host)
        else:
            answer.update(status="failed", code=422)
        status = status if answer["code"] == 200 else 207
        answers.append(answer)
    return util.json_response({"events": answers}, status=status)
