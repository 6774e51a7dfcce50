"""/os-hosts (below microversion 2.43): hosts and their resources.

The list is every enabled service but the API's, with its host, its topic
(compute, conductor, scheduler, ...) and its availability zone. A host's
detail is its compute node's totals ("(total)"), what the resource tracker
counts as used ("(used_now)"), the sum of the flavors of the instances on
it ("(used_max)"), then one row per project with instances there.

Enabling, maintenance mode and power actions were the hypervisor driver's
work upstream, and no driver here can do them (nor could upstream's libvirt
driver): once the host is known they answer 501; an unknown host is 404.
"""

import sqlalchemy as sa

from nova_runtime.api import errors, util, validation
from nova_runtime.objects import services
from nova_runtime.objects import availability_zones
from nova_runtime.api.schemas import hosts as schemas
from nova_runtime.db.main import models
from nova_runtime.policies import hosts as policies


def index(req):
    req.context.can(policies.POLICY_NAME % "list", target={})
    zone = validation.query(req, schemas.INDEX_QUERY).get("zone")
    found, _ = services.list_in_cells(req.db)
    zones = availability_zones.host_zones(req.db.api_url)
    hosts = []
    for _, service in found:
        if service["disabled"]:
            continue
        service_zone = availability_zones.zone_of(req.conf, service, zones)
        # A blank zone is no filter, as upstream.
        if zone and service_zone != zone:
            continue
        hosts.append({"host_name": service["host"], "service": service["topic"],
                      "zone": service_zone})
    return util.json_response({"hosts": hosts})


def _compute_cell(req, host_name):
    """The cell of the nova-compute on ``host_name``; 404 when there is none."""
    cell, _ = services.find_in_cells(req.db, host=host_name, binary="nova-compute")
    return cell


def _row(host_name, project, cpu, memory_mb, disk_gb):
    return {"resource": {"host": host_name, "project": project, "cpu": cpu,
                         "memory_mb": memory_mb, "disk_gb": disk_gb}}


def show(req, host_name):
    req.context.can(policies.POLICY_NAME % "show", target={})
    cell = _compute_cell(req, host_name)
    with req.db.cell(cell) as session:
        # Hosts with several nodes (ironic upstream) show their first one.
        node = session.scalar(sa.select(models.ComputeNode)
                              .filter_by(host=host_name, deleted=0)
                              .order_by(models.ComputeNode.id))
        if node is None:
            raise errors.NotFound(f"Compute host {host_name} could not be found.")
        instances = session.execute(
            sa.select(models.Instance.project_id, models.Instance.vcpus,
                      models.Instance.memory_mb, models.Instance.root_gb,
                      models.Instance.ephemeral_gb)
            .filter_by(host=host_name, deleted=0)).all()
    rows = [_row(host_name, "(total)", node.vcpus, node.memory_mb, node.local_gb),
            _row(host_name, "(used_now)", node.vcpus_used, node.memory_mb_used,
                 node.local_gb_used)]
    per_project = {}
    for project_id, vcpus, memory_mb, root_gb, ephemeral_gb in instances:
        used = per_project.setdefault(project_id, [0, 0, 0])
        used[0] += vcpus or 0
        used[1] += memory_mb or 0
        used[2] += (root_gb or 0) + (ephemeral_gb or 0)
    totals = [sum(used[i] for used in per_project.values()) for i in range(3)]
    rows.append(_row(host_name, "(used_max)", *totals))
    rows += [_row(host_name, project_id, *used) for project_id, used in per_project.items()]
    return util.json_response({"host": rows})


def _not_supported(req, host_name):
    _compute_cell(req, host_name)
    raise errors.NotImplementedYet(
        "Virt driver does not implement host operations (enable, maintenance, power); "
        "use os-services to disable a compute service.")


def update(req, host_name):
    # The body is checked first, as upstream's schema decorator does.
    validation.body(req, schemas.UPDATE)
    req.context.can(policies.POLICY_NAME % "update", target={})
    _not_supported(req, host_name)


def reboot(req, host_name):
    req.context.can(policies.POLICY_NAME % "reboot", target={})
    _not_supported(req, host_name)


def shutdown(req, host_name):
    req.context.can(policies.POLICY_NAME % "shutdown", target={})
    _not_supported(req, host_name)


def startup(req, host_name):
    req.context.can(policies.POLICY_NAME % "start", target={})
    _not_supported(req, host_name)
