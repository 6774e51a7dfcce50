"""Cell mappings and host mappings in the API database (cells v2 bookkeeping).

nova-manage's cell_v2 commands and the scheduler's periodic host discovery
call these functions. They raise the CellError family of
nova_runtime.objects.exceptions, whose messages are meant for the operator;
turning them into exit codes is the caller's business. Reaching a cell at run
time (sessions, the mapping cache) is nova_runtime.cells'.
"""

import uuid as uuidlib

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from nova_runtime.cells import CELL0_NAME, CELL0_TRANSPORT_URL, CELL0_UUID, session
from nova_runtime.db import engines
from nova_runtime.db.api import models as api_models
from nova_runtime.db.main import models as main_models
from nova_runtime.objects.exceptions import (
    Cell0Immutable, CellError, CellExists, CellHasHosts, CellHasInstanceMappings,
    CellHasInstances, CellNotFound, HostHasInstances, HostInOtherCell, HostNotFound)

def cell0_connection(main_connection):
    """cell0's default database: [database] connection with '_cell0' appended to
    the database name, as upstream derives it (nova -> nova_cell0)."""
    url = make_url(main_connection)
    if not url.database:
        raise CellError(
            f"cannot derive the cell0 database from {engines.mask_password(main_connection)}: "
            "it names no database; pass --database_connection")
    return url.set(database=url.database + "_cell0").render_as_string(hide_password=False)


def list_cells(api_url):
    with session(api_url) as db:
        return db.scalars(
            sa.select(api_models.CellMapping).order_by(api_models.CellMapping.name)).all()


def get_cell(api_url, cell_uuid):
    with session(api_url) as db:
        return _get_cell(db, cell_uuid)


def _get_cell(db, cell_uuid):
    cell = db.scalar(
        sa.select(api_models.CellMapping).filter_by(uuid=cell_uuid))
    if cell is None:
        raise CellNotFound(cell_uuid)
    return cell


def map_cell0(api_url, database_connection):
    """Create cell0's mapping. Returns (mapping, created); an existing one is kept."""
    with session(api_url) as db:
        existing = db.scalar(
            sa.select(api_models.CellMapping).filter_by(uuid=CELL0_UUID))
        if existing is not None:
            return existing, False
        cell = api_models.CellMapping(
            uuid=CELL0_UUID, name=CELL0_NAME, transport_url=CELL0_TRANSPORT_URL,
            database_connection=database_connection, disabled=False)
        db.add(cell)
        return cell, True


def create_cell(api_url, name, transport_url, database_connection, disabled=False):
    """Map a new cell. Raises CellExists when another cell has the same
    transport URL and database connection."""
    with session(api_url) as db:
        existing = db.scalar(
            sa.select(api_models.CellMapping).filter_by(
                transport_url=transport_url, database_connection=database_connection))
        if existing is not None:
            raise CellExists(existing)
        cell = api_models.CellMapping(
            uuid=str(uuidlib.uuid4()), name=name, transport_url=transport_url,
            database_connection=database_connection, disabled=disabled)
        db.add(cell)
        return cell


def update_cell(api_url, cell_uuid, *, name=None, transport_url=None,
                database_connection=None, disabled=None):
    """Change the given fields of a cell; None leaves a field alone."""
    with session(api_url) as db:
        cell = _get_cell(db, cell_uuid)
        if cell.uuid == CELL0_UUID and (transport_url or disabled is not None):
            raise Cell0Immutable()
        new_transport = transport_url or cell.transport_url
        new_connection = database_connection or cell.database_connection
        clash = db.scalar(
            sa.select(api_models.CellMapping).filter(
                api_models.CellMapping.uuid != cell.uuid,
                api_models.CellMapping.transport_url == new_transport,
                api_models.CellMapping.database_connection == new_connection))
        if clash is not None:
            raise CellExists(clash)
        if name is not None:
            cell.name = name
        cell.transport_url = new_transport
        cell.database_connection = new_connection
        if disabled is not None:
            cell.disabled = disabled
        return cell


def delete_cell(api_url, cell_uuid, force=False):
    """Delete an empty cell's mapping; with force, also its host mappings and the
    instance mappings of instances that no longer exist."""
    with session(api_url) as db:
        cell = _get_cell(db, cell_uuid)
        host_mappings = db.scalars(
            sa.select(api_models.HostMapping).filter_by(cell_id=cell.id)).all()
        if host_mappings and not force:
            raise CellHasHosts(cell_uuid)
        instance_mappings = db.scalars(
            sa.select(api_models.InstanceMapping).filter_by(cell_id=cell.id)).all()
        if instance_mappings:
            if _count_live_instances(cell.database_connection):
                raise CellHasInstances(cell_uuid)
            if not force:
                raise CellHasInstanceMappings(cell_uuid)
        for row in (*instance_mappings, *host_mappings):
            db.delete(row)
        db.flush()  # the models declare no relationships: order the deletes by hand
        db.delete(cell)


