"""/os-services: the services of every cell, enable/disable, force down, delete."""

import sqlalchemy as sa

from nova_runtime.api import errors, util, validation
from nova_runtime.objects import services
from nova_runtime.objects import availability_zones
from nova_runtime.api.schemas import services as schemas
from nova_runtime.db.api import models as api_models
from nova_runtime.policies import services as policies


def _view(req, service, zones):
    body = {
        "id": service["uuid"] if req.version >= "2.53" else service["id"],
        "binary": service["binary"],
        "host": service["host"],
        "zone": availability_zones.zone_of(req.conf, service, zones),
        "status": "disabled" if service["disabled"] else "enabled",
        "state": "up" if services.is_up(service, req.conf.service_down_time) else "down",
        "updated_at": util.timestamp(service["updated_at"]),
        "disabled_reason": service["disabled_reason"],
    }
    if req.version >= "2.11":
        body["forced_down"] = bool(service["forced_down"])
    return body


def _down_cell_records(req, down_cells, binary, host):
    """From 2.69 the computes of an unreachable cell are listed as UNKNOWN,
    known from the host mappings; before, or when operators prefer, skipped."""
    if not down_cells:
        return []
    if req.version < "2.69":
        if req.conf.api.list_records_by_skipping_down_cells:
            return []
        raise errors.APIError("Cells did not answer: "
                              + ", ".join(down.cell.uuid for down in down_cells))
    if binary not in (None, "nova-compute"):
        return []
    records = []
    with req.db.api() as session:
        for down in down_cells:
            query = sa.select(api_models.HostMapping.host).filter_by(cell_id=down.cell.id)
            if host:
                query = query.filter_by(host=host)
            records += [{"binary": "nova-compute", "host": name, "status": "UNKNOWN"}
                        for name in session.scalars(query.order_by(api_models.HostMapping.host))]
    return records


def index(req):
    req.context.can(policies.ROOT % "list", target={})
    params = validation.query(req, schemas.QUERY)
    found, down = services.list_in_cells(req.db, params.get("binary"), params.get("host"))
    zones = availability_zones.host_zones(req.db.api_url)
    body = [_view(req, service, zones) for _, service in found]
    body += _down_cell_records(req, down, params.get("binary"), params.get("host"))
    return util.json_response({"services": body})


def update(req, service_id):
    req.context.can(policies.ROOT % "update", target={})
    if req.version >= "2.53":
        return _update_v253(req, validation.check_uuid(service_id))
    actions = {"enable": _enable, "disable": _disable,
               "disable-log-reason": _disable_log_reason}
    if req.version >= "2.11":
        actions["force-down"] = _force_down
    if service_id not in actions:
        raise errors.NotFound("Unknown action")
    return actions[service_id](req)


def _find_compute(req, data):
    cell, service = services.find_in_cells(req.db, host=data["host"], binary=data["binary"])
    return cell, service


def _enable(req):
    data = validation.body(req, schemas.ENABLE_DISABLE)
    cell, service = _find_compute(req, data)
    services.update(cell.database_connection, service["id"],
                    {"disabled": False, "disabled_reason": None})
    return util.json_response({"service": {"host": data["host"], "binary": data["binary"],
                                           "status": "enabled"}})


def _disable(req):
    data = validation.body(req, schemas.ENABLE_DISABLE)
    cell, service = _find_compute(req, data)
    services.update(cell.database_connection, service["id"], {"disabled": True})
    return util.json_response({"service": {"host": data["host"], "binary": data["binary"],
                                           "status": "disabled"}})


def _disable_log_reason(req):
    data = validation.body(req, schemas.DISABLE_LOG_REASON)
    cell, service = _find_compute(req, data)
    services.update(cell.database_connection, service["id"],
                    {"disabled": True, "disabled_reason": data["disabled_reason"]})
    return util.json_response({"service": {
        "host": data["host"], "binary": data["binary"], "status": "disabled",
        "disabled_reason": data["disabled_reason"]}})


def _force_down(req):
    data = validation.body(req, schemas.FORCE_DOWN)
    forced = validation.to_bool(data["forced_down"])
    cell, service = _find_compute(req, data)
    services.update(cell.database_connection, service["id"], {"forced_down": forced})
    return util.json_response({"service": {"host": data["host"], "binary": data["binary"],
                                           "forced_down": forced}})


def _update_v253(req, service_uuid):
    data = validation.body(req, schemas.UPDATE_V253)
    if "status" not in data and "forced_down" not in data:
        raise errors.BadRequest(
            "At least one of 'status' or 'forced_down' must be specified in the request body.")
    if data.get("disabled_reason") and data.get("status") != "disabled":
        raise errors.BadRequest(
            "Specifying 'disabled_reason' with status 'enabled' is invalid."
            if data.get("status") == "enabled" else
            "'disabled_reason' can only be specified with status 'disabled'.")
    cell, service = services.find_in_cells(req.db, uuid=service_uuid)
    if service["binary"] != "nova-compute":
        raise errors.BadRequest(
            f"Updating a {service['binary']} service is not supported. Only nova-compute "
            "services can be updated.")
    values = {}
    if "status" in data:
        values["disabled"] = data["status"] == "disabled"
        values["disabled_reason"] = data.get("disabled_reason") if values["disabled"] else None
    if "forced_down" in data:
        values["forced_down"] = validation.to_bool(data["forced_down"])
    service = services.update(cell.database_connection, service["id"], values)
    zones = availability_zones.host_zones(req.db.api_url)
    return util.json_response({"service": _view(req, service, zones)})


def delete(req, service_id):
    req.context.can(policies.ROOT % "delete", target={})
    if req.version >= "2.53":
        cell, service = services.find_in_cells(req.db, uuid=validation.check_uuid(service_id))
    else:
        try:
            number = int(service_id)
        except ValueError:
            raise errors.BadRequest(f"Invalid ID {service_id}") from None
        cell, service = services.find_in_cells(req.db, service_id=number)
    if service["binary"] == "nova-compute" and services.count_instances_on(
            cell.database_connection, service["host"]):
        raise errors.Conflict(
            "Unable to delete compute service that is hosting instances. Migrate or "
            "delete the instances first.")
    services.delete(req.db, cell, service)
    return util.empty_response(204)
