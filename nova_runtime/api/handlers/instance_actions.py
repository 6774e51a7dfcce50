"""/servers/{server_id}/os-instance-actions: what was done to a server, by whom.

Actions are listed newest first. Their events (one per step: the
conductor's scheduling, the compute's work) are shown to admins with their
tracebacks and, from 2.51, to the other users without; 2.62 adds each
event's host (admins) and hostId.
"""

from nova_runtime.api import errors, server_views, util
from nova_runtime.api.handlers import servers
from nova_runtime.objects import instance_actions
from nova_runtime.policies import instance_actions as policies


def _server_and_actions(req, server_id, rule):
    instance = servers.get_server(req, server_id)
    servers.authorize(req, policies.ROOT % rule, instance)
    cell_uuid = instance.get("cell_uuid")
    if cell_uuid is None:
        return instance, []  # still a build request: nothing recorded yet
    cell = next(cell for cell in req.db.cells(include_cell0=True) if cell.uuid == cell_uuid)
    actions = instance_actions.actions_for(cell.database_connection, server_id)
    return instance, sorted(actions, key=lambda a: (a["start_time"], a["id"]), reverse=True)


def _action_view(req, action):
    body = {"action": action["action"], "instance_uuid": action["instance_uuid"],
            "request_id": action["request_id"], "user_id": action["user_id"],
            "project_id": action["project_id"],
            "start_time": util.timestamp(action["start_time"]),
            "message": action["message"]}
    if req.version >= "2.58":
        body["updated_at"] = util.timestamp(action["updated_at"] or action["created_at"])
    return body


def _event_view(req, instance, event, admin):
    body = {"event": event["event"], "start_time": util.timestamp(event["start_time"]),
            "finish_time": util.timestamp(event["finish_time"]), "result": event["result"]}
    if admin:
        body["traceback"] = event["traceback"]
    if req.version >= "2.62":
        if admin:
            body["host"] = event["host"]
        body["hostId"] = server_views.host_id(instance["project_id"], event["host"])
    if req.version >= "2.84" and req.context.can(
            policies.ROOT % "events:details", target={"project_id": instance["project_id"]},
            fatal=False):
        body["details"] = event.get("details")
    return body


def index(req, server_id):
    _instance, actions = _server_and_actions(req, server_id, "list")
    limit, marker = util.limit_and_marker(req)
    if marker is not None:
        actions = util.page(actions, lambda a: a["request_id"], limit, marker,
                            f"Marker {marker} could not be found.")
    else:
        actions = actions[:limit]
    return util.json_response({"instanceActions": [_action_view(req, a) for a in actions]})


def show(req, server_id, request_id):
    instance, actions = _server_and_actions(req, server_id, "show")
    found = next((a for a in actions if a["request_id"] == request_id), None)
    if found is None:
        raise errors.NotFound(f"Action {request_id} on instance {server_id} could not be "
                              "found.")
    body = _action_view(req, found)
    admin = req.context.can(policies.ROOT % "events",
                            target={"project_id": instance["project_id"]}, fatal=False)
    if admin or req.version >= "2.51":
        body["events"] = [_event_view(req, instance, event, admin)
                          for event in found["events"]]
    return util.json_response({"instanceAction": body})
