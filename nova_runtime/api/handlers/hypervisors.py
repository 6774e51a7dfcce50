"""/os-hypervisors: compute nodes of every cell, with their service's state.

A hypervisor's uptime (GET /os-hypervisors/{id}/uptime until 2.87, the
``uptime`` of show from 2.88) is the uptime line of its host, which only its
nova-compute can tell: an RPC call (compute RPC API 1.4), made only while the
service is up and waited for at most UPTIME_TIMEOUT seconds.
"""

import json

import oslo_messaging as messaging

from nova_runtime.api import errors, util, validation
from nova_runtime.objects import compute_nodes, services
from nova_runtime.policies import hypervisors as policies

UPTIME_TIMEOUT = 10

QUERY = {
    "type": "object",
    "properties": {
        "limit": {"type": "string", "pattern": r"^[0-9]+$"},
        "marker": {"type": "string"},
        "hypervisor_hostname_pattern": {"type": "string", "minLength": 1, "maxLength": 255},
        "with_servers": {"type": "string"},
    },
    "additionalProperties": True,
}


def _id(req, node):
    return node["uuid"] if req.version >= "2.53" else node["id"]


def _view(req, cell, node, service, detail, with_servers=False):
    up = bool(service) and services.is_up(service, req.conf.service_down_time)
    body = {
        "id": _id(req, node),
        "hypervisor_hostname": node["hypervisor_hostname"],
        "state": "up" if up else "down",
        "status": "disabled" if not service or service["disabled"] else "enabled",
    }
    if detail:
        body.update({
            "hypervisor_type": node["hypervisor_type"],
            "hypervisor_version": node["hypervisor_version"],
            "host_ip": node["host_ip"],
            "service": {
                "host": node["host"],
                "id": (service["uuid"] if req.version >= "2.53" else service["id"])
                if service else None,
                "disabled_reason": service["disabled_reason"] if service else None,
            },
        })
        if req.version < "2.88":
            cpu_info = node["cpu_info"]
            if req.version >= "2.28":
                try:
                    cpu_info = json.loads(cpu_info) if cpu_info else {}
                except ValueError:
                    cpu_info = {}
            body.update({
                "cpu_info": cpu_info,
                "current_workload": node["current_workload"],
                "disk_available_least": node["disk_available_least"],
                "free_disk_gb": node["free_disk_gb"],
                "free_ram_mb": node["free_ram_mb"],
                "local_gb": node["local_gb"],
                "local_gb_used": node["local_gb_used"],
                "memory_mb": node["memory_mb"],
                "memory_mb_used": node["memory_mb_used"],
                "running_vms": node["running_vms"],
                "vcpus": node["vcpus"],
                "vcpus_used": node["vcpus_used"],
            })
    if with_servers:
        servers = compute_nodes.instances_on_node(cell.database_connection, node["host"],
                                             node["hypervisor_hostname"])
        if servers:
            body["servers"] = servers
    return body


def _list(req, detail):
    req.context.can(policies.ROOT % ("list-detail" if detail else "list"), target={})
    params = validation.query(req, QUERY) if req.version >= "2.53" else {}
    nodes = compute_nodes.list_with_services(req.db)
    pattern = params.get("hypervisor_hostname_pattern")
    if pattern:
        nodes = [entry for entry in nodes if pattern in (entry[1]["hypervisor_hostname"] or "")]
        if not nodes:
            raise errors.NotFound(f"No hypervisor matching '{pattern}' could be found.")
    with_servers = validation.to_bool(params.get("with_servers", False))
    paged = req.version >= "2.33"
    if paged:
        if pattern and ("limit" in req.GET or "marker" in req.GET):
            raise errors.BadRequest("Paging over hypervisors with the "
                                    "hypervisor_hostname_pattern query parameter is not "
                                    "supported.")
        limit, marker = util.limit_and_marker(req)
        nodes = util.page(nodes, lambda entry: _id(req, entry[1]), limit, marker,
                          f"marker [{marker}] not found")
    body = {"hypervisors": [_view(req, cell, node, service, detail, with_servers)
                            for cell, node, service in nodes]}
    if paged and nodes and len(nodes) == limit:
        body["hypervisors_links"] = util.next_link(
            req, "os-hypervisors/detail" if detail else "os-hypervisors",
            _id(req, nodes[-1][1]))
    return util.json_response(body)


