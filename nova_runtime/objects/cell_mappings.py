"""Cells v2 bookkeeping in the API database: cell mappings and host mappings.

nova-manage's cell_v2 commands and the scheduler's periodic host discovery both
call these functions. They raise the exceptions below; turning them into
messages and exit codes is the caller's business.
"""

import contextlib
import threading
import time
import uuid as uuidlib

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.engine import make_url

from nova_runtime.db import engines
from nova_runtime.db.api import models as api_models
from nova_runtime.db.main import models as main_models

CELL0_UUID = "00000000-0000-0000-0000-000000000000"
CELL0_NAME = "cell0"
# cell0 has no message queue: nothing runs in it, it only stores instances
# that failed before they reached a cell.
CELL0_TRANSPORT_URL = "none:///"


class CellError(Exception):
    """Base of the errors below; the message is meant for the operator."""


class CellNotFound(CellError):
    def __init__(self, cell_uuid):
        super().__init__(f"Cell with uuid {cell_uuid} was not found.")


class CellExists(CellError):
    def __init__(self, existing):
        super().__init__(
            "The specified transport_url and/or database_connection combination already "
            f"exists for another cell with uuid {existing.uuid}.")


class Cell0Immutable(CellError):
    def __init__(self):
        super().__init__("Cell0 cannot be updated or given hosts.")


class CellHasHosts(CellError):
    def __init__(self, cell_uuid):
        super().__init__(
            f"There are existing hosts mapped to cell with uuid {cell_uuid}.")


class CellHasInstances(CellError):
    def __init__(self, cell_uuid):
        super().__init__(
            f"There are existing instances mapped to cell with uuid {cell_uuid}.")


class CellHasInstanceMappings(CellError):
    def __init__(self, cell_uuid):
        super().__init__(
            f"There are instance mappings to cell with uuid {cell_uuid}, but all instances "
            "have been deleted in the cell. Use --force to delete the cell, its host "
            "mappings and its instance mappings.")


class HostNotFound(CellError):
    def __init__(self, host):
        super().__init__(f"The host {host} was not found.")


class HostInOtherCell(CellError):
    def __init__(self, host, cell_uuid):
        super().__init__(f"The host {host} was not found in the cell {cell_uuid}.")


class HostHasInstances(CellError):
    def __init__(self, host):
        super().__init__(f"There are instances on the host {host}.")


def cell0_connection(main_connection):
    """cell0's default database: [database] connection with '_cell0' appended to
    the database name, as upstream derives it (nova -> nova_cell0)."""
    url = make_url(main_connection)
    if not url.database:
        raise CellError(
            f"cannot derive the cell0 database from {engines.mask_password(main_connection)}: "
            "it names no database; pass --database_connection")
    return url.set(database=url.database + "_cell0").render_as_string(hide_password=False)


@contextlib.contextmanager
def _session(url):
    """A session that commits on success and keeps loaded objects usable after."""
    with orm.Session(engines.get_engine(url), expire_on_commit=False) as session:
        with session.begin():
            yield session


def list_cells(api_url):
    with _session(api_url) as session:
        return session.scalars(
            sa.select(api_models.CellMapping).order_by(api_models.CellMapping.name)).all()


def get_cell(api_url, cell_uuid):
    with _session(api_url) as session:
        return _get_cell(session, cell_uuid)


class CellCache:
    """Cell mappings by uuid for a daemon that looks one up per instance (the
    super-conductor, for every build): read again once older than ``ttl``
    seconds. Mappings change only through nova-manage, and upstream's
    services keep them until restarted; here a changed cell is seen within
    ``ttl``."""

    def __init__(self, api_url, ttl=60, clock=time.monotonic):
        self.api_url = api_url
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cells = {}  # cell uuid -> (read at, mapping)

    def get(self, cell_uuid):
        """The mapping (CellNotFound as get_cell)."""
        now = self._clock()
        with self._lock:
            cached = self._cells.get(cell_uuid)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        cell = get_cell(self.api_url, cell_uuid)
        with self._lock:
            self._cells[cell_uuid] = (now, cell)
        return cell


def _get_cell(session, cell_uuid):
    cell = session.scalar(
        sa.select(api_models.CellMapping).filter_by(uuid=cell_uuid))
    if cell is None:
        raise CellNotFound(cell_uuid)
    return cell


def map_cell0(api_url, database_connection):
    """Create cell0's mapping. Returns (mapping, created); an existing one is kept."""
    with _session(api_url) as session:
        existing = session.scalar(
            sa.select(api_models.CellMapping).filter_by(uuid=CELL0_UUID))
        if existing is not None:
            return existing, False
        cell = api_models.CellMapping(
            uuid=CELL0_UUID, name=CELL0_NAME, transport_url=CELL0_TRANSPORT_URL,
            database_connection=database_connection, disabled=False)
        session.add(cell)
        return cell, True


def create_cell(api_url, name, transport_url, database_connection, disabled=False):
    """Map a new cell. Raises CellExists when another cell has the same
    transport URL and database connection."""
    with _session(api_url) as session:
        existing = session.scalar(
            sa.select(api_models.CellMapping).filter_by(
                transport_url=transport_url, database_connection=database_connection))
        if existing is not None:
            raise CellExists(existing)
        cell = api_models.CellMapping(
            uuid=str(uuidlib.uuid4()), name=name, transport_url=transport_url,
            database_connection=database_connection, disabled=disabled)
        session.add(cell)
        return cell


