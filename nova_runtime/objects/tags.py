"""Server tags (Compute API 2.26): the tags table of a cell database.

A tag is a string of 1 to 60 characters without '/' or ','; a server has at
most MAX_PER_SERVER of them. The API checks the form; these functions keep
the count (TooManyTags) under a lock on the instance's row, so that two
requests adding tags at once cannot pass the limit together. Tags have no
history: a deleted tag (or one of a deleted instance) is gone.

``filter_clause`` makes the servers list's tag filters (tags, tags-any,
not-tags, not-tags-any) into conditions on the instances of a query.
"""

import sqlalchemy as sa

from nova_runtime.db.main.models import Instance, Tag
from nova_runtime.objects import exceptions
from nova_runtime.cells import session

MAX_PER_SERVER = 50
MAX_LENGTH = 60


class TooManyTags(exceptions.Invalid):
    """Adding the tag would give the server more than MAX_PER_SERVER."""


def get(url, instance_uuid):
    """The live instance's tags, sorted (InstanceNotFound if it is not live)."""
    with session(url) as db:
        _instance(db, instance_uuid)
        return _tags(db, instance_uuid)


def exists(url, instance_uuid, tag):
    with session(url) as db:
        _instance(db, instance_uuid)
        return db.scalar(sa.select(Tag.tag).filter_by(resource_id=instance_uuid,
                                                       tag=tag)) is not None


def add(url, instance_uuid, tag):
    """Add one tag: True if it is new, False if the server had it already.
    TooManyTags when the server has MAX_PER_SERVER tags (and not this one)."""
    with session(url) as db:
        _instance(db, instance_uuid, lock=True)
        current = _tags(db, instance_uuid)
        if tag in current:
            return False
        if len(current) >= MAX_PER_SERVER:
            raise TooManyTags(f"The number of tags exceeded the per-server limit "
                              f"{MAX_PER_SERVER}")
        db.add(Tag(resource_id=instance_uuid, tag=tag))
        return True


def replace(url, instance_uuid, tags):
    """Make the server's tags exactly ``tags`` (duplicates count once);
    returns them sorted."""
    wanted = set(tags)
    if len(wanted) > MAX_PER_SERVER:
        raise TooManyTags(f"The number of tags exceeded the per-server limit "
                          f"{MAX_PER_SERVER}")
    with session(url) as db:
        _instance(db, instance_uuid, lock=True)
        db.execute(sa.delete(Tag).where(Tag.resource_id == instance_uuid))
        db.add_all(Tag(resource_id=instance_uuid, tag=tag) for tag in sorted(wanted))
    return sorted(wanted)


def delete(url, instance_uuid, tag):
    """Remove one tag; False when the server has no such tag."""
    with session(url) as db:
        _instance(db, instance_uuid, lock=True)
        result = db.execute(sa.delete(Tag).where(Tag.resource_id == instance_uuid,
                                                 Tag.tag == tag))
        return result.rowcount > 0


def delete_all(url, instance_uuid, db=None):
    """Remove every tag of the server (``db``: within that session, as
    objects.instances.destroy does; then the instance is not checked)."""
    if db is not None:
        db.execute(sa.delete(Tag).where(Tag.resource_id == instance_uuid))
        return
    with session(url) as db:
        _instance(db, instance_uuid, lock=True)
        db.execute(sa.delete(Tag).where(Tag.resource_id == instance_uuid))


def of_instances(connection, instance_uuids):
    """{uuid: [tag, ...] sorted} of ``instance_uuids`` over an open
    connection; instances without tags are left out."""
    found = {}
    if not instance_uuids:
        return found
    for uuid, tag in connection.execute(
            sa.select(Tag.resource_id, Tag.tag)
            .where(Tag.resource_id.in_(list(instance_uuids)))
            .order_by(Tag.resource_id, Tag.tag)):
        found.setdefault(uuid, []).append(tag)
    return found


# --- the servers list's filters ------------------------------------------------------

# Filter name (objects.instances.query's) -> (all of them?, negated?)
FILTERS = {"tags": (True, False), "tags_any": (False, False),
           "not_tags": (True, True), "not_tags_any": (False, True)}


def filter_clause(name, tags):
    """The condition on Instance rows of one tag filter (``tags``: a list):
    tags (has every one), tags_any (has one at least), not_tags (lacks one
    at least), not_tags_any (has none of them)."""
    every, negated = FILTERS[name]
    tags = sorted(set(tags))
    matching = (sa.select(Tag.resource_id)
                .where(Tag.resource_id == Instance.uuid, Tag.tag.in_(tags)))
    if every:
        has = (sa.select(sa.func.count())
               .where(Tag.resource_id == Instance.uuid, Tag.tag.in_(tags))
               .scalar_subquery() == len(tags))
    else:
        has = matching.exists()
    return sa.not_(has) if negated else has


def matches(name, tags, instance_tags):
    """filter_clause's test in Python, for a server without rows yet (a
    build request, whose tags are ``instance_tags``)."""
    every, negated = FILTERS[name]
    wanted, have = set(tags), set(instance_tags or ())
    has = wanted <= have if every else bool(wanted & have)
    return not has if negated else has


def _tags(db, instance_uuid):
    return list(db.scalars(sa.select(Tag.tag).filter_by(resource_id=instance_uuid)
                           .order_by(Tag.tag)))


def _instance(db, instance_uuid, lock=False):
    query = sa.select(Instance.id).filter_by(uuid=instance_uuid, deleted=0)
    if lock:
        query = query.with_for_update()
    if db.scalar(query) is None:
        raise exceptions.InstanceNotFound(f"Instance {instance_uuid} could not be found.")
