"""/os-quota-sets/{tenant_id}: a project's (or one of its users') limits."""

from nova_runtime.api import util, validation
from nova_runtime.objects import quotas
from nova_runtime.api.schemas import quota_sets as schemas
from nova_runtime.policies import quota_sets as policies


def _shown(req, values, project_id=None):
    names = quotas.resources_for(req.version)
    body = {name: values[name] for name in names}
    if project_id is not None:
        body["id"] = project_id
    return body


def _user_id(req):
    return validation.query(req, schemas.QUERY).get("user_id")


def show(req, tenant_id):
    req.context.can(policies.ROOT % "show", target={"project_id": tenant_id})
    values = quotas.limits(req.db.api_url, req.conf, tenant_id, _user_id(req), quotas.ALL_RESOURCES)
    return util.json_response({"quota_set": _shown(req, values, tenant_id)})


def detail(req, tenant_id):
    req.context.can(policies.ROOT % "detail", target={"project_id": tenant_id})
    user_id = _user_id(req)
    values = quotas.limits(req.db.api_url, req.conf, tenant_id, user_id, quotas.ALL_RESOURCES)
    in_use = quotas.usage(req.db, tenant_id, user_id)
    body = {name: {"limit": values[name], "in_use": in_use.get(name, 0), "reserved": 0}
            for name in quotas.resources_for(req.version)}
    body["id"] = tenant_id
    return util.json_response({"quota_set": body})


def defaults(req, tenant_id):
    req.context.can(policies.ROOT % "defaults", target={"project_id": tenant_id})
    values = quotas.defaults(req.db.api_url, req.conf)
    return util.json_response({"quota_set": _shown(req, values, tenant_id)})


def update(req, tenant_id):
    req.context.can(policies.ROOT % "update", target={"project_id": tenant_id})
    data = validation.body(req, schemas.update_schema(req.version))["quota_set"]
    force = validation.to_bool(data.pop("force", False))
    new_limits = {name: int(value) for name, value in data.items()}
    values = quotas.update(req.db, req.conf, tenant_id, new_limits,
                           user_id=_user_id(req), force=force)
    return util.json_response({"quota_set": _shown(req, values)})


def delete(req, tenant_id):
    req.context.can(policies.ROOT % "delete", target={"project_id": tenant_id})
    quotas.revert(req.db.api_url, tenant_id, _user_id(req))
    return util.empty_response(202)
