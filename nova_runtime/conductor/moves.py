"""What the super-conductor needs to move an existing instance to a host the
scheduler picks: for a cold migration or resize (conductor.migrate) and for
an unshelve (conductor.shelve). The run of a move (its cell, its event in
os-instance-actions, what a failure leaves), the request spec, and a
selection in the instance's own cell."""

import copy
import logging
import traceback

from nova_runtime.objects import build_requests, exceptions as record_exc
from nova_runtime.objects import instance_actions, instance_mappings
from nova_runtime.scheduler.errors import NoValidHost

LOG = logging.getLogger(__name__)


def run(context, api_url, instance_uuid, event, verbs, move, failed):
    """``move(cell)`` for the instance, as the conductor's ``event`` of its
    action. ``verbs`` ("migrate", "migrating") name it in the log. An
    instance deleted meanwhile is left alone; any other error is logged,
    finishes the event with Error and goes to ``failed(url, instance_uuid,
    exc)``, which leaves the instance where a user can act on it again."""
    verb, verbing = verbs
    if not api_url:
        LOG.error("Cannot %s instance %s: this nova-conductor has no [api_database] "
                  "connection; moves go to the super-conductor", verb, instance_uuid)
        return
    try:
        cell = instance_mappings.get(api_url, instance_uuid)["cell"]
    except record_exc.InstanceMappingNotFound:
        LOG.info("Not %s instance %s: it was deleted", verbing, instance_uuid)
        return
    url = cell.database_connection
    record_event(context, url, instance_uuid, event, "start")
    try:
        move(cell)
    except record_exc.InstanceNotFound:
        LOG.info("Not %s instance %s: it was deleted", verbing, instance_uuid)
        return
    except Exception as exc:
        LOG.warning("Cannot %s instance %s: %s", verb, instance_uuid,
                    str(exc).replace("\n", "; "))
        record_event(context, url, instance_uuid, event, "finish", "Error",
                     traceback.format_exc())
        failed(url, instance_uuid, exc)
        return
    record_event(context, url, instance_uuid, event, "finish", "Success")


def request_spec(api_url, instance, flavor, host=None, ignore_hosts=()):
    """The instance's request spec (as it was created; a minimal one when
    the API database has none) for one instance of ``flavor``, on ``host``
    when it is given, never on ``ignore_hosts``."""
    try:
        spec = copy.deepcopy(build_requests.get_request_spec(api_url, instance["uuid"]))
    except record_exc.NotFound:
        spec = {"image": {"id": instance["image_ref"], "properties": {}},
                "availability_zone": instance["availability_zone"],
                "instance_group": None, "scheduler_hints": {},
                "project_id": instance["project_id"], "user_id": instance["user_id"]}
    spec.update(flavor=flavor, instance_uuid=instance["uuid"], num_instances=1, retry=None,
                force_nodes=[], force_hosts=[host] if host else [],
                ignore_hosts=list(ignore_hosts))
    return spec


def select_in_cell(clients, context, cell, instance_uuid, spec):
    """The first selection in the instance's cell. The scheduler claimed the
    first of all for the instance: when that one lies in another cell, the
    claim moves to the first in this cell that has room (NoValidHost when
    none has)."""
    [host_list] = clients.scheduler.select_destinations(
        context, spec, [instance_uuid], return_alternates=True)
    in_cell = [selection for selection in host_list if selection["cell_uuid"] == cell.uuid]
    if in_cell and in_cell[0] is host_list[0]:
        return in_cell[0]
    claimed = clients.allocations.claim_alternate(instance_uuid, spec, in_cell)
    if claimed is None:
        raise NoValidHost(f"No valid host was found in cell {cell.name or cell.uuid}, "
                          "the instance's cell (servers do not move between cells)", [])
    return claimed[0]


def record_event(context, url, instance_uuid, event, step, result=None, details=None):
    """Start (``step`` "start") or finish the conductor's ``event`` of the
    request's action; a failure to record is only logged."""
    try:
        if step == "start":
            instance_actions.event_start(url, instance_uuid=instance_uuid,
                                         request_id=context.request_id, event=event)
        else:
            instance_actions.event_finish(url, instance_uuid=instance_uuid,
                                          request_id=context.request_id, event=event,
                                          result=result, traceback=details)
    except record_exc.RecordError as exc:
        LOG.warning("Cannot record event %s of instance %s: %s", event, instance_uuid, exc)
