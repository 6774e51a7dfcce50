"""Instance records, as the conductor creates them and computes read and
update them during their lifecycle."""

import json

import sqlalchemy as sa
from oslo_db import exception as db_exc

from nova_runtime.db import engines
from nova_runtime.db.base import utcnow
from nova_runtime.db.main.models import (
    FixedIp,
    Instance,
    InstanceExtra,
    InstanceFault,
    InstanceMetadata,
    InstanceSystemMetadata,
    Network,
    Tag,
)
from nova_runtime.objects import exceptions, fixed_ips, tags
from nova_runtime.cells import session
from nova_runtime.objects._db import as_dict, check_fields, compare_and_set, one_row
from nova_runtime.objects._db import insert_row, read_row, within

# Columns that identify an instance or belong to the API's bookkeeping.
# (deleted_at is settable: a soft delete, vm_state soft-delete, records its
# time there while the row stays, as upstream.)
_FIXED = ("id", "uuid", "created_at", "deleted")
UPDATABLE = tuple(column.key for column in Instance.__table__.columns if column.key not in _FIXED)
# set_flavors: a flavor not given stays as it is.
_UNSET = object()


def create(url, values, *, flavor=None, metadata=None, system_metadata=None, tags=()):
    """A new instance row (``values``: its columns, uuid included), with its
    instance_extra row (``flavor``: the flavor dict, kept as upstream keeps it:
    {"cur": flavor, "old": None, "new": None}), user ``metadata`` and
    ``system_metadata`` (dicts of strings) and ``tags``. Returns the instance
    record."""
    check_fields(set(values) - {"uuid"}, UPDATABLE, "an instance")
    instance_uuid = values["uuid"]
    # Core inserts (every build creates one): the rows the mapped objects made.
    try:
        with session(url) as db:
            row = insert_row(db, Instance.__table__, values)
            insert_row(db, InstanceExtra.__table__, {
                "instance_uuid": instance_uuid,
                "flavor": json.dumps({"cur": flavor, "old": None, "new": None}),
                "network_info": "[]"})
            for model, pairs in ((InstanceMetadata, metadata), (InstanceSystemMetadata,
                                                                 system_metadata)):
                if pairs:
                    db.execute(sa.insert(model.__table__), [
                        {"instance_uuid": instance_uuid, "key": key, "value": value}
                        for key, value in pairs.items()])
            if tags:
                db.execute(sa.insert(Tag.__table__), [
                    {"resource_id": instance_uuid, "tag": tag} for tag in sorted(set(tags))])
        return row
    except db_exc.DBDuplicateEntry:
        raise exceptions.RecordError(f"instance {instance_uuid} exists already") from None


def get_by_uuid(url, instance_uuid):
    # A plain connection: one statement, nothing to commit (every poll reads it).
    with engines.get_engine(url).connect() as connection:
        return read_row(connection, Instance.__table__, "uuid", instance_uuid,
                        not_found=_not_found(instance_uuid))


def get_all_by_host(url, host, node=None):
    """The live instances of a compute host (and of one of its nodes), every
    column by name. Plain rows, not ORM objects: every compute reads its
    host's instances in its periodic tasks (the resource tracker, the build
    timeout), so this grows with the instances of each host, and building
    mapped objects cost several times the query."""
    table = Instance.__table__
    statement = sa.select(table).where(table.c.host == host, table.c.deleted == 0)
    if node is not None:
        statement = statement.where(table.c.node == node)
    with session(url) as db:
        return [dict(row) for row in db.execute(statement.order_by(table.c.id)).mappings()]


def hosts_of(url, instance_uuids):
    """{uuid: host or None} of the live instances among ``instance_uuids``
    (deleted and unknown ones are left out)."""
    if not instance_uuids:
        return {}
    with session(url) as db:
        return dict(db.execute(
            sa.select(Instance.uuid, Instance.host)
            .filter(Instance.uuid.in_(list(instance_uuids)), Instance.deleted == 0)).all())


def get_flavor(url, instance_uuid, db=None):
    """The instance's current flavor (the dict given to create)."""
    return get_flavors(url, instance_uuid, db=db)["cur"]


def get_flavors(url, instance_uuid, db=None):
    """{"cur", "old", "new"}: the instance's flavors (old and new are None
    unless a resize or migration is in progress). ``db``: in that session."""
    with within(url, db) as db:
        return json.loads(_extra(db, instance_uuid).flavor)


def set_flavors(url, instance_uuid, *, cur=_UNSET, old=_UNSET, new=_UNSET):
    """Change some of the instance's flavors; returns all three."""
    with session(url) as db:
        extra = _extra(db, instance_uuid)
        flavors = json.loads(extra.flavor)
        for key, value in (("cur", cur), ("old", old), ("new", new)):
            if value is not _UNSET:
                flavors[key] = value
        extra.flavor = json.dumps(flavors)
        return flavors