def index(req):
    return _list(req, detail=False)


def detail(req):
    return _list(req, detail=True)


def _find(req, hypervisor_id):
    """(cell, node, service) of the hypervisor, or 404."""
    for cell, node, service in compute_nodes.list_with_services(req.db):
        if str(_id(req, node)) == hypervisor_id:
            return cell, node, service
    raise errors.NotFound(f"Hypervisor with ID {hypervisor_id} could not be found.")


def _host_uptime(req, cell, node, service):
    """The uptime line of the node's host, from its nova-compute; 400 when
    that service is down or does not answer (upstream's
    ComputeServiceUnavailable)."""
    unavailable = errors.BadRequest(
        f"Compute service of {node['host']} is unavailable at this time.")
    if not service or not services.is_up(service, req.conf.service_down_time):
        raise unavailable
    compute = req.compute_api.computes.get(cell)
    try:
        return compute.get_host_uptime(req.context, node["host"], timeout=UPTIME_TIMEOUT)
    except messaging.MessagingTimeout:
        raise unavailable from None


def show(req, hypervisor_id):
    req.context.can(policies.ROOT % "show", target={})
    params = validation.query(req, QUERY) if req.version >= "2.53" else {}
    cell, node, service = _find(req, hypervisor_id)
    body = _view(req, cell, node, service, True,
                 validation.to_bool(params.get("with_servers", False)))
    if req.version >= "2.88":
        # As upstream: null when the host cannot tell (its service is down).
        try:
            body["uptime"] = _host_uptime(req, cell, node, service)
        except errors.BadRequest:
            body["uptime"] = None
    return util.json_response({"hypervisor": body})


def uptime(req, hypervisor_id):
    """GET /os-hypervisors/{hypervisor_id}/uptime (until 2.87)."""
    req.context.can(policies.ROOT % "uptime", target={})
    cell, node, service = _find(req, hypervisor_id)
    body = _view(req, cell, node, service, False)
    body["uptime"] = _host_uptime(req, cell, node, service)
    return util.json_response({"hypervisor": body})


def statistics(req):
    """Sums over the compute nodes of enabled nova-compute services (until 2.88)."""
    req.context.can(policies.ROOT % "statistics", target={})
    fields = ("vcpus", "vcpus_used", "memory_mb", "memory_mb_used", "local_gb",
              "local_gb_used", "free_ram_mb", "free_disk_gb", "current_workload",
              "running_vms", "disk_available_least")
    totals = dict.fromkeys(fields, 0)
    count = 0
    for _cell, node, service in compute_nodes.list_with_services(req.db):
        if not service or service["disabled"]:
            continue
        count += 1
        for field in fields:
            totals[field] += node[field] or 0
    return util.json_response({"hypervisor_statistics": {"count": count, **totals}})


def _matching(req, pattern):
    """(cell, node, service) of the nodes whose hostname contains ``pattern``
    and whose service still exists (404 when there is none)."""
    found = [(cell, node, service)
             for cell, node, service in compute_nodes.list_with_services(req.db)
             if pattern in (node["hypervisor_hostname"] or "")]
    if not found:
        raise errors.NotFound(f"No hypervisor matching '{pattern}' could be found.")
    # A node left behind by a deleted service is not shown, as upstream.
    return [entry for entry in found if entry[2] is not None]


def search(req, hypervisor_hostname_pattern):
    """GET /os-hypervisors/{pattern}/search (until 2.52; later a query parameter)."""
    req.context.can(policies.ROOT % "search", target={})
    return util.json_response({"hypervisors": [
        _view(req, cell, node, service, False)
        for cell, node, service in _matching(req, hypervisor_hostname_pattern)]})


def servers(req, hypervisor_hostname_pattern):
    """GET /os-hypervisors/{pattern}/servers (until 2.52): the matching
    hypervisors with their servers (the key left out where there is none)."""
    req.context.can(policies.ROOT % "servers", target={})
    return util.json_response({"hypervisors": [
        _view(req, cell, node, service, False, with_servers=True)
        for cell, node, service in _matching(req, hypervisor_hostname_pattern)]})