def update_cell(api_url, cell_uuid, *, name=None, transport_url=None,
                database_connection=None, disabled=None):
    """Change the given fields of a cell; None leaves a field alone."""
    with _session(api_url) as session:
        cell = _get_cell(session, cell_uuid)
        if cell.uuid == CELL0_UUID and (transport_url or disabled is not None):
            raise Cell0Immutable()
        new_transport = transport_url or cell.transport_url
        new_connection = database_connection or cell.database_connection
        clash = session.scalar(
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
    with _session(api_url) as session:
        cell = _get_cell(session, cell_uuid)
        host_mappings = session.scalars(
            sa.select(api_models.HostMapping).filter_by(cell_id=cell.id)).all()
        if host_mappings and not force:
            raise CellHasHosts(cell_uuid)
        instance_mappings = session.scalars(
            sa.select(api_models.InstanceMapping).filter_by(cell_id=cell.id)).all()
        if instance_mappings:
            if _count_live_instances(cell.database_connection):
                raise CellHasInstances(cell_uuid)
            if not force:
                raise CellHasInstanceMappings(cell_uuid)
        for row in (*instance_mappings, *host_mappings):
            session.delete(row)
        session.flush()  # the models declare no relationships: order the deletes by hand
        session.delete(cell)


def _count_live_instances(cell_db_url, host=None):
    with _session(cell_db_url) as session:
        query = sa.select(sa.func.count()).select_from(main_models.Instance).filter_by(deleted=0)
        if host is not None:
            query = query.filter_by(host=host)
        return session.scalar(query)


def list_hosts(api_url, cell_uuid=None):
    """[(cell mapping, host name)] sorted by cell name, then host."""
    with _session(api_url) as session:
        query = (sa.select(api_models.CellMapping, api_models.HostMapping.host)
                 .join(api_models.HostMapping,
                       api_models.HostMapping.cell_id == api_models.CellMapping.id)
                 .order_by(api_models.CellMapping.name, api_models.HostMapping.host))
        if cell_uuid is not None:
            cell = _get_cell(session, cell_uuid)
            query = query.filter(api_models.CellMapping.id == cell.id)
        return [tuple(row) for row in session.execute(query)]


def delete_host(api_url, cell_uuid, host):
    """Remove a host's mapping, and mark its compute nodes unmapped so that a
    later discovery can map them again."""
    with _session(api_url) as session:
        cell = _get_cell(session, cell_uuid)
        mapping = session.scalar(sa.select(api_models.HostMapping).filter_by(host=host))
        if mapping is None:
            raise HostNotFound(host)
        if mapping.cell_id != cell.id:
            raise HostInOtherCell(host, cell_uuid)
        if _count_live_instances(cell.database_connection, host=host):
            raise HostHasInstances(host)
        with _session(cell.database_connection) as cell_session:
            cell_session.execute(
                sa.update(main_models.ComputeNode)
                .filter_by(host=host, deleted=0).values(mapped=0))
        session.delete(mapping)


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
    with _session(cell_db_url) as session:
        return sorted(set(session.scalars(
            sa.select(main_models.ComputeNode.host).filter_by(mapped=0, deleted=0))))


def _unmapped_service_hosts(cell_db_url):
    # Services carry no 'mapped' flag, so every nova-compute is a candidate;
    # _map_host skips the ones that already have a mapping.
    with _session(cell_db_url) as session:
        return sorted(set(session.scalars(
            sa.select(main_models.Service.host).filter_by(binary="nova-compute", deleted=0))))


def _map_host(api_url, cell, host, report):
    """Create host -> cell; False if the host is already mapped (to any cell)."""
    report(f"Checking host mapping for compute host '{host}': {cell.uuid}")
    try:
        with _session(api_url) as session:
            if session.scalar(sa.select(api_models.HostMapping).filter_by(host=host)):
                return False
            report(f"Creating host mapping for compute host '{host}': {cell.uuid}")
            session.add(api_models.HostMapping(host=host, cell_id=cell.id))
    except sa.exc.IntegrityError:
        return False  # mapped concurrently by another discovery
    return True


def _mark_mapped(cell_db_url, host):
    with _session(cell_db_url) as session:
        session.execute(
            sa.update(main_models.ComputeNode)
            .filter_by(host=host, deleted=0, mapped=0).values(mapped=1))


def unmapped_hosts(api_url):
    """{cell name or uuid: [host]} of compute hosts that discovery has not mapped."""
    result = {}
    for cell in list_cells(api_url):
        if cell.uuid == CELL0_UUID:
            continue
        with _session(api_url) as session:
            mapped = set(session.scalars(
                sa.select(api_models.HostMapping.host).filter_by(cell_id=cell.id)))
        hosts = [host for host in _unmapped_service_hosts(cell.database_connection)
                 if host not in mapped]
        hosts += [host for host in _unmapped_node_hosts(cell.database_connection)
                  if host not in mapped and host not in hosts]
        if hosts:
            result[cell.name or cell.uuid] = sorted(hosts)
    return result
