"""/servers: create, list (with filters, sort and paging), show, update, delete.

The compute API (nova_runtime.compute.api, ``req.compute_api``) does the
work; handlers check the request — schema, policy, flavor, image (looked up
in Glance with the caller's token), key pair, quotas — and build the views
(nova_runtime/api/server_views.py). Listing reads build requests and cells in
bulk (nova_runtime/api/server_listing.py).

Networking: there is no Neutron. ``networks`` is accepted as upstream
requires it from 2.37 ("auto", "none", or a list); every server gets its
fixed address from the flat network that nova.conf defines, whatever it
asks, and ports (``port``) or security groups other than "default" are
refused with 400, since only Neutron provides them.
"""

import ipaddress
import secrets
import string

import orjson
import sqlalchemy as sa
import webob
from oslo_utils import timeutils

from nova_runtime.api import errors, server_views, util, validation
from nova_runtime.objects import quotas
from nova_runtime.objects import flavors, keypairs
from nova_runtime.api import server_listing
from nova_runtime.api.schemas import servers as schemas
from nova_runtime.compute import api as compute_api
from nova_runtime.db.api import models as api_models
from nova_runtime.image import glance
from nova_runtime.objects import exceptions, instance_groups, instances
from nova_runtime.policies import flavor_extra_specs as spec_policies
from nova_runtime.policies import servers as policies

SERVERS = policies.SERVERS
PASSWORD_LENGTH = 12
# Filters every user may use, and those only admins may (upstream's lists;
# since 2.83 these are open to everyone as well).
_USER_FILTERS = ("reservation_id", "name", "status", "image", "flavor", "ip", "changes-since",
                 "changes-before", "ip6", "tags", "tags-any", "not-tags", "not-tags-any",
                 "all_tenants", "limit", "marker", "sort_key", "sort_dir")
_V283_FILTERS = ("availability_zone", "config_drive", "key_name", "created_at", "launched_at",
                 "terminated_at", "power_state", "task_state", "vm_state", "progress",
                 "user_id")
_LOCKED_FILTER = ("locked",)  # 2.73
# Query parameter -> objects.instances.query filter, for the plain equality ones.
_EQUAL = {"reservation_id": "reservation_id", "availability_zone": "availability_zone",
          "key_name": "key_name", "vm_state": "vm_state", "task_state": "task_state",
          "host": "host", "node": "node", "hostname": "hostname", "uuid": "uuid",
          "user_id": "user_id", "project_id": "project_id", "tenant_id": "project_id",
          "access_ip_v4": "access_ip_v4", "access_ip_v6": "access_ip_v6"}
_ADMIN_SORT_KEYS = ("host", "node")
# The quotas a create request is checked against.
_CREATE_QUOTAS = dict(quotas.SERVER_RESOURCES,
                      metadata_items=quotas.CONFIGURED["metadata_items"])


# --- reading --------------------------------------------------------------------

def get_server(req, server_id):
    """The instance dict of ``server_id`` if the caller may see it (404 otherwise)."""
    return _get_server(req, server_id)[0]


def _get_server(req, server_id):
    """get_server's instance and its build request's whole instance (None
    once it is in a cell): compute_api.get_with_build_request."""
    try:
        return req.compute_api.get_with_build_request(req.context, server_id)
    except exceptions.InstanceNotFound:
        raise errors.NotFound(f"Instance {server_id} could not be found.") from None


def authorize(req, action, instance):
    """Policy ``action`` on the server's project; also 404 rather than 403
    for a server of another project, so that its existence does not leak."""
    context = req.context
    if instance["project_id"] != context.project_id and not context.is_admin:
        raise errors.NotFound(f"Instance {instance['uuid']} could not be found.")
    context.can(action, target={"project_id": instance["project_id"],
                                "user_id": instance["user_id"]})


def server_view(req, server_groups=None, action=None):
    """The ServerView of this request: what its microversion and the
    caller's rights (policy) show (``action``: see ServerView)."""
    context = req.context
    target = {"project_id": context.project_id}
    admin_attributes = context.can("os_compute_api:os-extended-server-attributes",
                                   target=target, fatal=False)
    host_status = req.version >= "2.16" and context.can(
        SERVERS % "show:host_status", target=target, fatal=False)
    extra_specs = req.version >= "2.47" and context.can(
        SERVERS % "show:flavor-extra-specs", target=target, fatal=False) and context.can(
        spec_policies.ROOT % "index", target=target, fatal=False)
    return server_views.ServerView(req, admin_attributes=admin_attributes,
                                   show_extra_specs=extra_specs, host_status=host_status,
                                   server_groups=server_groups, action=action)


