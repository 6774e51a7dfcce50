"""Server groups as the scheduler and the compute API read them (API database)."""

import json

import sqlalchemy as sa

from nova_runtime.db.api.models import InstanceGroup, InstanceGroupMember, InstanceGroupPolicy
from nova_runtime.objects import exceptions
from nova_runtime.objects._db import session


def get(api_url, group_uuid):
    """{"uuid", "name", "project_id", "user_id", "policy", "rules", "members"}."""
    with session(api_url) as db:
        group = db.scalar(sa.select(InstanceGroup).filter_by(uuid=group_uuid))
        if group is None:
            raise exceptions.InstanceGroupNotFound(
                f"instance group {group_uuid} could not be found")
        policy = db.scalar(sa.select(InstanceGroupPolicy).filter_by(group_id=group.id))
        members = db.scalars(sa.select(InstanceGroupMember.instance_uuid)
                             .filter_by(group_id=group.id).order_by(InstanceGroupMember.id))
        return {"uuid": group.uuid, "name": group.name, "project_id": group.project_id,
                "user_id": group.user_id, "policy": policy.policy if policy else None,
                "rules": json.loads(policy.rules) if policy and policy.rules else {},
                "members": list(members)}
