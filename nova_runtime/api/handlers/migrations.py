"""/os-migrations (every move of every cell) and
/servers/{server_id}/migrations (a server's in-progress live migrations).

Fields follow the microversion: migration_type and live migrations' links
from 2.23; uuid, changes-since and paging (newest first, marker a
migration uuid) from 2.59; changes-before from 2.66; user_id and
project_id (fields and filters) from 2.80. Hosts are shown only to whom
policy ``index:host`` allows.
"""

from oslo_utils import timeutils

from nova_runtime.api import errors, util, validation
from nova_runtime.api.handlers import servers
from nova_runtime.objects import migrations as records
from nova_runtime.policies import migrations as policies

LIVE_IN_PROGRESS = ("queued", "preparing", "running", "post-migrating")
_HOST_FIELDS = ("source_compute", "source_node", "dest_compute", "dest_host", "dest_node")
_FILTERS = ("hidden", "host", "instance_uuid", "source_compute", "status", "migration_type")


def _query_schema(version):
    properties = {name: {"type": "string"} for name in _FILTERS}
    if version < "2.59":
        return {"type": "object", "properties": properties, "additionalProperties": True}
    properties.update({"limit": {"type": "string", "pattern": "^[0-9]+$"},
                       "marker": {"type": "string"},
                       "changes-since": {"type": "string", "format": "date-time"}})
    if version >= "2.66":
        properties["changes-before"] = {"type": "string", "format": "date-time"}
    if version >= "2.80":
        properties.update({"user_id": {"type": "string"}, "project_id": {"type": "string"}})
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _time(value):
    parsed = timeutils.parse_isotime(value)
    return timeutils.normalize_time(parsed) if parsed.tzinfo else parsed


def _filters(req, params):
    filters = {key: params[key] for key in _FILTERS if key in params}
    if "hidden" in filters:
        filters["hidden"] = validation.to_bool(filters["hidden"])
    if req.version >= "2.80":
        filters.update({key: params[key] for key in ("user_id", "project_id") if key in params})
    # Before 2.59 (2.66) the time filters are ignored, as upstream drops them.
    if req.version >= "2.59" and "changes-since" in params:
        filters["changes_since"] = _time(params["changes-since"])
    if req.version >= "2.66" and "changes-before" in params:
        filters["changes_before"] = _time(params["changes-before"])
        if filters.get("changes_since") and filters["changes_before"] < filters["changes_since"]:
            raise errors.BadRequest("The value of changes-since must be less than or "
                                    "equal to changes-before.")
    return filters


def _view(req, migration, show_hosts):
    body = {key: migration[key] for key in (
        "id", "instance_uuid", "status", "old_instance_type_id", "new_instance_type_id",
        *_HOST_FIELDS)}
    body["created_at"] = util.timestamp(migration["created_at"])
    body["updated_at"] = util.timestamp(migration["updated_at"])
    if not show_hosts:
        body.update(dict.fromkeys(_HOST_FIELDS))
    if req.version >= "2.23":
        body["migration_type"] = migration["migration_type"]
        if (migration["migration_type"] == "live-migration"
                and migration["status"] in LIVE_IN_PROGRESS):
            body["links"] = util.links(
                req, f"servers/{migration['instance_uuid']}/migrations", migration["id"])
    if req.version >= "2.59":
        body["uuid"] = migration["uuid"]
    if req.version >= "2.80":
        body["user_id"], body["project_id"] = migration["user_id"], migration["project_id"]
    return body


def index(req):
    """GET /os-migrations."""
    context = req.context
    context.can(policies.ROOT % "index", target={"project_id": context.project_id})
    params = validation.query(req, _query_schema(req.version))
    project_id = params.get("project_id") if req.version >= "2.80" else None
    if not project_id or project_id != context.project_id:
        context.can(policies.ROOT % "index:all_projects", target={})
    show_hosts = context.can(policies.ROOT % "index:host", target={}, fatal=False)
    found = [m for m in records.list_all(req.db, _filters(req, params)) if not m["hidden"]]
    body = {}
    if req.version >= "2.59":
        limit, marker = util.limit_and_marker(req, params)
        found = util.page(found, lambda m: m["uuid"], limit, marker,
                          f"Marker {marker} could not be found.")
        if found and len(found) == limit:
            body["migrations_links"] = util.next_link(req, "os-migrations", found[-1]["uuid"])
    return util.json_response({"migrations": [_view(req, m, show_hosts) for m in found],
                               **body})


def _server_view(req, migration, show_hosts):
    body = {key: migration[key] for key in ("id", "status", *_HOST_FIELDS)}
    body.update({
        "server_uuid": migration["instance_uuid"],
        "created_at": util.timestamp(migration["created_at"]),
        "updated_at": util.timestamp(migration["updated_at"]),
        # No progress is recorded for a live migration here.
        **dict.fromkeys(("memory_total_bytes", "memory_processed_bytes",
                         "memory_remaining_bytes", "disk_total_bytes",
                         "disk_processed_bytes", "disk_remaining_bytes")),
    })
    if not show_hosts:
        body.update(dict.fromkeys(_HOST_FIELDS))
    if req.version >= "2.59":
        body["uuid"] = migration["uuid"]
    if req.version >= "2.80":
        body["user_id"], body["project_id"] = migration["user_id"], migration["project_id"]
    return body


def _live_in_progress(req, server_id, rule):
    instance = servers.get_server(req, server_id)
    servers.authorize(req, policies.SERVER_ROOT % rule, instance)
    show_hosts = req.context.can(policies.SERVER_ROOT % "index:host",
                                 target={"project_id": instance["project_id"]}, fatal=False)
    found = records.list_all(req.db, {"instance_uuid": server_id,
                                      "migration_type": "live-migration",
                                      "status": LIVE_IN_PROGRESS})
    return found, show_hosts


def server_index(req, server_id):
    """GET /servers/{server_id}/migrations (2.23): its live migrations in progress."""
    found, show_hosts = _live_in_progress(req, server_id, "index")
    return util.json_response({"migrations": [_server_view(req, m, show_hosts)
                                              for m in found]})


def server_show(req, server_id, migration_id):
    found, show_hosts = _live_in_progress(req, server_id, "show")
    for migration in found:
        if str(migration["id"]) == migration_id:
            return util.json_response({"migration": _server_view(req, migration, show_hosts)})
    raise errors.NotFound(f"In-progress live migration {migration_id} is not found for "
                          f"server {server_id}.")