def view(req, instances, *, server_groups=None, shown=None, build_requests=None):
    """Full views of ``instances`` (a page), with what the microversion shows
    (``shown``: the request's server_view, if made already; ``build_requests``:
    the build requests' instances read already, by uuid)."""
    shown = shown or server_view(req, server_groups)
    details = server_listing.details(
        req.db, instances, request_specs=shown.pinned_zone or shown.hints,
        image_properties=shown.image_properties, with_tags=shown.tags,
        system_keys=shown.system_keys,
        service_down_time=req.conf.service_down_time if shown.host_status else None,
        build_requests=build_requests)
    return [shown.show(instance, details[instance["uuid"]]) for instance in instances]


def _member_groups(req, server_id):
    """The uuids of the server groups the server belongs to (2.71)."""
    with req.db.api() as session:
        return list(session.scalars(
            sa.select(api_models.InstanceGroup.uuid)
            .join(api_models.InstanceGroupMember,
                  api_models.InstanceGroupMember.group_id == api_models.InstanceGroup.id)
            .where(api_models.InstanceGroupMember.instance_uuid == server_id)))


def show(req, server_id):
    instance, building = _get_server(req, server_id)
    authorize(req, SERVERS % "show", instance)
    groups = _member_groups(req, server_id) if req.version >= "2.71" else None
    known = {instance["uuid"]: building} if building is not None else None
    [body] = view(req, [instance], server_groups=groups, build_requests=known)
    return util.json_response({"server": body})


def index(req):
    return _list(req, detail=False)


def detail(req):
    return _list(req, detail=True)


def _list(req, detail):
    context = req.context
    action = "detail" if detail else "index"
    context.can(SERVERS % action, target={"project_id": context.project_id})
    params = validation.query(req, schemas.LIST_QUERY)
    all_tenants = "all_tenants" in params and (
        params["all_tenants"] == "" or validation.to_bool(params["all_tenants"]))
    if all_tenants:
        context.can(SERVERS % f"{action}:get_all_tenants",
                    target={"project_id": context.project_id})
    filters = _filters(req, params, all_tenants)
    sort_keys, sort_dirs = _sort(req)
    limit, marker = util.limit_and_marker(req, params)
    shown = server_view(req) if detail else None
    if filters is None:
        found = []  # a filter that no server can match (an unknown status, flavor, ...)
    else:
        found = server_listing.list_servers(
            req.db, filters, sort_keys, sort_dirs, limit, marker,
            columns=shown.columns if detail else server_views.SUMMARY_COLUMNS)
    if detail:
        body = {"servers": view(req, found, shown=shown)}
    else:
        body = {"servers": [server_views.summary(req, instance) for instance in found]}
    if found and len(found) == limit:
        body["servers_links"] = util.next_link(
            req, "servers/detail" if detail else "servers", found[-1]["uuid"])
    return _page_response(body)


def _page_response(body):
    """util.json_response for a page of servers, encoded with orjson: a page
    of /servers/detail is megabytes of JSON (max_limit servers), which the
    standard library's encoder takes ten times longer to write."""
    response = webob.Response(status=200, content_type="application/json", charset="UTF-8")
    response.body = orjson.dumps(body)
    return response


def _allowed_filters(req):
    """The query parameters the caller may filter by: admins (the
    allow_all_filters rule) every one, others upstream's list for their
    microversion. Others are ignored, as upstream ignores them."""
    if req.context.can(SERVERS % "allow_all_filters",
                       target={"project_id": req.context.project_id}, fatal=False):
        return None
    allowed = set(_USER_FILTERS)
    if req.version >= "2.83":
        allowed.update(_V283_FILTERS)
    if req.version >= "2.73":
        allowed.update(_LOCKED_FILTER)
    return allowed


