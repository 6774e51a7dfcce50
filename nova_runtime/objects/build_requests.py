"""Requests on their way to a cell, in the API database: build requests,
request specs, and the instance mappings that point at them.

The API writes all three for each instance of a boot (``create``); the
super-conductor, once it created the instance in a cell, points the mapping
at that cell and deletes the build request (``mark_placed``). An instance is
therefore always findable: as a build request until its mapping names a cell,
then in that cell.
"""

import json

import sqlalchemy as sa
from oslo_db import exception as db_exc

from nova_runtime.db.api.models import (
    BuildRequest,
    InstanceGroup,
    InstanceGroupMember,
    InstanceMapping,
    RequestSpec,
)
from nova_runtime.db import engines
from nova_runtime.objects import exceptions
from nova_runtime.cells import session


def create(api_url, requests, group_uuid=None):
    """Write, in one transaction, for each of ``requests`` (dicts with
    ``instance``, the instance's column values with uuid, project_id and
    user_id, and ``request_spec``, a dict): its build request, its request
    spec and its instance mapping (no cell yet); and with ``group_uuid`` make
    each instance a member of that server group."""
    try:
        with session(api_url) as db:
            group_id = None
            if group_uuid is not None:
                group_id = db.scalar(sa.select(InstanceGroup.id).filter_by(uuid=group_uuid))
                if group_id is None:
                    raise exceptions.InstanceGroupNotFound(
                        f"instance group {group_uuid} could not be found")
            # Core inserts, the rows the mapped objects made (every create request).
            rows = {BuildRequest: [], RequestSpec: [], InstanceMapping: [],
                    InstanceGroupMember: []}
            for request in requests:
                instance = request["instance"]
                uuid = instance["uuid"]
                rows[BuildRequest].append({
                    "instance_uuid": uuid, "project_id": instance["project_id"],
                    "instance": json.dumps(instance), "block_device_mappings": "[]",
                    "tags": "[]"})
                rows[RequestSpec].append({"instance_uuid": uuid,
                                          "spec": json.dumps(request["request_spec"])})
                rows[InstanceMapping].append({
                    "instance_uuid": uuid, "cell_id": None, "project_id": instance["project_id"],
                    "user_id": instance.get("user_id"), "queued_for_delete": False})
                if group_id is not None:
                    rows[InstanceGroupMember].append({"group_id": group_id,
                                                      "instance_uuid": uuid})
            for model, values in rows.items():
                if values:
                    db.execute(sa.insert(model.__table__), values)
    except db_exc.DBDuplicateEntry as exc:
        raise exceptions.RecordError(
            f"a build request exists already ({', '.join(exc.columns)})") from None


# Core, built once (the API reads it at every poll of a server being
# scheduled, the conductor at every build): the four columns, not a mapped object.
_GET = sa.select(BuildRequest.__table__.c.instance_uuid, BuildRequest.__table__.c.project_id,
                 BuildRequest.__table__.c.instance, BuildRequest.__table__.c.created_at).where(
    BuildRequest.__table__.c.instance_uuid == sa.bindparam("instance_uuid"))


def get(api_url, instance_uuid):
    """{"instance_uuid", "project_id", "instance" (dict), "created_at"}."""
    # A plain connection: one statement, nothing to commit.
    with engines.get_engine(api_url).connect() as connection:
        row = connection.execute(_GET, {"instance_uuid": instance_uuid}).first()
        if row is None:
            raise exceptions.BuildRequestNotFound(
                f"no build request for instance {instance_uuid}")
        return {"instance_uuid": row.instance_uuid, "project_id": row.project_id,
                "instance": json.loads(row.instance), "created_at": row.created_at}


def delete(api_url, instance_uuid):
    """Delete the build request; False if there was none (any more)."""
    with session(api_url) as db:
        return db.execute(sa.delete(BuildRequest).filter_by(
            instance_uuid=instance_uuid)).rowcount > 0


def get_request_spec(api_url, instance_uuid):
    with session(api_url) as db:
        spec = db.scalar(sa.select(RequestSpec.spec).filter_by(instance_uuid=instance_uuid))
    if spec is None:
        raise exceptions.NotFound(f"no request spec for instance {instance_uuid}")
    return json.loads(spec)


def update_request_spec(api_url, instance_uuid, values):
    """Set the keys of ``values`` in the instance's request spec (an unshelve's
    new availability zone); returns the spec."""
    with session(api_url) as db:
        row = db.scalar(sa.select(RequestSpec).filter_by(instance_uuid=instance_uuid))
        if row is None:
            raise exceptions.NotFound(f"no request spec for instance {instance_uuid}")
        spec = dict(json.loads(row.spec), **values)
        row.spec = json.dumps(spec)
        return spec


def mark_placed(api_url, instance_uuid, cell_id):
    """The instance now lives in cell ``cell_id``: point its mapping there and
    delete its build request, in one transaction. Returns False when the
    build request was already gone: the user deleted the server meanwhile,
    or another conductor placed it (the mapping is then left as it was)."""
    requests, mappings = BuildRequest.__table__, InstanceMapping.__table__
    with session(api_url) as db:  # table-level statements: every build runs them
        if not db.execute(sa.delete(requests).where(
                requests.c.instance_uuid == instance_uuid)).rowcount:
            return False
        db.execute(sa.update(mappings).where(mappings.c.instance_uuid == instance_uuid)
                   .values(cell_id=cell_id))
        return True


def destroy(api_url, instance_uuids):
    """Remove what ``create`` wrote for ``instance_uuids`` (the request could
    not be handed to the conductor)."""
    uuids = list(instance_uuids)
    with session(api_url) as db:
        for model in (BuildRequest, RequestSpec, InstanceMapping, InstanceGroupMember):
            db.execute(sa.delete(model).filter(model.instance_uuid.in_(uuids)))
