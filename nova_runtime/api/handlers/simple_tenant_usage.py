"""/os-simple-tenant-usage: hours, vCPU-hours, MB-hours and GB-hours that each
project's instances ran during a period, from their launched_at and
terminated_at (deleted instances included).

Pages (from 2.40) run over instances, not projects: ``limit`` and ``marker``
(an instance uuid) as upstream, so one project can span pages.
"""

import datetime

from nova_runtime.api import errors, util, validation
from nova_runtime.objects import usages
from nova_runtime.policies import simple_tenant_usage as policies

_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f")
_PAGING = {"limit": {"type": "string"}, "marker": {"type": "string"}}


def _query_schema(req, names):
    properties = {name: {"type": "string"} for name in names}
    if req.version >= "2.40":
        properties.update(_PAGING)
    # Unknown parameters are ignored until 2.75, refused from then on.
    return {"type": "object", "properties": properties,
            "additionalProperties": req.version < "2.75"}


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _parse_time(text):
    if not text:
        return _now()
    for fmt in _TIME_FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise errors.BadRequest("Invalid time format: Datetime is in invalid format")


def _period(req):
    """(start, stop, detailed): stop is never later than now."""
    first = {key: req.GET.getall(key)[0] for key in req.GET.keys()}
    start, stop = _parse_time(first.get("start")), _parse_time(first.get("end"))
    if not start < stop:
        raise errors.BadRequest("Invalid start time. The start time cannot occur "
                                "after the end time.")
    return start, min(stop, _now()), first.get("detailed", "0") == "1"


def hours_for(instance, start, stop):
    """Hours the instance ran within [start, stop]; 0 if it never launched."""
    launched, terminated = instance["launched_at"], instance["terminated_at"]
    if launched is None or launched > stop or (terminated and terminated < start):
        return 0
    end = min(stop, terminated) if terminated else stop
    return (end - max(launched, start)).total_seconds() / 3600.0


def _server_usage(instance, start, stop, now):
    flavor = instance["flavor"] or {}
    # A flavor record lost with an old deleted instance: its own columns still tell.
    sizes = {key: flavor.get(key, instance[key]) or 0
             for key in ("memory_mb", "vcpus", "root_gb", "ephemeral_gb")}
    ended = instance["terminated_at"]
    state = "terminated" if ended else instance["vm_state"]
    uptime = (ended if ended else now) - instance["launched_at"]
    return {
        "instance_id": instance["uuid"], "name": instance["display_name"],
        "tenant_id": instance["project_id"], "flavor": flavor.get("name", ""),
        "hours": hours_for(instance, start, stop),
        "memory_mb": sizes["memory_mb"], "vcpus": sizes["vcpus"],
        "local_gb": sizes["root_gb"] + sizes["ephemeral_gb"],
        "started_at": util.timestamp(instance["launched_at"]),
        "ended_at": util.timestamp(ended), "state": state,
        "uptime": int(uptime.total_seconds()),
    }


def _usages(req, start, stop, detailed, project_id=None):
    """([per-project summary], [server usages of the page], paged)."""
    paged = req.version >= "2.40"
    limit, marker = util.limit_and_marker(req) if paged else (req.conf.api.max_limit, None)
    instances = usages.active_in_window(req.db, start, stop, project_id)
    instances = util.page(instances, lambda instance: instance["uuid"], limit, marker,
                          f"Marker {marker} could not be found.")
    now, summaries, servers = _now(), {}, []
    for instance in instances:
        usage = _server_usage(instance, start, stop, now)
        summary = summaries.get(usage["tenant_id"])
        if summary is None:
            summary = summaries[usage["tenant_id"]] = {
                "tenant_id": usage["tenant_id"], "total_local_gb_usage": 0,
                "total_vcpus_usage": 0, "total_memory_mb_usage": 0, "total_hours": 0,
                "start": util.timestamp(start), "stop": util.timestamp(stop)}
            if detailed:
                summary["server_usages"] = []
        summary["total_local_gb_usage"] += usage["local_gb"] * usage["hours"]
        summary["total_vcpus_usage"] += usage["vcpus"] * usage["hours"]
        summary["total_memory_mb_usage"] += usage["memory_mb"] * usage["hours"]
        summary["total_hours"] += usage["hours"]
        if detailed:
            summary["server_usages"].append(usage)
        servers.append(usage)
    return list(summaries.values()), servers, paged and len(servers) == limit and limit > 0


def index(req):
    """GET /os-simple-tenant-usage: every project's usage (admin)."""
    req.context.can(policies.ROOT % "list", target={})
    validation.query(req, _query_schema(req, ("start", "end", "detailed")))
    start, stop, detailed = _period(req)
    summaries, servers, full = _usages(req, start, stop, detailed)
    body = {"tenant_usages": summaries}
    if full:
        body["tenant_usages_links"] = util.next_link(
            req, "os-simple-tenant-usage", servers[-1]["instance_id"])
    return util.json_response(body)


def show(req, tenant_id):
    """GET /os-simple-tenant-usage/{tenant_id}: one project's usage, per server."""
    req.context.can(policies.ROOT % "show", target={"project_id": tenant_id})
    validation.query(req, _query_schema(req, ("start", "end")))
    start, stop, _detailed = _period(req)
    summaries, servers, full = _usages(req, start, stop, True, project_id=tenant_id)
    body = {"tenant_usage": summaries[0] if summaries else {}}
    if full:
        body["tenant_usage_links"] = util.next_link(
            req, f"os-simple-tenant-usage/{tenant_id}", servers[-1]["instance_id"])
    return util.json_response(body)
