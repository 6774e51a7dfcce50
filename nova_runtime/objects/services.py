"""Service records: one row per daemon (host, binary) in its cell, with its heartbeat."""

import uuid as uuidlib

import sqlalchemy as sa
from oslo_db import exception as db_exc

from nova_runtime.db.base import utcnow
from nova_runtime.db.main.models import Service
from nova_runtime.objects import exceptions
from nova_runtime.objects._db import as_dict, check_fields, session

# What an operator (os-services) or the service itself may change.
UPDATABLE = ("disabled", "disabled_reason", "forced_down", "topic", "version")


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
    """Count one report and mark the service as seen now; returns the record."""
    with session(url) as db:
        result = db.execute(
            sa.update(Service).filter_by(id=service_id, deleted=0)
            .values(report_count=Service.report_count + 1, last_seen_up=utcnow()))
        if result.rowcount == 0:
            raise exceptions.ServiceNotFound(f"service {service_id} does not exist")
        return as_dict(_get(db, service_id))


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
