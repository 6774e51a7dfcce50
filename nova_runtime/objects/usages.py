"""Instances that ran during a period, from every cell (cell0 included),
for os-simple-tenant-usage: deleted ones count too, as billing needs them."""

import json

import sqlalchemy as sa

from nova_runtime import cells
from nova_runtime.db.main import models

Instance, InstanceExtra = models.Instance, models.InstanceExtra


def active_in_window(db, start, stop, project_id=None):
    """[instance dict with its current ``flavor`` (or None)] of the instances
    launched before ``stop`` and not terminated before ``start``, each cell's
    in (project_id, uuid) order, cells in cell order (the order the marker of
    a page follows)."""
    def read(cell):
        with cells.session(cell.database_connection) as session:
            query = (sa.select(Instance, InstanceExtra.flavor)
                     .outerjoin(InstanceExtra, InstanceExtra.instance_uuid == Instance.uuid)
                     .where(sa.or_(Instance.terminated_at.is_(None), Instance.terminated_at > start),
                            Instance.launched_at < stop)
                     .order_by(Instance.project_id, Instance.uuid))
            if project_id is not None:
                query = query.where(Instance.project_id == project_id)
            found = []
            for row, flavor in session.execute(query):
                instance = {column.key: getattr(row, column.key)
                            for column in Instance.__table__.columns}
                instance["flavor"] = json.loads(flavor).get("cur") if flavor else None
                found.append(instance)
            return found
    result = []
    for _cell, instances in db.scatter(read, include_cell0=True):
        if not isinstance(instances, cells.CellDown):
            result.extend(instances)
    return result
