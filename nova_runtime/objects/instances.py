"""Instance records, as computes read and update them during their lifecycle."""

import sqlalchemy as sa

from nova_runtime.db.main.models import Instance
from nova_runtime.objects import exceptions
from nova_runtime.objects._db import as_dict, session

# Columns that identify an instance or belong to the API's bookkeeping.
_FIXED = ("id", "uuid", "created_at", "deleted", "deleted_at")
UPDATABLE = tuple(column.key for column in Instance.__table__.columns if column.key not in _FIXED)


def get_by_uuid(url, instance_uuid):
    with session(url) as db:
        return as_dict(_get(db, instance_uuid))


def get_all_by_host(url, host, node=None):
    """The live instances of a compute host (and of one of its nodes)."""
    with session(url) as db:
        query = sa.select(Instance).filter_by(host=host, deleted=0).order_by(Instance.id)
        if node is not None:
            query = query.filter_by(node=node)
        return [as_dict(row) for row in db.scalars(query)]


def update(url, instance_uuid, values, expected_task_states=None):
    """Set ``values``; with ``expected_task_states`` (a list, which may hold
    None) only if the instance's task_state is one of them, else
    UnexpectedTaskState: the compare-and-swap that stops two requests acting
    on one instance at once."""
    unknown = sorted(set(values) - set(UPDATABLE))
    if unknown:
        raise exceptions.InvalidField(f"cannot set {', '.join(unknown)} of an instance")
    with session(url) as db:
        row = _get(db, instance_uuid)
        if expected_task_states is not None and row.task_state not in expected_task_states:
            raise exceptions.UnexpectedTaskState(
                f"instance {instance_uuid} has task_state {row.task_state!r}, "
                f"expected one of {list(expected_task_states)!r}")
        for key, value in values.items():
            setattr(row, key, value)
        return as_dict(row)


def _get(db, instance_uuid):
    row = db.scalar(sa.select(Instance).filter_by(uuid=instance_uuid, deleted=0))
    if row is None:
        raise exceptions.InstanceNotFound(f"instance {instance_uuid} could not be found")
    return row
