"""/flavors, /flavors/{id}/os-extra_specs and flavor access."""

from nova_runtime.api import errors, extra_specs as spec_checks, util, validation
from nova_runtime.objects import flavors
from nova_runtime.api.schemas import flavors as schemas
from nova_runtime.policies import flavor_access as access_policies
from nova_runtime.policies import flavor_extra_specs as spec_policies
from nova_runtime.policies import flavor_manage as manage_policies


def _view(req, flavor, detail=True):
    version = req.version
    body = {"id": flavor["flavorid"], "name": flavor["name"]}
    if detail:
        swap = flavor["swap"] or 0
        body.update({
            "ram": flavor["memory_mb"],
            "disk": flavor["root_gb"],
            # Before 2.75 an unset swap is "", as upstream always showed it.
            "swap": swap if (swap or version >= "2.75") else "",
            "OS-FLV-EXT-DATA:ephemeral": flavor["ephemeral_gb"],
            "OS-FLV-DISABLED:disabled": bool(flavor["disabled"]),
            "vcpus": flavor["vcpus"],
            "os-flavor-access:is_public": bool(flavor["is_public"]),
            "rxtx_factor": flavor["rxtx_factor"],
        })
    body["links"] = util.links(req, "flavors", flavor["flavorid"])
    if version >= "2.55":
        body["description"] = flavor["description"]
    if detail and version >= "2.61" and "extra_specs" in flavor:
        body["extra_specs"] = flavor["extra_specs"]
    return body


def _may_see_specs(req):
    return req.version >= "2.61" and req.context.can(
        spec_policies.ROOT % "index", target={"project_id": req.context.project_id},
        fatal=False)


def _visible_to(req):
    """Admins see every flavor; others public ones and those shared with them."""
    return None if req.context.is_admin else req.context.project_id


def _is_public_filter(req, value):
    if not req.context.is_admin:
        return True
    if value is None:
        return True  # upstream's default: only public flavors
    if value.lower() == "none":
        return None
    return validation.to_bool(value)


def _list(req, detail):
    params = validation.query(req, schemas.INDEX_QUERY)
    sort_key = params.get("sort_key", "flavorid")
    if sort_key not in flavors.SORT_KEYS:
        raise errors.BadRequest(f"Invalid sort_key {sort_key}")
    limit, marker = util.limit_and_marker(req, params)
    rows = flavors.list_flavors(
        req.db.api_url, visible_to=_visible_to(req),
        is_public=_is_public_filter(req, params.get("is_public")),
        min_memory_mb=int(params["minRam"]) if "minRam" in params else None,
        min_root_gb=int(params["minDisk"]) if "minDisk" in params else None,
        sort_key=sort_key, sort_dir=params.get("sort_dir", "asc"),
        with_specs=detail and _may_see_specs(req))
    rows = util.page(rows, lambda f: f["flavorid"], limit, marker,
                     f"marker [{marker}] not found")
    body = {"flavors": [_view(req, flavor, detail) for flavor in rows]}
    if len(rows) == limit and rows:
        body["flavors_links"] = util.next_link(
            req, "flavors/detail" if detail else "flavors", rows[-1]["flavorid"])
    return util.json_response(body)


def index(req):
    return _list(req, detail=False)


def detail(req):
    return _list(req, detail=True)


def show(req, flavor_id):
    flavor = flavors.get(req.db.api_url, flavor_id, visible_to=_visible_to(req),
                         with_specs=_may_see_specs(req))
    return util.json_response({"flavor": _view(req, flavor)})


def create(req):
    req.context.can(manage_policies.ROOT % "create", target={})
    schema = schemas.CREATE_V255 if req.version >= "2.55" else schemas.CREATE
    data = validation.body(req, schema)["flavor"]
    is_public = validation.to_bool(data.get("os-flavor-access:is_public", True))
    flavor = flavors.create(
        req.db.api_url, name=data["name"], flavorid=data.get("id"),
        memory_mb=int(data["ram"]), vcpus=int(data["vcpus"]), root_gb=int(data["disk"]),
        ephemeral_gb=int(data.get("OS-FLV-EXT-DATA:ephemeral", 0)),
        swap=int(data.get("swap", 0)), rxtx_factor=float(data.get("rxtx_factor", 1.0)),
        is_public=is_public, description=data.get("description"))
    if not _may_see_specs(req):
        flavor.pop("extra_specs", None)
    return util.json_response({"flavor": _view(req, flavor)})