def _count_live_instances(cell_db_url, host=None):
    with session(cell_db_url) as db:
        query = sa.select(sa.func.count()).select_from(main_models.Instance).filter_by(deleted=0)
        if host is not None:
            query = query.filter_by(host=host)
        return db.scalar(query)


def list_hosts(api_url, cell_uuid=None):
    """[(cell mapping, host name)] sorted by cell name, then host."""
    with session(api_url) as db:
        query = (sa.select(api_models.CellMapping, api_models.HostMapping.host)
                 .join(api_models.HostMapping,
                       api_models.HostMapping.cell_id == api_models.CellMapping.id)
                 .order_by(api_models.CellMapping.name, api_models.HostMapping.host))
        if cell_uuid is not None:
            cell = _get_cell(db, cell_uuid)
            query = query.filter(api_models.CellMapping.id == cell.id)
        return [tuple(row) for row in db.execute(query)]


def delete_host(api_url, cell_uuid, host):
    """Remove a host's mapping, and mark its compute nodes unmapped so that a
    later discovery can map them again."""
    with session(api_url) as db:
        cell = _get_cell(db, cell_uuid)
        mapping = db.scalar(sa.select(api_models.HostMapping).filter_by(host=host))
        if mapping is None:
            raise HostNotFound(host)
        if mapping.cell_id != cell.id:
            raise HostInOtherCell(host, cell_uuid)
        if _count_live_instances(cell.database_connection, host=host):
            raise HostHasInstances(host)
        with session(cell.database_connection) as cell_db:
            cell_db.execute(
                sa.update(main_models.ComputeNode)
                .filter_by(host=host, deleted=0).values(mapped=0))
        db.delete(mapping)


def discover_hosts(api_url, cell_uuid=None, by_service=False, report=lambda message: None):
    """Map every compute host of every cell (or of one cell) that has no host mapping.

    by_service looks at nova-compute service records instead of compute nodes,
    which finds computes whose driver has not reported a node yet. ``report``
    receives a line per step (nova-manage's --verbose). Returns the new
    HostMapping rows. Concurrent discoveries are safe: a host mapped meanwhile
    by someone else is skipped.
    """
    cells = [get_cell(api_url, cell_uuid)] if cell_uuid else list_cells(api_url)
    report(f"Found {len(cells)} cell mappings.")
    created = []
    for cell in cells:
        if cell.uuid == CELL0_UUID:
            report("Skipping cell0 since it does not contain hosts.")
            continue
        label = f"'{cell.name}': {cell.uuid}" if cell.name else cell.uuid
        report(f"Getting computes from cell {label}")
        finder = _unmapped_service_hosts if by_service else _unmapped_node_hosts
        hosts = finder(cell.database_connection)
        report(f"Found {len(hosts)} unmapped computes in cell: {cell.uuid}")
        for host in hosts:
            if _map_host(api_url, cell, host, report):
                created.append(host)
            _mark_mapped(cell.database_connection, host)
    return created


def _unmapped_node_hosts(cell_db_url):
    with session(cell_db_url) as db:
        return sorted(set(db.scalars(
            sa.select(main_models.ComputeNode.host).filter_by(mapped=0, deleted=0))))


def _unmapped_service_hosts(cell_db_url):
    # Services carry no 'mapped' flag, so every nova-compute is a candidate;
    # _map_host skips the ones that already have a mapping.
    with session(cell_db_url) as db:
        return sorted(set(db.scalars(
            sa.select(main_models.Service.host).filter_by(binary="nova-compute", deleted=0))))


def _map_host(api_url, cell, host, report):
    """Create host -> cell; False if the host is already mapped (to any cell)."""
    report(f"Checking host mapping for compute host '{host}': {cell.uuid}")
    try:
        with session(api_url) as db:
            if db.scalar(sa.select(api_models.HostMapping).filter_by(host=host)):
                return False
            report(f"Creating host mapping for compute host '{host}': {cell.uuid}")
            db.add(api_models.HostMapping(host=host, cell_id=cell.id))
    except sa.exc.IntegrityError:
        return False  # mapped concurrently by another discovery
    return True


def _mark_mapped(cell_db_url, host):
    with session(cell_db_url) as db:
        db.execute(
            sa.update(main_models.ComputeNode)
            .filter_by(host=host, deleted=0, mapped=0).values(mapped=1))


def unmapped_hosts(api_url):
    """{cell name or uuid: [host]} of compute hosts that discovery has not mapped."""
    result = {}
    for cell in list_cells(api_url):
        if cell.uuid == CELL0_UUID:
            continue
        with session(api_url) as db:
            mapped = set(db.scalars(
                sa.select(api_models.HostMapping.host).filter_by(cell_id=cell.id)))
        hosts = [host for host in _unmapped_service_hosts(cell.database_connection)
                 if host not in mapped]
        hosts += [host for host in _unmapped_node_hosts(cell.database_connection)
                  if host not in mapped and host not in hosts]
        if hosts:
            result[cell.name or cell.uuid] = sorted(hosts)
    return result