def _extra(db, instance_uuid):
    extra = db.scalar(sa.select(InstanceExtra).filter_by(instance_uuid=instance_uuid, deleted=0))
    if extra is None or not extra.flavor:
        raise exceptions.InstanceNotFound(f"instance {instance_uuid} has no flavor record")
    return extra



def get_metadata(url, instance_uuid, system=False, db=None):
    """The instance's user metadata (or with ``system``, its system metadata)."""
    model = InstanceSystemMetadata if system else InstanceMetadata
    with within(url, db) as db:
        return {row.key: row.value for row in db.scalars(
            sa.select(model).filter_by(instance_uuid=instance_uuid, deleted=0)
            .order_by(model.id))}


def update(url, instance_uuid, values, expected_task_states=None, db=None):
    """Set ``values``; with ``expected_task_states`` (a list, which may hold
    None) only if the instance's task_state is one of them, else
    UnexpectedTaskState (_db.compare_and_set). ``db``: in that session.
    Raises before it writes anything."""
    check_fields(values, UPDATABLE, "an instance")
    table = Instance.__table__
    with within(url, db) as db:
        row = read_row(db, table, "uuid", instance_uuid,
                       not_found=_not_found(instance_uuid),
                       lock=expected_task_states is not None)
        return compare_and_set(db, table, row, values, "task_state", expected_task_states,
                                   f"instance {instance_uuid}")


def destroy(url, instance_uuid, values=None):
    """Soft-delete the instance (setting ``values`` first, e.g. vm_state
    deleted) with its instance_extra and metadata rows; its faults and actions
    stay, as upstream keeps them. Returns the deleted record."""
    values = dict(values or {})
    check_fields(values, UPDATABLE, "an instance")
    now = utcnow()
    with session(url) as db:
        row = _get(db, instance_uuid)
        for key, value in values.items():
            setattr(row, key, value)
        row.deleted, row.deleted_at = row.id, now
        for model in (InstanceExtra, InstanceMetadata, InstanceSystemMetadata):
            db.execute(sa.update(model).filter_by(instance_uuid=instance_uuid, deleted=0)
                       .values(deleted=model.id, deleted_at=now))
        # Its fixed addresses go back to the flat network in the same transaction.
        fixed_ips.release(db, instance_uuid, now)
        tags.delete_all(url, instance_uuid, db=db)  # tags have no history, as upstream's
        return as_dict(row)


# --- queries of the servers API (list, detail, metadata) ------------------------------

# Filters ``query`` understands: name -> column, compared for equality (a list
# value means "one of").
_EQUAL_FILTERS = {
    "uuid": Instance.uuid, "project_id": Instance.project_id, "user_id": Instance.user_id,
    "host": Instance.host, "node": Instance.node, "image_ref": Instance.image_ref,
    "instance_type_id": Instance.instance_type_id, "reservation_id": Instance.reservation_id,
    "availability_zone": Instance.availability_zone, "key_name": Instance.key_name,
    "hostname": Instance.hostname, "vm_state": Instance.vm_state,
    "task_state": Instance.task_state, "power_state": Instance.power_state,
    "locked": Instance.locked, "config_drive": Instance.config_drive,
    "progress": Instance.progress, "access_ip_v4": Instance.access_ip_v4,
    "access_ip_v6": Instance.access_ip_v6,
}
# Columns the API may sort by.
SORT_KEYS = ("access_ip_v4", "access_ip_v6", "availability_zone", "config_drive", "created_at",
             "display_description", "display_name", "host", "hostname", "image_ref",
             "instance_type_id", "kernel_id", "key_name", "launch_index", "launched_at",
             "locked_by", "node", "power_state", "progress", "project_id", "ramdisk_id",
             "task_state", "terminated_at", "updated_at", "user_id", "uuid", "vm_state")


