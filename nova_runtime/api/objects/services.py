"""Services and compute nodes, read from every cell's database.

Each record comes back with the Cell it lives in, so that updates go to the
right database. ``up`` follows upstream's database service group driver:
a service is up when its last heartbeat is at most service_down_time old and
it is not forced down.
"""


import sqlalchemy as sa

from nova_runtime.api import errors
from nova_runtime.api.databases import CellDown
from nova_runtime.db.api import models as api_models
from nova_runtime.db.base import utcnow
from nova_runtime.db.main import models

Service = models.Service
ComputeNode = models.ComputeNode
# nova-api leaves no service rows of its own in our cells; upstream hides them.
_HIDDEN_BINARIES = ("nova-osapi_compute", "nova-metadata")


def _as_dict(row, model):
    return {column.key: getattr(row, column.key) for column in model.__table__.columns}


def is_up(service, down_time):
    if service.get("forced_down"):
        return False
    last = service.get("last_seen_up") or service.get("updated_at") or service.get("created_at")
    if last is None:
        return False
    return abs((utcnow() - last).total_seconds()) <= down_time


def list_services(db, binary=None, host=None):
    """([(cell, service)], [CellDown]) over every cell but cell0."""
    def read(cell, session):
        query = sa.select(Service).filter_by(deleted=0).order_by(Service.id)
        if binary:
            query = query.filter_by(binary=binary)
        if host:
            query = query.filter_by(host=host)
        return [_as_dict(row, Service) for row in session.scalars(query)
                if row.binary not in _HIDDEN_BINARIES]
    found, down = [], []
    for cell, result in db.scatter(read):
        if isinstance(result, CellDown):
            down.append(result)
        else:
            found.extend((cell, service) for service in result)
    return found, down


def find(db, service_id=None, uuid=None, host=None, binary=None):
    """(cell, service) by integer id, UUID, or host and binary; 404 if none."""
    def read(cell, session):
        query = sa.select(Service).filter_by(deleted=0)
        if service_id is not None:
            query = query.filter_by(id=service_id)
        if uuid is not None:
            query = query.filter_by(uuid=uuid)
        if host is not None:
            query = query.filter_by(host=host, binary=binary)
        row = session.scalar(query)
        return _as_dict(row, Service) if row else None
    for cell, result in db.scatter(read):
        if result and not isinstance(result, CellDown):
            return cell, result
    if host is not None:
        raise errors.NotFound(f"Service {binary} on host {host} could not be found.")
    raise errors.NotFound(f"Service {service_id if uuid is None else uuid} could not be found.")


def update(db, cell, service_id, **values):
    with db.cell(cell) as session:
        row = session.get(Service, service_id)
        for key, value in values.items():
            setattr(row, key, value)
        session.flush()
        return _as_dict(row, Service)


def count_instances_on(db, cell, host):
    with db.cell(cell) as session:
        return session.scalar(sa.select(sa.func.count()).select_from(models.Instance)
                              .filter_by(host=host, deleted=0))


def delete(db, cell, service):
    """Soft-delete the service; for nova-compute also its compute nodes, its
    host mapping and its aggregate memberships, as upstream does."""
    now = utcnow()
    with db.cell(cell) as session:
        row = session.get(Service, service["id"])
        row.deleted, row.deleted_at = row.id, now
        if service["binary"] == "nova-compute":
            for node in session.scalars(sa.select(ComputeNode).filter_by(
                    host=service["host"], deleted=0)):
                node.deleted, node.deleted_at = node.id, now
    if service["binary"] == "nova-compute":
        with db.api() as session:
            session.execute(sa.delete(api_models.HostMapping).filter_by(host=service["host"]))
            session.execute(sa.delete(api_models.AggregateHost).filter_by(host=service["host"]))


def compute_hosts(db):
    """Names of hosts that run a nova-compute, in any cell."""
    found, _ = list_services(db, binary="nova-compute")
    return {service["host"] for _, service in found}


def list_nodes(db):
    """[(cell, node, service or None)] of every compute node, in cell order."""
    def read(cell, session):
        services = {row.id: _as_dict(row, Service) for row in session.scalars(
            sa.select(Service).filter_by(deleted=0, binary="nova-compute"))}
        by_host = {service["host"]: service for service in services.values()}
        nodes = []
        for row in session.scalars(sa.select(ComputeNode).filter_by(deleted=0)
                                   .order_by(ComputeNode.id)):
            node = _as_dict(row, ComputeNode)
            service = services.get(node["service_id"]) or by_host.get(node["host"])
            nodes.append((node, service))
        return nodes
    result = []
    for cell, nodes in db.scatter(read):
        if not isinstance(nodes, CellDown):
            result.extend((cell, node, service) for node, service in nodes)
    return result


def instances_on_node(db, cell, host, node):
    with db.cell(cell) as session:
        rows = session.execute(sa.select(models.Instance.uuid, models.Instance.display_name)
                               .filter_by(host=host, node=node, deleted=0)).all()
    return [{"uuid": uuid, "name": name} for uuid, name in rows]
