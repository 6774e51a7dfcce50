"""Host aggregates and their metadata, in the API database."""

import uuid

import sqlalchemy as sa

from nova_runtime import cells
from nova_runtime.db.api import models
from nova_runtime.objects import exceptions
from nova_runtime.objects.availability_zones import AZ_KEY

Aggregate = models.Aggregate
Host = models.AggregateHost
Metadata = models.AggregateMetadata


def _as_dict(session, row):
    hosts = session.scalars(sa.select(Host.host).filter_by(aggregate_id=row.id)
                            .order_by(Host.host)).all()
    metadata = {m.key: m.value for m in session.scalars(
        sa.select(Metadata).filter_by(aggregate_id=row.id).order_by(Metadata.key))}
    return {"id": row.id, "uuid": row.uuid, "name": row.name,
            "availability_zone": metadata.get(AZ_KEY), "hosts": list(hosts),
            "metadata": metadata, "created_at": row.created_at, "updated_at": row.updated_at}


def _get(session, aggregate_id):
    row = session.get(Aggregate, aggregate_id)
    if row is None:
        raise exceptions.NotFound(f"Aggregate {aggregate_id} could not be found.")
    return row


def list_aggregates(api_url):
    with cells.session(api_url) as session:
        return [_as_dict(session, row) for row in
                session.scalars(sa.select(Aggregate).order_by(Aggregate.id))]


def get(api_url, aggregate_id):
    with cells.session(api_url) as session:
        return _as_dict(session, _get(session, aggregate_id))


def _check_name_free(session, name, aggregate_id=None):
    query = sa.select(Aggregate.id).filter_by(name=name)
    if aggregate_id is not None:
        query = query.filter(Aggregate.id != aggregate_id)
    if session.scalar(query) is not None:
        raise exceptions.Conflict(f"Aggregate {name} already exists.")


def _zones_of_hosts(session, hosts, other_than):
    """{host: {zones}} of ``hosts`` from aggregates other than ``other_than``."""
    query = (sa.select(Host.host, Metadata.value)
             .join(Metadata, Metadata.aggregate_id == Host.aggregate_id)
             .filter(Metadata.key == AZ_KEY, Host.host.in_(hosts),
                     Host.aggregate_id != other_than))
    zones = {}
    for host, zone in session.execute(query):
        zones.setdefault(host, set()).add(zone)
    return zones


def _check_zone(session, row, zone, hosts, action):
    """A host may not end up in two zones: refuse a zone that differs from
    the zone other aggregates give one of ``hosts``."""
    if zone is None or not hosts:
        return
    conflicts = sorted({other for others in _zones_of_hosts(session, hosts, row.id).values()
                        for other in others if other != zone})
    if conflicts:
        raise exceptions.Invalid(
            f"Cannot {action} aggregate {row.id}. Reason: One or more hosts already in "
            f"availability zone(s) {conflicts}.")


def _set_metadata(session, row, metadata):
    existing = {m.key: m for m in session.scalars(sa.select(Metadata).filter_by(aggregate_id=row.id))}
    for key, value in metadata.items():
        if value is None:
            if key in existing:
                session.delete(existing[key])
        elif key in existing:
            existing[key].value = value
        else:
            session.add(Metadata(aggregate_id=row.id, key=key, value=value))
    session.flush()


def create(api_url, name, availability_zone=None):
    with cells.session(api_url) as session:
        _check_name_free(session, name)
        row = Aggregate(uuid=str(uuid.uuid4()), name=name)
        session.add(row)
        session.flush()
        if availability_zone:
            session.add(Metadata(aggregate_id=row.id, key=AZ_KEY, value=availability_zone))
            session.flush()
        return _as_dict(session, row)


def update(api_url, aggregate_id, name=None, availability_zone=None, set_zone=False):
    with cells.session(api_url) as session:
        row = _get(session, aggregate_id)
        if name is not None:
            _check_name_free(session, name, row.id)
            row.name = name
        if set_zone:
            hosts = _as_dict(session, row)["hosts"]
            _check_zone(session, row, availability_zone, hosts, "update")
            _set_metadata(session, row, {AZ_KEY: availability_zone})
        session.flush()
        return _as_dict(session, row)


def delete(api_url, aggregate_id):
    with cells.session(api_url) as session:
        row = _get(session, aggregate_id)
        if session.scalar(sa.select(Host.id).filter_by(aggregate_id=row.id)) is not None:
            raise exceptions.Invalid(
                f"Cannot delete aggregate: {aggregate_id}. Reason: Host aggregate is not empty")
        session.execute(sa.delete(Metadata).filter_by(aggregate_id=row.id))
        session.delete(row)


def add_host(api_url, aggregate_id, host):
    with cells.session(api_url) as session:
        row = _get(session, aggregate_id)
        aggregate = _as_dict(session, row)
        if host in aggregate["hosts"]:
            raise exceptions.Conflict(f"Aggregate {aggregate_id} already has host {host}.")
        _check_zone(session, row, aggregate["availability_zone"], [host], "add host to")
        session.add(Host(aggregate_id=row.id, host=host))
        session.flush()
        return _as_dict(session, row)


def remove_host(api_url, aggregate_id, host):
    with cells.session(api_url) as session:
        row = _get(session, aggregate_id)
        deleted = session.execute(sa.delete(Host).filter_by(aggregate_id=row.id, host=host)).rowcount
        if not deleted:
            raise exceptions.NotFound(f"Aggregate {aggregate_id} has no host {host}.")
        return _as_dict(session, row)


def set_metadata(api_url, aggregate_id, metadata):
    with cells.session(api_url) as session:
        row = _get(session, aggregate_id)
        if AZ_KEY in metadata:
            _check_zone(session, row, metadata[AZ_KEY], _as_dict(session, row)["hosts"],
                        "update")
        _set_metadata(session, row, metadata)
        return _as_dict(session, row)
