"""A server's encrypted password, as its guest posted it to the metadata
service (openstack/<version>/password) and os-server-password shows it.

Kept in the instance's system metadata in CHUNKS keys password_0..3 of at
most CHUNK_LENGTH characters each, as upstream keeps it, so that a password
posted to either service reads the same. The guest writes it once:
set_once refuses a second password (PasswordAlreadySet) until the API
clears it.
"""

import sqlalchemy as sa

from nova_runtime.db.main.models import Instance, InstanceSystemMetadata
from nova_runtime.objects import exceptions
from nova_runtime.objects._db import one_row
from nova_runtime.cells import session

CHUNKS = 4
CHUNK_LENGTH = 255
MAX_SIZE = CHUNKS * CHUNK_LENGTH
KEYS = tuple(f"password_{index}" for index in range(CHUNKS))


class PasswordAlreadySet(exceptions.RecordError):
    """The guest posted its password already."""


def get(url, instance_uuid):
    """The password ("" when none was posted or it was cleared)."""
    with session(url) as db:
        _instance(db, instance_uuid)
        return _joined(_rows(db, instance_uuid))


def set_once(url, instance_uuid, password):
    """Store ``password`` (at most MAX_SIZE characters) unless one is stored."""
    if len(password) > MAX_SIZE:
        raise exceptions.InvalidField(f"a password has at most {MAX_SIZE} characters")
    with session(url) as db:
        _instance(db, instance_uuid, lock=True)  # two posts at once: one wins
        rows = _rows(db, instance_uuid)
        if _joined(rows):
            raise PasswordAlreadySet(f"instance {instance_uuid} has a password already")
        _write(db, instance_uuid, rows, password)


def clear(url, instance_uuid):
    """Forget the password (its keys stay, empty, as upstream leaves them)."""
    with session(url) as db:
        _instance(db, instance_uuid, lock=True)
        _write(db, instance_uuid, _rows(db, instance_uuid), "")


def _rows(db, instance_uuid):
    return {row.key: row for row in db.scalars(
        sa.select(InstanceSystemMetadata).where(
            InstanceSystemMetadata.instance_uuid == instance_uuid,
            InstanceSystemMetadata.deleted == 0, InstanceSystemMetadata.key.in_(KEYS)))}


def _joined(rows):
    return "".join(rows[key].value or "" for key in KEYS if key in rows)


def _write(db, instance_uuid, rows, password):
    for index, key in enumerate(KEYS):
        chunk = password[index * CHUNK_LENGTH:(index + 1) * CHUNK_LENGTH]
        if key in rows:
            rows[key].value = chunk
        else:
            db.add(InstanceSystemMetadata(instance_uuid=instance_uuid, key=key, value=chunk))


def _instance(db, instance_uuid, lock=False):
    one_row(db, sa.select(Instance.id).filter_by(uuid=instance_uuid, deleted=0),
            exceptions.InstanceNotFound(f"Instance {instance_uuid} could not be found."), lock)
