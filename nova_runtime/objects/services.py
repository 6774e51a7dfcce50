"""Service records: one row per daemon (host, binary) in its cell, with its heartbeat.

Most functions take the cell database's URL; the ``*_in_cells`` ones and
``delete`` look through every cell (the API's os-services, os-hosts) and
take the Databases (nova_runtime.cells), returning each record with its cell.
"""

import uuid as uuidlib

import sqlalchemy as sa
from oslo_db import exception as db_exc

from nova_runtime import cells
from nova_runtime.db.api import models as api_models
from nova_runtime.db.base import utcnow
from nova_runtime.db.main.models import ComputeNode, Instance, Service
from nova_runtime.objects import exceptions
from nova_runtime.cells import session
from nova_runtime.objects._db import as_dict, check_fields, read_row

# What an operator (os-services) or the service itself may change.
UPDATABLE = ("disabled", "disabled_reason", "forced_down", "topic", "version")
# nova-api leaves no service rows of its own in our cells; upstream hides them.
_HIDDEN_BINARIES = ("nova-osapi_compute", "nova-metadata")


def is_up(service, service_down_time, now=None):
    """Whether a service record shows a live service: its last heartbeat
    (last_seen_up, else updated_at or created_at) is at most
    ``service_down_time`` seconds old, and it is not forced down. Disabled
    services are up if they heartbeat: disabled only stops scheduling."""
    if service.get("forced_down"):
        return False
    last = service.get("last_seen_up") or service.get("updated_at") or service.get("created_at")
    if last is None:
        return False
    now = now or utcnow()
    return abs((now - last).total_seconds()) <= service_down_time




def get(url, service_id):
    with session(url) as db:
        return as_dict(_get(db, service_id))


def get_by_host_and_binary(url, host, binary):
    with session(url) as db:
        row = db.scalar(sa.select(Service).filter_by(host=host, binary=binary, deleted=0))
        if row is None:
            raise exceptions.ServiceNotFound(f"no {binary} service on host {host}")
        return as_dict(row)


def list_services(url, binary=None, host=None):
    with session(url) as db:
        query = sa.select(Service).filter_by(deleted=0).order_by(Service.host, Service.binary)
        if binary is not None:
            query = query.filter_by(binary=binary)
        if host is not None:
            query = query.filter_by(host=host)
        return [as_dict(row) for row in db.scalars(query)]


def register(url, *, host, binary, topic, version):
    """Create the service's row, or update the row it had before a restart.

    Returns (record, created). disabled, disabled_reason, forced_down and the
    report count of an existing row are kept: a disabled service stays
    disabled across restarts. last_seen_up is set, as by a heartbeat.
    """
    for _ in range(2):
        try:
            with session(url) as db:
                row = db.scalar(sa.select(Service).filter_by(host=host, binary=binary, deleted=0))
                created = row is None
                if created:
                    row = Service(uuid=str(uuidlib.uuid4()), host=host, binary=binary,
                                  report_count=0, disabled=False, forced_down=False)
                    db.add(row)
                row.topic = topic
                row.version = version
                row.last_seen_up = utcnow()
            return as_dict(row), created
        except db_exc.DBDuplicateEntry:
            continue  # a twin registered concurrently: take its row
    raise exceptions.RecordError(f"cannot register {binary} on {host}")


def heartbeat(url, service_id):
    """Count one report and mark the service as seen now; returns the record.
    Core statements: every service sends one every report_interval."""
    table = Service.__table__
    where = (table.c.id == service_id, table.c.deleted == 0)
    with session(url) as db:
        result = db.execute(sa.update(table).where(*where).values(
            report_count=table.c.report_count + 1, last_seen_up=utcnow()))
        if result.rowcount == 0:
            raise exceptions.ServiceNotFound(f"service {service_id} does not exist")
        return read_row(db, table, "id", service_id, not_found=exceptions.ServiceNotFound(
            f"service {service_id} does not exist"))


def update(url, service_id, values):
    check_fields(values, UPDATABLE, "a service")
    with session(url) as db:
        row = _get(db, service_id)
        for key, value in values.items():
            setattr(row, key, value)
        return as_dict(row)


def _get(db, service_id):
    row = db.scalar(sa.select(Service).filter_by(id=service_id, deleted=0))
    if row is None:
        raise exceptions.ServiceNotFound(f"service {service_id} does not exist")
    return row


# --- across cells (the API) ------------------------------------------------------------

def list_in_cells(dbs, binary=None, host=None):
    """([(cell, service)], [CellDown]) over every cell but cell0."""
    def read(cell):
        with session(cell.database_connection) as db:
            query = sa.select(Service).filter_by(deleted=0).order_by(Service.id)
            if binary:
                query = query.filter_by(binary=binary)
            if host:
                query = query.filter_by(host=host)
            return [as_dict(row) for row in db.scalars(query)
                    if row.binary not in _HIDDEN_BINARIES]
    found, down = [], []
    for cell, result in dbs.scatter(read):
        if isinstance(result, cells.CellDown):
            down.append(result)
        else:
            found.extend((cell, service) for service in result)
    return found, down


def find_in_cells(dbs, service_id=None, uuid=None, host=None, binary=None):
    """(cell, service) by integer id, UUID, or host and binary; ServiceNotFound if none."""
    def read(cell):
        with session(cell.database_connection) as db:
            query = sa.select(Service).filter_by(deleted=0)
            if service_id is not None:
                query = query.filter_by(id=service_id)
            if uuid is not None:
                query = query.filter_by(uuid=uuid)
            if host is not None:
                query = query.filter_by(host=host, binary=binary)
            row = db.scalar(query)
            return as_dict(row) if row else None
    for cell, result in dbs.scatter(read):
        if result and not isinstance(result, cells.CellDown):
            return cell, result
    if host is not None:
        raise exceptions.ServiceNotFound(f"Service {binary} on host {host} could not be found.")
    raise exceptions.ServiceNotFound(
        f"Service {service_id if uuid is None else uuid} could not be found.")


def compute_hosts(dbs):
    """Names of hosts that run a nova-compute, in any cell."""
    found, _ = list_in_cells(dbs, binary="nova-compute")
    return {service["host"] for _, service in found}


def count_instances_on(url, host):
    with session(url) as db:
        return db.scalar(sa.select(sa.func.count()).select_from(Instance)
                         .filter_by(host=host, deleted=0))


def delete(dbs, cell, service):
    """Soft-delete the service; for nova-compute also its compute nodes, its
    host mapping and its aggregate memberships, as upstream does."""
    now = utcnow()
    with session(cell.database_connection) as db:
        row = db.get(Service, service["id"])
        row.deleted, row.deleted_at = row.id, now
        if service["binary"] == "nova-compute":
            for node in db.scalars(sa.select(ComputeNode).filter_by(
                    host=service["host"], deleted=0)):
                node.deleted, node.deleted_at = node.id, now
    if service["binary"] == "nova-compute":
        with dbs.api() as db:
            db.execute(sa.delete(api_models.HostMapping).filter_by(host=service["host"]))
            db.execute(sa.delete(api_models.AggregateHost).filter_by(host=service["host"]))
