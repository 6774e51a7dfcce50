"""/os-server-groups: affinity and anti-affinity groups of servers."""

from nova_runtime.api import errors, util, validation
from nova_runtime.objects import quotas
from nova_runtime.objects import instance_groups
from nova_runtime.api.schemas import server_groups as schemas
from nova_runtime.policies import server_groups as policies


def _view(req, group):
    body = {"id": group["uuid"], "name": group["name"], "members": group["members"]}
    if req.version >= "2.64":
        body["policy"] = group["policy"]
        body["rules"] = group["rules"]
    else:
        body["policies"] = [group["policy"]] if group["policy"] else []
        body["metadata"] = {}
    if req.version >= "2.13":
        body["project_id"] = group["project_id"]
        body["user_id"] = group["user_id"]
    return body


def index(req):
    context = req.context
    context.can(policies.ROOT % "index", target={"project_id": context.project_id})
    params = validation.query(req, schemas.INDEX_QUERY)
    project_id = context.project_id
    if "all_projects" in params and validation.to_bool(params["all_projects"] or "true"):
        if context.can(policies.ROOT % "index:all_projects",
                       target={"project_id": project_id}, fatal=False):
            project_id = None
    limit, _ = util.limit_and_marker(req, params)
    groups = instance_groups.list_groups(req.db.api_url, project_id, limit=limit,
                                       offset=int(params.get("offset", 0)))
    return util.json_response({"server_groups": [_view(req, group) for group in groups]})


def show(req, server_group_id):
    group = instance_groups.get(req.db.api_url, server_group_id)
    req.context.can(policies.ROOT % "show", target={"project_id": group["project_id"]})
    return util.json_response({"server_group": _view(req, group)})


def create(req):
    context = req.context
    context.can(policies.ROOT % "create", target={"project_id": context.project_id})
    data = validation.body(req, schemas.create_schema(req.version))["server_group"]
    if req.version >= "2.64":
        policy, rules = data["policy"], data.get("rules") or {}
        if rules and policy != "anti-affinity":
            raise errors.BadRequest("Only anti-affinity policy supports rules.")
        rules = {key: int(value) for key, value in rules.items()}
    else:
        policy, rules = data["policies"][0], {}
    limit = quotas.limit_for(req.db.api_url, req.conf, context.project_id, "server_groups",
                             user_id=context.user_id)
    if limit >= 0 and instance_groups.count(req.db.api_url, context.project_id) >= limit:
        raise errors.QuotaExceeded("Quota exceeded, too many server groups.")
    group = instance_groups.create(req.db.api_url, name=data["name"], project_id=context.project_id,
                                 user_id=context.user_id, policy=policy, rules=rules)
    return util.json_response({"server_group": _view(req, group)})


def delete(req, server_group_id):
    group = instance_groups.get(req.db.api_url, server_group_id)
    req.context.can(policies.ROOT % "delete", target={"project_id": group["project_id"]})
    instance_groups.delete(req.db.api_url, server_group_id)
    return util.empty_response(204)
