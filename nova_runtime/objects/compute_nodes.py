"""Compute node records: a hypervisor's resources as its nova-compute reports them.

Functions take the cell database's URL; ``list_with_services`` looks through
every cell and takes the Databases (nova_runtime.cells)."""

import sqlalchemy as sa
from oslo_db import exception as db_exc

from nova_runtime import cells
from nova_runtime.cells import session
from nova_runtime.db.main.models import ComputeNode, Instance, Service
from nova_runtime.objects import exceptions
from nova_runtime.objects._db import as_dict, check_fields, read_row, update_row, within

# What nova-compute's resource tracker reports. Not 'mapped': only host
# discovery (nova_runtime.objects.cell_mappings) sets it.
REPORTED = (
    "service_id", "host", "hypervisor_hostname", "hypervisor_type", "hypervisor_version",
    "cpu_info", "host_ip", "vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used",
    "local_gb_used", "free_ram_mb", "free_disk_gb", "disk_available_least", "current_workload",
    "running_vms", "supported_instances", "stats", "cpu_allocation_ratio",
    "ram_allocation_ratio", "disk_allocation_ratio",
)


def get_by_host_and_nodename(url, host, nodename):
    with session(url) as db:
        row = db.scalar(sa.select(ComputeNode).filter_by(
            host=host, hypervisor_hostname=nodename, deleted=0))
        if row is None:
            raise exceptions.ComputeNodeNotFound(
                f"no compute node {nodename} on host {host}")
        return as_dict(row)


def get_all_by_host(url, host):
    with session(url) as db:
        return [as_dict(row) for row in db.scalars(
            sa.select(ComputeNode).filter_by(host=host, deleted=0).order_by(ComputeNode.id))]


def list_nodes(url):
    with session(url) as db:
        return [as_dict(row) for row in db.scalars(
            sa.select(ComputeNode).filter_by(deleted=0).order_by(ComputeNode.id))]


def create(url, uuid, values):
    """A new node with the given uuid (stable across restarts: the caller keeps it)."""
    check_fields(values, REPORTED, "a compute node")
    try:
        with session(url) as db:
            row = ComputeNode(uuid=uuid, **values)
            db.add(row)
        return as_dict(row)
    except db_exc.DBDuplicateEntry as exc:
        revived = _undelete(url, uuid, values)  # upstream's fix of its bug 1839560
        if revived is not None:
            return revived
        raise exceptions.RecordError(
            f"compute node {values.get('hypervisor_hostname')} on {values.get('host')} "
            f"or uuid {uuid} exists already ({', '.join(exc.columns)})") from None


def _undelete(url, uuid, values):
    """The node of ``uuid`` soft-deleted (its service was deleted while the
    compute ran, DELETE /os-services/{id}), live again with ``values``;
    None when there is no such deleted node."""
    with session(url) as db:
        row = db.scalar(sa.select(ComputeNode).filter(ComputeNode.uuid == uuid,
                                                      ComputeNode.deleted != 0))
        if row is None:
            return None
        for key, value in values.items():
            setattr(row, key, value)
        row.deleted, row.deleted_at = 0, None
        return as_dict(row)


def update(url, node_id, values, db=None):
    """Set ``values`` (``db``: in that session); raises before it writes."""
    check_fields(values, REPORTED, "a compute node")
    table = ComputeNode.__table__
    with within(url, db) as db:
        row = read_row(db, table, "id", node_id,
                       not_found=exceptions.ComputeNodeNotFound(
                           f"compute node {node_id} does not exist"))
        return update_row(db, table, row, values)


# --- across cells (the API's os-hypervisors) ---------------------------------------------

def list_with_services(dbs):
    """[(cell, node, its nova-compute service or None)] of every compute node, in cell order."""
    def read(cell):
        with session(cell.database_connection) as db:
            services = {row.id: as_dict(row) for row in db.scalars(
                sa.select(Service).filter_by(deleted=0, binary="nova-compute"))}
            by_host = {service["host"]: service for service in services.values()}
            nodes = []
            for row in db.scalars(sa.select(ComputeNode).filter_by(deleted=0)
                                  .order_by(ComputeNode.id)):
                node = as_dict(row)
                service = services.get(node["service_id"]) or by_host.get(node["host"])
                nodes.append((node, service))
            return nodes
    result = []
    for cell, nodes in dbs.scatter(read):
        if not isinstance(nodes, cells.CellDown):
            result.extend((cell, node, service) for node, service in nodes)
    return result


def instances_on_node(url, host, node):
    with session(url) as db:
        rows = db.execute(sa.select(Instance.uuid, Instance.display_name)
                          .filter_by(host=host, node=node, deleted=0)).all()
    return [{"uuid": uuid, "name": name} for uuid, name in rows]
