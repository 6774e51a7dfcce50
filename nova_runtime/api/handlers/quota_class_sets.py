"""/os-quota-class-sets/{id}: the limits of a quota class. The class
'default' holds the deployment's defaults, over [quota] in nova.conf: what
every project gets unless it has a limit of its own."""

from nova_runtime.api import errors, util, validation
from nova_runtime.objects import quotas
from nova_runtime.api.schemas import quota_class_sets as schemas
from nova_runtime.policies import quota_class_sets as policies


def _shown(req, values):
    return {name: values[name] for name in quotas.class_resources(req.version)}


def show(req, quota_class):
    req.context.can(policies.ROOT % "show", target={})
    body = _shown(req, quotas.class_limits(req.db.api_url, req.conf, quota_class))
    return util.json_response({"quota_class_set": {"id": quota_class, **body}})


def update(req, quota_class):
    req.context.can(policies.ROOT % "update", target={})
    if len(quota_class) > 255:
        raise errors.BadRequest("quota_class_name has more than 255 characters.")
    data = validation.body(req, schemas.update_schema(req.version))["quota_class_set"]
    values = quotas.update_class(req.db.api_url, req.conf, quota_class,
                                 {name: int(value) for name, value in data.items()})
    # As upstream: the answer has no "id".
    return util.json_response({"quota_class_set": _shown(req, values)})