def update(req, flavor_id):
    req.context.can(manage_policies.ROOT % "update", target={})
    data = validation.body(req, schemas.UPDATE_V255)["flavor"]
    flavor = flavors.update_description(req.db.api_url, flavor_id, data["description"])
    if not _may_see_specs(req):
        flavor.pop("extra_specs", None)
    return util.json_response({"flavor": _view(req, flavor)})


def delete(req, flavor_id):
    req.context.can(manage_policies.ROOT % "delete", target={})
    flavors.delete(req.db.api_url, flavor_id)
    return util.empty_response(202)


# --- extra specs ----------------------------------------------------------------

def _spec_value(value):
    if isinstance(value, bool):
        return str(value)
    return str(value) if isinstance(value, (int, float)) else value.strip()


def _check_specs(req, specs):
    if req.version >= "2.86":
        for key, value in specs.items():
            spec_checks.validate(key, value)


def list_extra_specs(req, flavor_id):
    req.context.can(spec_policies.ROOT % "index",
                    target={"project_id": req.context.project_id})
    specs = flavors.extra_specs(req.db.api_url, flavor_id, visible_to=_visible_to(req))
    return util.json_response({"extra_specs": specs})


def create_extra_specs(req, flavor_id):
    req.context.can(spec_policies.ROOT % "create", target={})
    data = validation.body(req, schemas.EXTRA_SPECS_CREATE)["extra_specs"]
    specs = {key: _spec_value(value) for key, value in data.items()}
    _check_specs(req, specs)
    flavors.set_extra_specs(req.db.api_url, flavor_id, specs)
    return util.json_response({"extra_specs": specs})


def show_extra_spec(req, flavor_id, key):
    req.context.can(spec_policies.ROOT % "show",
                    target={"project_id": req.context.project_id})
    specs = flavors.extra_specs(req.db.api_url, flavor_id, visible_to=_visible_to(req))
    if key not in specs:
        raise errors.NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
    return util.json_response({key: specs[key]})


def update_extra_spec(req, flavor_id, key):
    req.context.can(spec_policies.ROOT % "update", target={})
    data = validation.body(req, schemas.EXTRA_SPEC_UPDATE)
    if key not in data:
        raise errors.BadRequest("Request body and URI mismatch")
    specs = {key: _spec_value(data[key])}
    _check_specs(req, specs)
    flavors.set_extra_specs(req.db.api_url, flavor_id, specs)
    return util.json_response(specs)


def delete_extra_spec(req, flavor_id, key):
    req.context.can(spec_policies.ROOT % "delete", target={})
    flavors.delete_extra_spec(req.db.api_url, flavor_id, key)
    return util.empty_response(200)


# --- access ---------------------------------------------------------------------

def _access_body(flavor_id, projects):
    return {"flavor_access": [{"flavor_id": flavor_id, "tenant_id": project}
                              for project in projects]}


def list_access(req, flavor_id):
    req.context.can(access_policies.BASE, target={})
    access = flavors.access_list(req.db.api_url, flavor_id)
    return util.json_response(_access_body(flavor_id, access))


def action(req, flavor_id):
    data = validation.json_body(req)
    if isinstance(data, dict) and "addTenantAccess" in data:
        req.context.can(access_policies.ROOT % "add_tenant_access", target={})
        project = validation.body(req, schemas.ADD_TENANT_ACCESS)["addTenantAccess"]["tenant"]
        projects = flavors.add_access(req.db.api_url, flavor_id, project,
                                      public_is_conflict=req.version >= "2.7")
    elif isinstance(data, dict) and "removeTenantAccess" in data:
        req.context.can(access_policies.ROOT % "remove_tenant_access", target={})
        project = validation.body(
            req, schemas.REMOVE_TENANT_ACCESS)["removeTenantAccess"]["tenant"]
        projects = flavors.remove_access(req.db.api_url, flavor_id, project)
    else:
        raise errors.BadRequest("There is no such action: "
                                f"{', '.join(data) if isinstance(data, dict) else data}")
    return util.json_response(_access_body(flavor_id, projects))