def _filters(req, params, all_tenants):
    """objects.instances.query's filters, or None when nothing can match."""
    allowed = _allowed_filters(req)
    params = {key: value for key, value in params.items()
              if allowed is None or key in allowed}
    filters = {}
    for key, name in _EQUAL.items():
        if key in params:
            filters[name] = params[key]
    if not all_tenants or "project_id" not in filters:
        filters.pop("project_id", None)
        if not all_tenants:
            filters["project_id"] = req.context.project_id
    if "name" in params:
        filters["name"] = params["name"]
    if "status" in params:
        vm_states, task_states = server_views.states_of(req.GET.getall("status"))
        if not vm_states:
            return None
        filters["vm_state"] = vm_states
        if task_states is not None:
            filters["task_state"] = task_states
        if "DELETED" in {s.upper() for s in req.GET.getall("status")}:
            filters["deleted"] = True
    if "deleted" in params:
        filters["deleted"] = validation.to_bool(params["deleted"])
    for key, name in (("changes-since", "changes_since"), ("changes-before", "changes_before")):
        if key in params:
            filters[name] = _timestamp(key, params[key])
    if "image" in params:
        filters["image_ref"] = params["image"].rsplit("/", 1)[-1]
    if "flavor" in params:
        try:
            flavor = flavors.get(req.db.api_url, params["flavor"].rsplit("/", 1)[-1])
        except exceptions.NotFound:
            return None
        filters["instance_type_id"] = flavor["id"]
    for key in ("locked", "config_drive"):
        if key in params:
            value = validation.to_bool(params[key])
            filters[key] = value if key == "locked" else ("True" if value else ["", None])
    for key in ("power_state", "progress"):
        if key in params:
            filters[key] = int(params[key])
    if req.version >= "2.26":  # comma-separated tags (objects.tags.filter_clause)
        for key in ("tags", "tags-any", "not-tags", "not-tags-any"):
            if key in params:
                filters[key.replace("-", "_")] = params[key].split(",")
    if "ip" in params:
        uuids = set()
        for cell in req.db.cells(include_cell0=False):
            try:
                uuids |= instances.uuids_with_address(cell.database_connection, params["ip"])
            except sa.exc.OperationalError as exc:
                refused = server_listing.regexp_error(exc)
                if not refused:
                    raise
                raise errors.BadRequest(f"Invalid input for query parameters ip. Value: "
                                        f"{params['ip']}. {refused}") from None
        filters["uuids_in"] = uuids
    return filters


def _timestamp(name, value):
    try:
        parsed = timeutils.parse_isotime(value)
    except ValueError:
        raise errors.BadRequest(f"Invalid filter field: {name}. Value: {value}") from None
    return timeutils.normalize_time(parsed) if parsed.tzinfo else parsed


def _sort(req):
    keys = req.GET.getall("sort_key") or ["created_at"]
    dirs = req.GET.getall("sort_dir") or []
    admin = req.context.is_admin
    for key in keys:
        if key not in instances.SORT_KEYS:
            raise errors.BadRequest(f"Invalid sort_key {key}")
        if key in _ADMIN_SORT_KEYS and not admin:
            raise errors.Forbidden(f"Only administrators can sort servers by {key}")
    if dirs and len(dirs) != len(keys) and len(dirs) != 1:
        raise errors.BadRequest("The number of sort_key and sort_dir values must match")
    for direction in dirs:
        if direction not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid sort_dir {direction}")
    if not dirs:
        dirs = ["desc"] * len(keys)
    elif len(dirs) == 1:
        dirs = dirs * len(keys)
    return keys, dirs


# --- create ---------------------------------------------------------------------

