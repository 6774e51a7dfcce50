"""Flavors, their extra specs and their access lists, in the API database.

Functions take the Databases and return plain dicts (the flavor's columns,
plus ``extra_specs`` where asked), so that the scheduler and conductor can
use them too when servers arrive.
"""

import functools
import uuid

import sqlalchemy as sa

from nova_runtime import cells
from nova_runtime.db import engines
from nova_runtime.db.api import models
from nova_runtime.objects import exceptions

Flavor = models.Flavor
ExtraSpec = models.FlavorExtraSpec
Access = models.FlavorProject

SORT_KEYS = ("created_at", "description", "disabled", "ephemeral_gb", "flavorid", "id",
             "is_public", "memory_mb", "name", "root_gb", "rxtx_factor", "swap",
             "updated_at", "vcpu_weight", "vcpus")


def _as_dict(row, extra_specs=None):
    flavor = {column.key: getattr(row, column.key) for column in Flavor.__table__.columns}
    if extra_specs is not None:
        flavor["extra_specs"] = extra_specs
    return flavor


def _visible(query, project_id):
    """Non-admins see public flavors and the private ones shared with them."""
    if project_id is None:
        return query
    shared = sa.select(Access.flavor_id).filter_by(project_id=project_id)
    return query.filter(sa.or_(Flavor.is_public.is_(True), Flavor.id.in_(shared)))


def _specs(session, flavor_ids):
    specs = {flavor_id: {} for flavor_id in flavor_ids}
    if flavor_ids:
        for row in session.scalars(sa.select(ExtraSpec).filter(ExtraSpec.flavor_id.in_(flavor_ids))):
            specs[row.flavor_id][row.key] = row.value
    return specs


def list_flavors(api_url, *, visible_to=None, is_public=None, min_memory_mb=None, min_root_gb=None,
                 sort_key="flavorid", sort_dir="asc", with_specs=False):
    """Flavors matching the filters. ``visible_to`` is the caller's project
    when the caller is not an admin; is_public None means public and private."""
    query = _visible(sa.select(Flavor), visible_to)
    if is_public is not None:
        if is_public and visible_to is None:
            query = query.filter(Flavor.is_public.is_(True))
        elif not is_public:
            query = query.filter(Flavor.is_public.is_(False))
    if min_memory_mb is not None:
        query = query.filter(Flavor.memory_mb >= min_memory_mb)
    if min_root_gb is not None:
        query = query.filter(Flavor.root_gb >= min_root_gb)
    column = getattr(Flavor, sort_key)
    order = column.desc() if sort_dir == "desc" else column.asc()
    query = query.order_by(order, Flavor.id.asc())
    with cells.session(api_url) as session:
        rows = session.scalars(query).all()
        specs = _specs(session, [row.id for row in rows]) if with_specs else {}
    return [_as_dict(row, specs.get(row.id) if with_specs else None) for row in rows]


def get(api_url, flavorid, *, visible_to=None, with_specs=False):
    with engines.get_engine(api_url).connect() as connection:
        rows = connection.execute(_get_statement(visible_to is not None, with_specs),
                                  {"flavorid": str(flavorid), "project_id": visible_to}
                                  ).mappings().all()
    if not rows:
        raise exceptions.NotFound(f"Flavor {flavorid} could not be found.")
    flavor = {column.key: rows[0][column.name] for column in Flavor.__table__.columns}
    if with_specs:
        flavor["extra_specs"] = {row["spec_key"]: row["spec_value"] for row in rows
                                 if row["spec_key"] is not None}
    return flavor


@functools.cache
def _get_statement(visible, with_specs):
    """get's statement, with the bound parameters flavorid and (``visible``:
    the flavors visible to a project, as _visible) project_id: Core, the
    flavor and its extra specs in one statement on a plain connection
    (nothing to commit), built once per form; every create request reads
    its flavor."""
    flavor, specs = Flavor.__table__, ExtraSpec.__table__
    query = sa.select(flavor).where(flavor.c.flavorid == sa.bindparam("flavorid"))
    if visible:
        query = _visible(query, sa.bindparam("project_id"))
    if with_specs:
        query = (query.add_columns(specs.c.key.label("spec_key"),
                                   specs.c.value.label("spec_value"))
                 .select_from(flavor.outerjoin(specs, specs.c.flavor_id == flavor.c.id))
                 .order_by(specs.c.key))
    return query


def _get(session, flavorid, visible_to=None):
    row = session.scalar(_visible(sa.select(Flavor), visible_to).filter_by(flavorid=str(flavorid)))
    if row is None:
        raise exceptions.NotFound(f"Flavor {flavorid} could not be found.")
    return row


