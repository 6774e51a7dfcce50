"""Migration records of every cell (cell0 never holds one), filtered as
upstream's os-migrations filters them."""

import sqlalchemy as sa

from nova_runtime.api.databases import CellDown
from nova_runtime.db.main import models

Migration = models.Migration


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


def list_all(db, filters):
    """[migration dict] matching ``filters``, newest first (created_at, then
    id, both descending, as upstream's sorted listing), over every cell."""
    def read(cell, session):
        rows = session.scalars(sa.select(Migration).where(*_where(filters)))
        return [{column.key: getattr(row, column.key) for column in Migration.__table__.columns}
                for row in rows]
    found = []
    for _cell, migrations in db.scatter(read):
        if not isinstance(migrations, CellDown):
            found.extend(migrations)
    found.sort(key=lambda m: (m["created_at"], m["id"]), reverse=True)
    return found