def create(req):
    context = req.context
    context.can(SERVERS % "create", target={"project_id": context.project_id,
                                            "user_id": context.user_id})
    body = validation.body(req, schemas.create_schema(req.version))
    data = body["server"]
    hints = dict(body.get("os:scheduler_hints") or body.get("OS-SCH-HNT:scheduler_hints") or {})
    min_count = int(data.get("min_count", 1))
    max_count = int(data.get("max_count", min_count))
    if min_count > max_count:
        raise errors.BadRequest("min_count must be <= max_count")
    _check_networks(data.get("networks"), max_count)
    _check_security_groups(data.get("security_groups"))
    image_ref = _root_image(data.get("imageRef"), data.get("block_device_mapping_v2") or [])
    flavor = _flavor(req, data["flavorRef"])
    image = _image(req, image_ref, flavor)
    zone = data.get("availability_zone")
    if zone and ":" in zone:
        context.can(SERVERS % "create:forced_host", target={"project_id": context.project_id})
    metadata = data.get("metadata") or {}
    # The limits this request is checked against (metadata items, instances, cores,
    # ram; the project's and the user's), read once.
    project_limits, user_limits = quotas.owner_limits(
        req.db.api_url, req.conf, context.project_id, context.user_id, _CREATE_QUOTAS)
    _check_metadata_quota(req, metadata, limit=user_limits["metadata_items"])
    key_name, key_data = _keypair(req, data.get("key_name"))
    count = quotas.allowed_servers(req.db, context.project_id, context.user_id, flavor,
                                   min_count, max_count, (project_limits, user_limits))
    group = hints.get("group")
    if group:
        _check_group_quota(req, group, count)
    password = data.get("adminPass") or _password()
    created = req.compute_api.create_servers(
        context, flavor, image, count, name=data["name"],
        description=data.get("description"), availability_zone=zone,
        group=group, scheduler_hints=hints, key_name=key_name, key_data=key_data,
        user_data=data.get("user_data"), metadata=metadata, admin_password=password,
        requested_networks=data.get("networks"), **access_ips(data),
        config_drive=validation.to_bool(data["config_drive"]) if "config_drive" in data
        else None, hostname=data.get("hostname"), tags=data.get("tags"))
    if validation.to_bool(data.get("return_reservation_id", False)):
        return util.json_response({"reservation_id": created[0]["reservation_id"]}, status=202)
    server = created[0]
    links = util.links(req, "servers", server["uuid"])
    shown = {"id": server["uuid"], "links": links, "OS-DCF:diskConfig": "MANUAL",
             "security_groups": [{"name": "default"}], "adminPass": password}
    response = util.json_response({"server": shown}, status=202)
    response.headers["Location"] = links[0]["href"]
    return response


def access_ips(data):
    """{access_ip_v4, access_ip_v6} columns for the accessIPv4/accessIPv6 a
    body gives (the schema checked their format), in canonical form as
    upstream stores them: '0000:0000:0000:0000:0000:babe:220.12.22.2' is
    '::babe:dc0c:1602', which also always fits the 39-character column."""
    return {column: str(ipaddress.ip_address(data[key]))
            for key, column in (("accessIPv4", "access_ip_v4"), ("accessIPv6", "access_ip_v6"))
            if key in data}


def _flavor(req, flavor_ref):
    flavorid = str(flavor_ref).rsplit("/", 1)[-1]
    visible_to = None if req.context.is_admin else req.context.project_id
    try:
        flavor = flavors.get(req.db.api_url, flavorid, visible_to=visible_to, with_specs=True)
    except exceptions.NotFound:
        raise errors.BadRequest(f"Invalid flavorRef provided: flavor {flavorid} could not "
                                "be found.") from None
    if flavor.get("disabled"):
        raise errors.BadRequest(f"Invalid flavorRef provided: flavor {flavorid} is disabled.")
    return flavor


def active_image(req, image_ref):
    """The active Glance image that ``image_ref`` (an id or a URL ending in
    one) names, for a boot or a rebuild (400 naming imageRef otherwise)."""
    image_id = image_ref.rsplit("/", 1)[-1]
    if not validation.is_uuid(image_id):
        raise errors.BadRequest(f"Invalid imageRef provided: {image_ref} is not an image id.")
    try:
        image = glance.show(req.context, image_id, req.conf)
    except glance.ImageNotFound:
        raise errors.BadRequest(f"Invalid imageRef provided: image {image_id} could not be "
                                "found.") from None
    if image.get("status") != "active":
        raise errors.BadRequest(f"Invalid imageRef provided: image {image_id} is not active.")
    return image


def _image(req, image_ref, flavor):
    """The Glance image to boot, checked against the flavor (400 naming imageRef)."""
    if not image_ref:
        raise errors.BadRequest("Missing imageRef attribute: a server boots from an image "
                                "(volumes need Cinder, which this deployment does not run).")
    image = active_image(req, image_ref)
    if int(image.get("min_ram") or 0) > flavor["memory_mb"]:
        raise errors.BadRequest("Flavor's memory is too small for requested image.")
    if flavor["root_gb"] == 0:
        req.context.can(SERVERS % "create:zero_disk_flavor",
                        target={"project_id": req.context.project_id})
    elif int(image.get("min_disk") or 0) > flavor["root_gb"]:
        raise errors.BadRequest("Flavor's disk is too small for requested image.")
    elif max(image.get("size") or 0, image.get("virtual_size") or 0) > \
            flavor["root_gb"] * 1024 ** 3:
        raise errors.BadRequest("Flavor's disk is too small for requested image.")
    return image


