"""Instance records, as the conductor creates them and computes read and
update them during their lifecycle."""

import json

import sqlalchemy as sa
from oslo_db import exception as db_exc

from nova_runtime.db.base import utcnow
from nova_runtime.db.main.models import (
    Instance,
    InstanceExtra,
    InstanceMetadata,
    InstanceSystemMetadata,
)
from nova_runtime.objects import exceptions
from nova_runtime.objects._db import as_dict, session

# Columns that identify an instance or belong to the API's bookkeeping.
_FIXED = ("id", "uuid", "created_at", "deleted", "deleted_at")
UPDATABLE = tuple(column.key for column in Instance.__table__.columns if column.key not in _FIXED)


def create(url, values, *, flavor=None, metadata=None, system_metadata=None):
    """A new instance row (``values``: its columns, uuid included), with its
    instance_extra row (``flavor``: the flavor dict, kept as upstream keeps it:
    {"cur": flavor, "old": None, "new": None}), user ``metadata`` and
    ``system_metadata`` (dicts of strings). Returns the instance record."""
    unknown = sorted(set(values) - set(UPDATABLE) - {"uuid"})
    if unknown:
        raise exceptions.InvalidField(f"cannot set {', '.join(unknown)} of an instance")
    instance_uuid = values["uuid"]
    try:
        with session(url) as db:
            row = Instance(**values)
            db.add(row)
            db.flush()  # instance_extra and the metadata refer to its uuid
            db.add(InstanceExtra(
                instance_uuid=instance_uuid,
                flavor=json.dumps({"cur": flavor, "old": None, "new": None}),
                network_info="[]"))
            for key, value in (metadata or {}).items():
                db.add(InstanceMetadata(instance_uuid=instance_uuid, key=key, value=value))
            for key, value in (system_metadata or {}).items():
                db.add(InstanceSystemMetadata(instance_uuid=instance_uuid, key=key,
                                              value=value))
        return as_dict(row)
    except db_exc.DBDuplicateEntry:
        raise exceptions.RecordError(f"instance {instance_uuid} exists already") from None


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


def hosts_of(url, instance_uuids):
    """{uuid: host or None} of the live instances among ``instance_uuids``
    (deleted and unknown ones are left out)."""
    if not instance_uuids:
        return {}
    with session(url) as db:
        return dict(db.execute(
            sa.select(Instance.uuid, Instance.host)
            .filter(Instance.uuid.in_(list(instance_uuids)), Instance.deleted == 0)).all())


def get_flavor(url, instance_uuid):
    """The instance's current flavor (the dict given to create)."""
    with session(url) as db:
        extra = db.scalar(sa.select(InstanceExtra).filter_by(
            instance_uuid=instance_uuid, deleted=0))
        if extra is None or not extra.flavor:
            raise exceptions.InstanceNotFound(f"instance {instance_uuid} has no flavor record")
        return json.loads(extra.flavor)["cur"]


def get_metadata(url, instance_uuid, system=False):
    """The instance's user metadata (or with ``system``, its system metadata)."""
    model = InstanceSystemMetadata if system else InstanceMetadata
    with session(url) as db:
        return {row.key: row.value for row in db.scalars(
            sa.select(model).filter_by(instance_uuid=instance_uuid, deleted=0)
            .order_by(model.id))}


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


def destroy(url, instance_uuid, values=None):
    """Soft-delete the instance (setting ``values`` first, e.g. vm_state
    deleted) with its instance_extra and metadata rows; its faults and actions
    stay, as upstream keeps them. Returns the deleted record."""
    values = dict(values or {})
    unknown = sorted(set(values) - set(UPDATABLE))
    if unknown:
        raise exceptions.InvalidField(f"cannot set {', '.join(unknown)} of an instance")
    now = utcnow()
    with session(url) as db:
        row = _get(db, instance_uuid)
        for key, value in values.items():
            setattr(row, key, value)
        row.deleted, row.deleted_at = row.id, now
        for model in (InstanceExtra, InstanceMetadata, InstanceSystemMetadata):
            db.execute(sa.update(model).filter_by(instance_uuid=instance_uuid, deleted=0)
                       .values(deleted=model.id, deleted_at=now))
        return as_dict(row)


def _get(db, instance_uuid):
    row = db.scalar(sa.select(Instance).filter_by(uuid=instance_uuid, deleted=0))
    if row is None:
        raise exceptions.InstanceNotFound(f"instance {instance_uuid} could not be found")
    return row