def query(url, filters=None, sort_keys=("created_at",), sort_dirs=("desc",), limit=None,
          marker=None, columns=None):
    """Instances of one cell database, sorted, at most ``limit``.

    ``filters``: the names of _EQUAL_FILTERS (a list value matches any of its
    items; None matches NULL), ``name`` (a regular expression on
    display_name), ``changes_since`` / ``changes_before`` (updated_at bounds,
    which also return deleted instances), ``deleted`` (True: only deleted
    ones; False or absent: only live ones, unless a changes_* bound is
    given), ``uuids_in`` (a collection the uuid must be in), the tag filters
    ``tags``, ``tags_any``, ``not_tags``, ``not_tags_any`` (lists; see
    objects.tags.filter_clause).
    ``sort_keys`` / ``sort_dirs`` ("asc"/"desc"): the order; uuid is added as
    the last key so that the order is total across cells. ``marker``: the
    instance dict to start after (keyset paging: any cell's instance works,
    even a build request's, since only its sort values are used).
    ``columns``: the names of the columns to read (the sort keys are always
    read too); default every column."""
    filters = dict(filters or {})
    keys, dirs = _total_order(sort_keys, sort_dirs)
    table = Instance.__table__
    if columns is None:
        statement = sa.select(table)
    else:
        names = list(dict.fromkeys([*columns, *keys]))
        unknown = sorted(set(names) - set(table.c.keys()))
        if unknown:
            raise exceptions.InvalidField(f"instances have no column {', '.join(unknown)}")
        statement = sa.select(*(table.c[name] for name in names))
    for name, value in filters.items():
        statement = statement.where(_filter_clause(name, value))
    if "deleted" not in filters and not ({"changes_since", "changes_before"} & set(filters)):
        statement = statement.where(Instance.deleted == 0)
    if marker is not None:
        statement = statement.where(_after(keys, dirs, marker))
    for key, direction in zip(keys, dirs):
        column = getattr(Instance, key)
        statement = statement.order_by(column.asc() if direction == "asc" else column.desc())
    if limit is not None:
        statement = statement.limit(limit)
    # Plain rows, not ORM objects: a page is up to [api] max_limit instances,
    # and building (then converting) that many mapped objects costs more than
    # the query itself; zipped with the column names, not through .mappings()
    # (a RowMapping per row: ~2 ms more for a page of 1,000).
    with engines.get_engine(url).connect() as connection:
        result = connection.execute(statement)
        names = list(result.keys())
        return [dict(zip(names, row)) for row in result]


def _total_order(sort_keys, sort_dirs):
    keys, dirs = list(sort_keys), list(sort_dirs)
    if "uuid" not in keys:
        keys.append("uuid")
        dirs.append(dirs[-1] if dirs else "desc")
    return keys, dirs


def _filter_clause(name, value):
    if name == "name":
        return Instance.display_name.regexp_match(value)
    if name == "changes_since":
        return Instance.updated_at >= value
    if name == "changes_before":
        return Instance.updated_at <= value
    if name == "deleted":
        return Instance.deleted != 0 if value else Instance.deleted == 0
    if name == "uuids_in":
        return Instance.uuid.in_(list(value))
    if name in tags.FILTERS:
        return tags.filter_clause(name, value)
    column = _EQUAL_FILTERS.get(name)
    if column is None:
        raise exceptions.InvalidField(f"unknown instance filter {name}")
    if isinstance(value, (list, tuple, set, frozenset)):
        values = [item for item in value if item is not None]
        clause = column.in_(values)
        return sa.or_(clause, column.is_(None)) if None in value else clause
    return column.is_(None) if value is None else column == value


def _after(keys, dirs, marker):
    """Rows that sort after ``marker``. NULLs sort first ascending and last
    descending, as MySQL and SQLite order them."""
    alternatives = []
    for index, (key, direction) in enumerate(zip(keys, dirs)):
        column, value = getattr(Instance, key), marker.get(key)
        equal_before = [getattr(Instance, k).is_(None) if marker.get(k) is None
                        else getattr(Instance, k) == marker.get(k) for k in keys[:index]]
        if direction == "asc":
            later = column.is_not(None) if value is None else column > value
        elif value is None:
            continue  # nothing sorts after NULL when descending
        else:
            later = sa.or_(column < value, column.is_(None))
        alternatives.append(sa.and_(*equal_before, later))
    return sa.or_(*alternatives) if alternatives else sa.false()