def _root_image(image_ref, block_devices):
    """The image to boot: imageRef, or the image of the image-to-local root
    disk mapping that clients may send along. Any other block device
    mapping needs Cinder: 400 naming the field."""
    for device in block_devices:
        kind = (device.get("source_type"), device.get("destination_type", "local"))
        if kind != ("image", "local") or str(device.get("boot_index", 0)) != "0":
            raise errors.BadRequest(
                "Invalid input for field/attribute block_device_mapping_v2: only the image "
                "root disk is supported (volumes, snapshots and blank disks need Cinder, "
                "which this deployment does not run).")
        if image_ref and device.get("uuid") != image_ref.rsplit("/", 1)[-1]:
            raise errors.BadRequest(
                "Invalid input for field/attribute block_device_mapping_v2: the root disk's "
                "image differs from imageRef.")
        image_ref = image_ref or device.get("uuid")
    return image_ref


def _check_networks(networks, max_count):
    if not isinstance(networks, list):
        return  # None, "auto" or "none"
    for network in networks:
        if network.get("port"):
            raise errors.BadRequest(
                "Invalid input for field/attribute networks: ports need Neutron, which this "
                "deployment does not run; addresses come from the flat network.")
        if network.get("fixed_ip") and max_count > 1:
            raise errors.BadRequest("multiple instances cannot share one fixed_ip")


def _check_security_groups(groups):
    for group in groups or []:
        if group.get("name") != "default":
            raise errors.BadRequest(
                f"Invalid input for field/attribute security_groups: security group "
                f"{group.get('name')} does not exist (without Neutron there is only "
                "'default').")


def _check_metadata_quota(req, metadata, limit=None):
    """QuotaExceeded when ``metadata`` has more items than the caller's
    metadata_items limit (``limit``, when the caller read it already)."""
    if limit is None:
        limit = quotas.limit_for(req.db.api_url, req.conf, req.context.project_id,
                                 "metadata_items", user_id=req.context.user_id)
    if limit >= 0 and len(metadata) > limit:
        raise errors.QuotaExceeded(f"Quota exceeded for metadata_items: Requested "
                                   f"{len(metadata)}, but the limit is {limit}.")


def _check_group_quota(req, group_uuid, count):
    limit = quotas.limit_for(req.db.api_url, req.conf, req.context.project_id,
                             "server_group_members", user_id=req.context.user_id)
    if limit < 0:
        return
    try:
        members = len(instance_groups.get(req.compute_api.api_url, group_uuid)["members"])
    except (exceptions.InstanceGroupNotFound, KeyError):
        return  # the compute API says 400 for an unknown group
    if members + count > limit:
        raise errors.QuotaExceeded("Quota exceeded, too many servers in group")


def _keypair(req, key_name):
    if not key_name:
        return None, None
    try:
        keypair = keypairs.get(req.db.api_url, req.context.user_id, key_name)
    except exceptions.NotFound:
        raise errors.BadRequest(f"Invalid key_name provided: {key_name}.") from None
    return keypair["name"], keypair["public_key"]


def _password():
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(PASSWORD_LENGTH))


# --- update, delete ---------------------------------------------------------------

def update(req, server_id):
    instance = get_server(req, server_id)
    authorize(req, SERVERS % "update", instance)
    data = validation.body(req, schemas.update_schema(req.version))["server"]
    names = {"name": "display_name", "description": "display_description",
             "hostname": "hostname"}
    values = {column: data[key] for key, column in names.items() if key in data}
    values.update(access_ips(data))
    if "name" in data and req.version < "2.90":
        # Before 2.90 the hostname follows the name, as upstream sets it.
        values["hostname"] = compute_api.hostname(data["name"], server_id)
    if values:
        instance = req.compute_api.update(req.context, server_id, values)
    groups = _member_groups(req, server_id) if req.version >= "2.71" else None
    shown = server_view(req, groups, action="update")
    [body] = view(req, [instance], shown=shown)
    return util.json_response({"server": body})


def delete(req, server_id):
    instance = get_server(req, server_id)
    authorize(req, SERVERS % "delete", instance)
    req.compute_api.delete(req.context, server_id)
    return util.empty_response(204)