def create(api_url, *, name, memory_mb, vcpus, root_gb, ephemeral_gb=0, swap=0, rxtx_factor=1.0,
           is_public=True, flavorid=None, description=None):
    flavorid = str(flavorid) if flavorid not in (None, "") else str(uuid.uuid4())
    with cells.session(api_url) as session:
        if session.scalar(sa.select(Flavor.id).filter_by(name=name)) is not None:
            raise exceptions.Conflict(f"Flavor with name {name} already exists.")
        if session.scalar(sa.select(Flavor.id).filter_by(flavorid=flavorid)) is not None:
            raise exceptions.Conflict(f"Flavor with ID {flavorid} already exists.")
        row = Flavor(flavorid=flavorid, name=name, memory_mb=memory_mb, vcpus=vcpus,
                     root_gb=root_gb, ephemeral_gb=ephemeral_gb, swap=swap,
                     rxtx_factor=rxtx_factor, is_public=is_public, disabled=False,
                     description=description)
        session.add(row)
        try:
            session.flush()
        except sa.exc.IntegrityError:
            raise exceptions.Conflict(f"Flavor with name {name} or ID {flavorid} already exists.") \
                from None
    return _as_dict(row, {})


def update_description(api_url, flavorid, description):
    with cells.session(api_url) as session:
        row = _get(session, flavorid)
        row.description = description
        session.flush()
        specs = _specs(session, [row.id])[row.id]
    return _as_dict(row, specs)


def delete(api_url, flavorid):
    with cells.session(api_url) as session:
        row = _get(session, flavorid)
        # Rows that reference the flavor go first: SQLite does not cascade.
        session.execute(sa.delete(ExtraSpec).filter_by(flavor_id=row.id))
        session.execute(sa.delete(Access).filter_by(flavor_id=row.id))
        session.delete(row)


# --- extra specs ----------------------------------------------------------------

def extra_specs(api_url, flavorid, visible_to=None):
    with cells.session(api_url) as session:
        row = _get(session, flavorid, visible_to)
        return _specs(session, [row.id])[row.id]


def set_extra_specs(api_url, flavorid, specs):
    """Create or update the given keys; returns them."""
    with cells.session(api_url) as session:
        row = _get(session, flavorid)
        existing = {spec.key: spec for spec in session.scalars(
            sa.select(ExtraSpec).filter_by(flavor_id=row.id))}
        for key, value in specs.items():
            if key in existing:
                existing[key].value = value
            else:
                session.add(ExtraSpec(flavor_id=row.id, key=key, value=value))
    return specs


def delete_extra_spec(api_url, flavorid, key):
    with cells.session(api_url) as session:
        row = _get(session, flavorid)
        deleted = session.execute(
            sa.delete(ExtraSpec).filter_by(flavor_id=row.id, key=key)).rowcount
    if not deleted:
        raise exceptions.NotFound(f"Flavor {flavorid} has no extra specs with key {key}.")


# --- access ---------------------------------------------------------------------

def access_list(api_url, flavorid):
    with cells.session(api_url) as session:
        row = _get(session, flavorid)
        if row.is_public:
            raise exceptions.NotFound("Access list not available for public flavors.")
        return sorted(session.scalars(
            sa.select(Access.project_id).filter_by(flavor_id=row.id)).all())


def add_access(api_url, flavorid, project_id, public_is_conflict):
    with cells.session(api_url) as session:
        row = _get(session, flavorid)
        if row.is_public and public_is_conflict:
            raise exceptions.Conflict("Can not add access to a public flavor.")
        exists = session.scalar(sa.select(Access.id).filter_by(
            flavor_id=row.id, project_id=project_id))
        if exists is not None:
            raise exceptions.Conflict(
                f"Flavor access already exists for flavor {flavorid} and project "
                f"{project_id} combination.")
        session.add(Access(flavor_id=row.id, project_id=project_id))
        session.flush()
        return sorted(session.scalars(
            sa.select(Access.project_id).filter_by(flavor_id=row.id)).all())


def remove_access(api_url, flavorid, project_id):
    with cells.session(api_url) as session:
        row = _get(session, flavorid)
        deleted = session.execute(sa.delete(Access).filter_by(
            flavor_id=row.id, project_id=project_id)).rowcount
        if not deleted:
            raise exceptions.NotFound(
                f"Flavor access not found for {flavorid} / {project_id} combination.")
        return sorted(session.scalars(
            sa.select(Access.project_id).filter_by(flavor_id=row.id)).all())
