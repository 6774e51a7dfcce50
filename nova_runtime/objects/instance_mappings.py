"""Instance mappings, in the API database: which cell an instance lives in."""

import sqlalchemy as sa

from nova_runtime.db.api.models import CellMapping, InstanceMapping
from nova_runtime.objects import exceptions
from nova_runtime import cells
from nova_runtime.db import engines
from nova_runtime.cells import session


def get(api_url, instance_uuid):
    """{"instance_uuid", "project_id", "user_id", "queued_for_delete", "cell"}:
    ``cell`` is the cell mapping (a nova_runtime.cells.Cell), None while the
    instance is being scheduled."""
    found = get_many(api_url, [instance_uuid])
    if instance_uuid not in found:
        raise exceptions.InstanceMappingNotFound(
            f"Instance {instance_uuid} could not be found.")
    return found[instance_uuid]


def _mappings_statement():
    mapping, cell = InstanceMapping.__table__.c, CellMapping.__table__.c
    return (sa.select(mapping.instance_uuid, mapping.project_id, mapping.user_id,
                      mapping.queued_for_delete, cell.id, cell.uuid, cell.name,
                      cell.transport_url, cell.database_connection, cell.disabled)
            .select_from(InstanceMapping.__table__)
            .outerjoin(CellMapping.__table__, cell.id == mapping.cell_id)
            .where(mapping.instance_uuid.in_(sa.bindparam("uuids", expanding=True))))


# Core, the columns used, built once: nova-api reads the mapping of every
# server it is asked about (each poll of a server being built).
_MAPPINGS = _mappings_statement()


def get_many(api_url, instance_uuids):
    """{uuid: mapping as ``get`` returns it} of those of ``instance_uuids`` that exist."""
    if not instance_uuids:
        return {}
    # A plain connection: one statement, nothing to commit.
    with engines.get_engine(api_url).connect() as connection:
        rows = connection.execute(_MAPPINGS, {"uuids": list(instance_uuids)}).all()
    return {uuid: {
        "instance_uuid": uuid, "project_id": project_id, "user_id": user_id,
        "queued_for_delete": bool(queued_for_delete),
        "cell": None if cell_id is None else cells.Cell(
            cell_id, cell_uuid, name, transport_url, database_connection, bool(disabled))}
        for (uuid, project_id, user_id, queued_for_delete, cell_id, cell_uuid, name,
             transport_url, database_connection, disabled) in rows}


def queue_for_delete(api_url, instance_uuid):
    with session(api_url) as db:
        db.execute(sa.update(InstanceMapping).filter_by(instance_uuid=instance_uuid)
                   .values(queued_for_delete=True))