def details_of(url, instance_uuids, faults_of=None):
    """{uuid: {"flavor", "metadata", "network_info", "fault", "fixed_ips"}} of
    ``instance_uuids`` (deleted ones too), read in a few queries for a whole
    page of servers: the current flavor, user metadata, instance_extra's
    network_info (a list), the newest fault (or None) of those of
    ``faults_of`` (default: all) and, for instances whose network_info holds
    no fixed address, the fixed addresses [{"address", "network"}] of the
    flat network (the API shows those only then).

    Only the columns shown are read, as plain rows. Instances of the same
    flavor share one parsed flavor dict: callers must not change it."""
    uuids = list(instance_uuids)
    faults_of = uuids if faults_of is None else list(faults_of)
    found = {uuid: {"flavor": None, "metadata": {}, "network_info": [], "fault": None,
                    "fixed_ips": []} for uuid in uuids}
    if not uuids:
        return found
    flavors = {}  # flavor JSON -> its "cur": a page holds few distinct flavors
    with engines.get_engine(url).connect() as connection:
        for uuid, flavor, network_info in connection.execute(
                sa.select(InstanceExtra.instance_uuid, InstanceExtra.flavor,
                          InstanceExtra.network_info)
                .where(InstanceExtra.instance_uuid.in_(uuids)).order_by(InstanceExtra.id)):
            entry = found[uuid]
            if flavor:
                if flavor not in flavors:
                    flavors[flavor] = json.loads(flavor).get("cur")
                entry["flavor"] = flavors[flavor]
            else:
                entry["flavor"] = None
            entry["network_info"] = json.loads(network_info) if network_info else []
        for uuid, key, value in connection.execute(
                sa.select(InstanceMetadata.instance_uuid, InstanceMetadata.key,
                          InstanceMetadata.value)
                .where(InstanceMetadata.instance_uuid.in_(uuids), InstanceMetadata.deleted == 0)
                .order_by(InstanceMetadata.id)):
            found[uuid]["metadata"][key] = value
        if faults_of:
            for row in connection.execute(
                    sa.select(InstanceFault.__table__)
                    .where(InstanceFault.instance_uuid.in_(faults_of),
                           InstanceFault.deleted == 0)
                    .order_by(InstanceFault.created_at, InstanceFault.id)).mappings():
                found[row["instance_uuid"]]["fault"] = dict(row)  # the newest stays
        unaddressed = [uuid for uuid in uuids
                       if not _has_fixed_address(found[uuid]["network_info"])]
        if unaddressed:
            for address, uuid, label in connection.execute(
                    sa.select(FixedIp.address, FixedIp.instance_uuid, Network.label)
                    .join(Network, Network.id == FixedIp.network_id)
                    .where(FixedIp.instance_uuid.in_(unaddressed), FixedIp.deleted == 0)
                    .order_by(FixedIp.id)):
                found[uuid]["fixed_ips"].append({"address": address, "network": label})
    return found


def _has_fixed_address(network_info):
    """Whether a network info cache names an address: the flat network's
    form ({"fixed_ip": ...}) or upstream's VIF model (network.subnets.ips)."""
    for vif in network_info:
        if vif.get("fixed_ip"):
            return True
        for subnet in (vif.get("network") or {}).get("subnets") or []:
            if subnet.get("ips"):
                return True
    return False


def uuids_with_address(url, pattern):
    """The uuids of live instances with a fixed address matching the regular
    expression ``pattern`` (the servers API's ip filter)."""
    with session(url) as db:
        return set(db.scalars(sa.select(FixedIp.instance_uuid).where(
            FixedIp.instance_uuid.is_not(None), FixedIp.deleted == 0,
            FixedIp.address.regexp_match(pattern))))


def set_metadata(url, instance_uuid, metadata, replace=False):
    """Set the user metadata keys of ``metadata``; with ``replace`` the keys
    not in it are deleted. Returns the instance's whole metadata."""
    with session(url) as db:
        _set_rows(db, InstanceMetadata, instance_uuid, metadata, drop=lambda key: replace)
    return get_metadata(url, instance_uuid)


def delete_metadata_key(url, instance_uuid, key):
    """Delete one metadata key; False when the instance has no such key."""
    with session(url) as db:
        _get(db, instance_uuid)
        row = db.scalar(sa.select(InstanceMetadata).filter_by(
            instance_uuid=instance_uuid, key=key, deleted=0))
        if row is None:
            return False
        row.deleted, row.deleted_at = row.id, utcnow()
        return True


def _get(db, instance_uuid, lock=False):
    return one_row(db, sa.select(Instance).filter_by(uuid=instance_uuid, deleted=0),
                   _not_found(instance_uuid), lock)


def _not_found(instance_uuid):
    return exceptions.InstanceNotFound(f"Instance {instance_uuid} could not be found.")


def set_system_metadata(url, instance_uuid, values):
    """Set system metadata keys (a value None deletes its key); the other
    keys stay."""
    with session(url) as db:
        _set_rows(db, InstanceSystemMetadata, instance_uuid, values)


def set_image_system_metadata(url, instance_uuid, values):
    """Replace the instance's image_* system metadata with ``values`` (a
    rebuild's new image); the other system metadata keys stay."""
    with session(url) as db:
        _set_rows(db, InstanceSystemMetadata, instance_uuid, values,
                  drop=lambda key: key.startswith("image_"))


def _set_rows(db, model, instance_uuid, values, drop=lambda key: False):
    """Set the instance's key/value rows of ``model`` (metadata or system
    metadata) to ``values``, where None deletes a key; a key not in
    ``values`` is deleted when ``drop(key)`` says so."""
    _get(db, instance_uuid)
    now = utcnow()
    rows = {row.key: row for row in db.scalars(sa.select(model).filter_by(
        instance_uuid=instance_uuid, deleted=0))}
    for key, row in rows.items():
        if values.get(key) is not None:
            row.value = values[key]
        elif key in values or drop(key):
            row.deleted, row.deleted_at = row.id, now
    for key, value in values.items():
        if key not in rows and value is not None:
            db.add(model(instance_uuid=instance_uuid, key=key, value=value))
