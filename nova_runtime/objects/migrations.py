"""Migration records (resize and cold migration) and the instance's flavors
while one runs.

A migration row follows a move from request to end (upstream's statuses):

    pre-migrating  the conductor chose the destination; it claims there
    migrating      the source copies the disks (migrate_disk_and_power_off)
    post-migrating the copy is done; the instance's host is the destination
    finished       the destination runs it: VERIFY_RESIZE (vm_state resized)
    confirming -> confirmed     the source copy is removed
    reverting  -> reverted      back on the source with the old flavor
    error                       a step failed; the instance stayed or went back

While a migration is in progress both hosts count the instance (see
compute.resource_tracker): the source with the old flavor, the destination
with the new one. The flavors live in instance_extra.flavor as upstream keeps
them: {"cur": ..., "old": ..., "new": ...}; old and new are set from the
resize's start until its confirm or revert.
"""

import json
import uuid as uuidlib

import sqlalchemy as sa

from nova_runtime import cells
from nova_runtime.cells import session
from nova_runtime.db.main.models import InstanceExtra, Migration
from nova_runtime.objects import exceptions
from nova_runtime.objects._db import as_dict, check_fields, compare_and_set, one_row, read_row

PRE_MIGRATING = "pre-migrating"
MIGRATING = "migrating"
POST_MIGRATING = "post-migrating"
FINISHED = "finished"
CONFIRMING = "confirming"
CONFIRMED = "confirmed"
REVERTING = "reverting"
REVERTED = "reverted"
ERROR = "error"

# Statuses of a move that still holds resources on its hosts.
IN_PROGRESS = (PRE_MIGRATING, MIGRATING, POST_MIGRATING, FINISHED, CONFIRMING, REVERTING)

_FIXED = ("id", "uuid", "created_at", "deleted", "deleted_at")
UPDATABLE = tuple(column.key for column in Migration.__table__.columns
                  if column.key not in _FIXED)


def create(url, values):
    """A new migration row (``values``: its columns; a uuid is made); returns it."""
    check_fields(values, UPDATABLE, "a migration")
    with session(url) as db:
        row = Migration(uuid=str(uuidlib.uuid4()), **values)
        db.add(row)
    return as_dict(row)


def get(url, migration_id):
    with session(url) as db:
        return as_dict(_get(db, migration_id))


def update(url, migration_id, values, expected_statuses=None):
    """Set ``values``; with ``expected_statuses`` only if the status is one
    of them, else UnexpectedTaskState (_db.compare_and_set)."""
    check_fields(values, UPDATABLE, "a migration")
    table = Migration.__table__
    with session(url) as db:
        row = read_row(db, table, "id", migration_id,
                       not_found=_not_found(migration_id),
                       lock=expected_statuses is not None)
        return compare_and_set(db, table, row, values, "status", expected_statuses,
                               f"migration {migration_id}")


def for_instance(url, instance_uuid, statuses=None):
    """The instance's migrations, newest first (only those in ``statuses``)."""
    with session(url) as db:
        query = (sa.select(Migration).filter_by(instance_uuid=instance_uuid, deleted=0)
                 .order_by(Migration.id.desc()))
        if statuses is not None:
            query = query.filter(Migration.status.in_(list(statuses)))
        return [as_dict(row) for row in db.scalars(query)]


def in_progress_on_node(url, host, node):
    """Migrations in progress from or to ``node`` of ``host``, each with the
    instance's ``old_flavor`` and ``new_flavor`` (what the resource tracker
    counts on each side)."""
    on_source = sa.and_(Migration.source_compute == host, Migration.source_node == node)
    on_dest = sa.and_(Migration.dest_compute == host, Migration.dest_node == node)
    with session(url) as db:
        rows = db.execute(
            sa.select(Migration, InstanceExtra.flavor)
            .join(InstanceExtra, sa.and_(InstanceExtra.instance_uuid == Migration.instance_uuid,
                                         InstanceExtra.deleted == 0))
            .filter(Migration.deleted == 0, Migration.status.in_(IN_PROGRESS),
                    sa.or_(on_source, on_dest))
            .order_by(Migration.id)).all()
    found = []
    for migration, flavor in rows:
        flavors = json.loads(flavor or "{}")
        found.append(dict(as_dict(migration), old_flavor=flavors.get("old"),
                          new_flavor=flavors.get("new")))
    return found


# --- across cells (the API's os-migrations) ------------------------------------------

def _where(filters):
    """SQL conditions for the filters: status (one or a list), host (either
    end) or else source_compute, migration_type, hidden, instance_uuid,
    user_id, project_id, changes_since / changes_before (updated_at)."""
    clauses = [Migration.deleted == 0]
    if "status" in filters:
        statuses = filters["status"]
        clauses.append(Migration.status.in_([statuses] if isinstance(statuses, str)
                                            else list(statuses)))
    if "host" in filters:
        host = filters["host"]
        clauses.append(sa.or_(Migration.source_compute == host, Migration.dest_compute == host))
    elif "source_compute" in filters:
        clauses.append(Migration.source_compute == filters["source_compute"])
    for key in ("migration_type", "hidden", "instance_uuid", "user_id", "project_id"):
        if key in filters:
            clauses.append(getattr(Migration, key) == filters[key])
    if "changes_since" in filters:
        clauses.append(Migration.updated_at >= filters["changes_since"])
    if "changes_before" in filters:
        clauses.append(Migration.updated_at <= filters["changes_before"])
    return clauses


def list_all(dbs, filters):
    """[migration dict] matching ``filters``, newest first (created_at, then
    id, both descending, as upstream's sorted listing), over every cell
    (cell0 never holds one); ``dbs`` is the Databases (nova_runtime.cells)."""
    def read(cell):
        with session(cell.database_connection) as db:
            return [as_dict(row) for row in db.scalars(
                sa.select(Migration).where(*_where(filters)))]
    found = []
    for _cell, migrations in dbs.scatter(read):
        if not isinstance(migrations, cells.CellDown):
            found.extend(migrations)
    found.sort(key=lambda m: (m["created_at"], m["id"]), reverse=True)
    return found


def _get(db, migration_id, lock=False):
    return one_row(db, sa.select(Migration).filter_by(id=migration_id, deleted=0),
                   _not_found(migration_id), lock)


def _not_found(migration_id):
    return exceptions.NotFound(f"migration {migration_id} could not be found")
