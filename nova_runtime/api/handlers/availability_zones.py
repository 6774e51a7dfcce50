"""/os-availability-zone: zones of the enabled services, with hosts for admins."""

from nova_runtime.api import util
from nova_runtime.objects import services
from nova_runtime.objects import availability_zones
from nova_runtime.policies import availability_zone as policies


def _zones(req):
    """(available {zone: [service]}, unavailable [zone]) in name order.
    A zone is available when an enabled service is in it."""
    found, _ = services.list_in_cells(req.db)
    zones = availability_zones.host_zones(req.db.api_url)
    available, disabled = {}, set()
    for _, service in found:
        zone = availability_zones.zone_of(req.conf, service, zones)
        if service["disabled"]:
            disabled.add(zone)
        else:
            available.setdefault(zone, []).append(service)
    unavailable = sorted(disabled - set(available))
    return dict(sorted(available.items())), unavailable


def index(req):
    req.context.can(policies.ROOT % "list", target={})
    available, unavailable = _zones(req)
    internal = req.conf.internal_service_availability_zone
    body = [{"zoneName": zone, "zoneState": {"available": True}, "hosts": None}
            for zone in available if zone != internal]
    body += [{"zoneName": zone, "zoneState": {"available": False}, "hosts": None}
             for zone in unavailable if zone != internal]
    return util.json_response({"availabilityZoneInfo": body})


def detail(req):
    req.context.can(policies.ROOT % "detail", target={})
    available, unavailable = _zones(req)
    down_time = req.conf.service_down_time
    body = []
    for zone, members in available.items():
        hosts = {}
        for service in members:
            hosts.setdefault(service["host"], {})[service["binary"]] = {
                "available": services.is_up(service, down_time),
                "active": not service["disabled"],
                "updated_at": util.timestamp(service["updated_at"]),
            }
        body.append({"zoneName": zone, "zoneState": {"available": True}, "hosts": hosts})
    body += [{"zoneName": zone, "zoneState": {"available": False}, "hosts": None}
             for zone in unavailable]
    return util.json_response({"availabilityZoneInfo": body})
