"""Instance mappings, in the API database: which cell an instance lives in."""

import sqlalchemy as sa

from nova_runtime.db.api.models import CellMapping, InstanceMapping
from nova_runtime.objects import exceptions
from nova_runtime.cells import session


def get(api_url, instance_uuid):
    """{"instance_uuid", "project_id", "user_id", "queued_for_delete", "cell"}:
    ``cell`` is the CellMapping (detached), None while the instance is being
    scheduled."""
    found = get_many(api_url, [instance_uuid])
    if instance_uuid not in found:
        raise exceptions.InstanceMappingNotFound(
            f"Instance {instance_uuid} could not be found.")
    return found[instance_uuid]


def get_many(api_url, instance_uuids):
    """{uuid: mapping as ``get`` returns it} of those of ``instance_uuids`` that exist."""
    if not instance_uuids:
        return {}
    with session(api_url) as db:
        rows = db.execute(
            sa.select(InstanceMapping, CellMapping)
            .outerjoin(CellMapping, CellMapping.id == InstanceMapping.cell_id)
            .filter(InstanceMapping.instance_uuid.in_(list(instance_uuids)))).all()
        return {mapping.instance_uuid: {
            "instance_uuid": mapping.instance_uuid, "project_id": mapping.project_id,
            "user_id": mapping.user_id, "queued_for_delete": bool(mapping.queued_for_delete),
            "cell": cell} for mapping, cell in rows}


def queue_for_delete(api_url, instance_uuid):
    with session(api_url) as db:
        db.execute(sa.update(InstanceMapping).filter_by(instance_uuid=instance_uuid)
                   .values(queued_for_delete=True))
