"""Server groups (instance groups), their policy and members, in the API database.

The scheduler and the compute API read them; the API's os-server-groups
also creates, lists and deletes them. A group comes back as
{"id", "uuid", "name", "project_id", "user_id", "policy", "rules", "members"}.
"""

import json
import uuid

import sqlalchemy as sa

from nova_runtime.cells import session
from nova_runtime.db.api.models import InstanceGroup, InstanceGroupMember, InstanceGroupPolicy
from nova_runtime.objects import exceptions


def create(api_url, *, name, project_id, user_id, policy, rules=None):
    with session(api_url) as db:
        group = InstanceGroup(uuid=str(uuid.uuid4()), name=name, project_id=project_id,
                              user_id=user_id)
        db.add(group)
        db.flush()
        db.add(InstanceGroupPolicy(group_id=group.id, policy=policy,
                                   rules=json.dumps(rules) if rules else None))
        db.flush()
        return _as_dict(db, group)


def get(api_url, group_uuid):
    with session(api_url) as db:
        return _as_dict(db, _get(db, group_uuid))


def count(api_url, project_id):
    with session(api_url) as db:
        return db.scalar(sa.select(sa.func.count()).select_from(InstanceGroup)
                         .filter_by(project_id=project_id))


def list_groups(api_url, project_id=None, limit=None, offset=0):
    """Groups of ``project_id``, or of every project when it is None."""
    query = sa.select(InstanceGroup).order_by(InstanceGroup.id)
    if project_id is not None:
        query = query.filter_by(project_id=project_id)
    query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with session(api_url) as db:
        return [_as_dict(db, group) for group in db.scalars(query).all()]


def delete(api_url, group_uuid):
    with session(api_url) as db:
        group = _get(db, group_uuid)
        db.execute(sa.delete(InstanceGroupMember).filter_by(group_id=group.id))
        db.execute(sa.delete(InstanceGroupPolicy).filter_by(group_id=group.id))
        db.delete(group)


def _get(db, group_uuid):
    group = db.scalar(sa.select(InstanceGroup).filter_by(uuid=group_uuid))
    if group is None:
        raise exceptions.InstanceGroupNotFound(f"Instance group {group_uuid} could not be found.")
    return group


def _as_dict(db, group):
    policy = db.scalar(sa.select(InstanceGroupPolicy).filter_by(group_id=group.id))
    members = db.scalars(sa.select(InstanceGroupMember.instance_uuid)
                         .filter_by(group_id=group.id).order_by(InstanceGroupMember.id)).all()
    return {
        "id": group.id, "uuid": group.uuid, "name": group.name,
        "user_id": group.user_id, "project_id": group.project_id,
        "policy": policy.policy if policy else None,
        "rules": json.loads(policy.rules) if policy and policy.rules else {},
        "members": list(members),
    }
