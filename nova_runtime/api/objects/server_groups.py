"""Server groups (instance groups), their policy and members, in the API database."""

import json
import uuid

import sqlalchemy as sa

from nova_runtime.api import errors
from nova_runtime.db.api import models

Group = models.InstanceGroup
Policy = models.InstanceGroupPolicy
Member = models.InstanceGroupMember


def _as_dict(session, group):
    policy = session.scalar(sa.select(Policy).filter_by(group_id=group.id))
    members = session.scalars(
        sa.select(Member.instance_uuid).filter_by(group_id=group.id).order_by(Member.id)).all()
    return {
        "id": group.id, "uuid": group.uuid, "name": group.name,
        "user_id": group.user_id, "project_id": group.project_id,
        "policy": policy.policy if policy else None,
        "rules": json.loads(policy.rules) if policy and policy.rules else {},
        "members": list(members),
    }


def create(db, *, name, project_id, user_id, policy, rules=None):
    with db.api() as session:
        group = Group(uuid=str(uuid.uuid4()), name=name, project_id=project_id,
                      user_id=user_id)
        session.add(group)
        session.flush()
        session.add(Policy(group_id=group.id, policy=policy,
                           rules=json.dumps(rules) if rules else None))
        session.flush()
        return _as_dict(session, group)


def count(db, project_id):
    with db.api() as session:
        return session.scalar(
            sa.select(sa.func.count()).select_from(Group).filter_by(project_id=project_id))


def list_groups(db, project_id=None, limit=None, offset=0):
    """Groups of ``project_id``, or of every project when it is None."""
    query = sa.select(Group).order_by(Group.id)
    if project_id is not None:
        query = query.filter_by(project_id=project_id)
    query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with db.api() as session:
        return [_as_dict(session, group) for group in session.scalars(query).all()]


def get(db, group_uuid):
    with db.api() as session:
        group = session.scalar(sa.select(Group).filter_by(uuid=group_uuid))
        if group is None:
            raise errors.NotFound(f"Instance group {group_uuid} could not be found.")
        return _as_dict(session, group)


def delete(db, group_uuid):
    with db.api() as session:
        group = session.scalar(sa.select(Group).filter_by(uuid=group_uuid))
        if group is None:
            raise errors.NotFound(f"Instance group {group_uuid} could not be found.")
        session.execute(sa.delete(Member).filter_by(group_id=group.id))
        session.execute(sa.delete(Policy).filter_by(group_id=group.id))
        session.delete(group)
