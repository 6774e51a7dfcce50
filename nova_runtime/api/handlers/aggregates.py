"""/os-aggregates: host aggregates, their hosts and metadata (availability zones)."""

from nova_runtime.api import errors, util, validation
from nova_runtime.objects import services
from nova_runtime.objects import aggregates
from nova_runtime.objects.availability_zones import AZ_KEY
from nova_runtime.api.schemas import aggregates as schemas
from nova_runtime.policies import aggregates as policies


def _view(req, aggregate, full=True):
    body = {
        "id": aggregate["id"],
        "name": aggregate["name"],
        "availability_zone": aggregate["availability_zone"],
        "created_at": util.timestamp(aggregate["created_at"]),
        "updated_at": util.timestamp(aggregate["updated_at"]),
        "deleted": False,
        "deleted_at": None,
    }
    if full:
        body["hosts"] = aggregate["hosts"]
        body["metadata"] = aggregate["metadata"]
    if req.version >= "2.41":
        body["uuid"] = aggregate["uuid"]
    return body


def _aggregate_id(value):
    try:
        return int(value)
    except ValueError:
        raise errors.BadRequest(f"Invalid aggregate ID {value}") from None


def _check_zone_name(req, zone):
    if zone is not None and zone == req.conf.internal_service_availability_zone:
        raise errors.BadRequest(
            f"The availability zone {zone} is reserved for internal services.")


def index(req):
    req.context.can(policies.ROOT % "index", target={})
    found = aggregates.list_aggregates(req.db.api_url)
    return util.json_response({"aggregates": [_view(req, agg) for agg in found]})


def show(req, aggregate_id):
    req.context.can(policies.ROOT % "show", target={})
    aggregate = aggregates.get(req.db.api_url, _aggregate_id(aggregate_id))
    return util.json_response({"aggregate": _view(req, aggregate)})


def create(req):
    req.context.can(policies.ROOT % "create", target={})
    data = validation.body(req, schemas.CREATE)["aggregate"]
    _check_zone_name(req, data.get("availability_zone"))
    aggregate = aggregates.create(req.db.api_url, data["name"], data.get("availability_zone"))
    # Upstream's create answer has neither hosts nor metadata.
    return util.json_response({"aggregate": _view(req, aggregate, full=False)})


def update(req, aggregate_id):
    req.context.can(policies.ROOT % "update", target={})
    data = validation.body(req, schemas.UPDATE)["aggregate"]
    _check_zone_name(req, data.get("availability_zone"))
    aggregate = aggregates.update(
        req.db.api_url, _aggregate_id(aggregate_id), name=data.get("name"),
        availability_zone=data.get("availability_zone"),
        set_zone="availability_zone" in data)
    return util.json_response({"aggregate": _view(req, aggregate)})


def delete(req, aggregate_id):
    req.context.can(policies.ROOT % "delete", target={})
    aggregates.delete(req.db.api_url, _aggregate_id(aggregate_id))
    return util.empty_response(200)


def action(req, aggregate_id):
    number = _aggregate_id(aggregate_id)
    data = validation.json_body(req)
    name = next(iter(data), None) if isinstance(data, dict) and len(data) == 1 else None
    if name == "add_host":
        req.context.can(policies.ROOT % "add_host", target={})
        host = validation.body(req, schemas.ADD_HOST)["add_host"]["host"]
        if host not in services.compute_hosts(req.db):
            raise errors.NotFound(f"Compute host {host} could not be found.")
        aggregate = aggregates.add_host(req.db.api_url, number, host)
    elif name == "remove_host":
        req.context.can(policies.ROOT % "remove_host", target={})
        host = validation.body(req, schemas.REMOVE_HOST)["remove_host"]["host"]
        aggregate = aggregates.remove_host(req.db.api_url, number, host)
    elif name == "set_metadata":
        req.context.can(policies.ROOT % "set_metadata", target={})
        metadata = validation.body(req, schemas.SET_METADATA)["set_metadata"]["metadata"]
        _check_zone_name(req, metadata.get(AZ_KEY))
        aggregate = aggregates.set_metadata(req.db.api_url, number, metadata)
    else:
        raise errors.BadRequest("Invalid request body: expected one of add_host, "
                                "remove_host or set_metadata")
    return util.json_response({"aggregate": _view(req, aggregate)})


def cache_images(req, aggregate_id):
    """2.81: upstream asks every compute of the aggregate to pre-cache images.
    Refused honestly until nova-compute (another slice) can receive the cast."""
    req.context.can(policies.ROOT % "images", target={})
    aggregates.get(req.db.api_url, _aggregate_id(aggregate_id))
    raise errors.NotImplementedYet("Image pre-caching is not implemented yet in nova_runtime.")
