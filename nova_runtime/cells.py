"""How every process reaches the API database and each cell's database.

- ``session(url)``: a transaction on one database (the API's or a cell's).
- ``DOWN_ERRORS``: what a database that does not answer raises.
- ``Databases``: the API database, the cell mappings read through a cache,
  and ``scatter`` to run a function in every cell, a cell that is down
  reported as ``CellDown`` instead of failing the whole call.

Creating and changing cell mappings (nova-manage cell_v2) is
nova_runtime.objects.cell_mappings'; RPC clients per cell are
nova_runtime.compute.rpcapi.CellClients'.
"""

import contextlib
import dataclasses
import logging
import threading
import time

import sqlalchemy as sa
from oslo_db import exception as db_exc
from sqlalchemy import orm

from nova_runtime.db import engines
from nova_runtime.db.api import models as api_models
from nova_runtime.objects.exceptions import CellNotFound

LOG = logging.getLogger(__name__)

CELL0_UUID = "00000000-0000-0000-0000-000000000000"
CELL0_NAME = "cell0"
# cell0 has no message queue: nothing runs in it, it only stores instances
# that failed before they reached a cell.
CELL0_TRANSPORT_URL = "none:///"

# A database that cannot serve: not configured or unreachable at start-up
# (DatabaseUnavailable), connection lost or refused (oslo.db wraps those as
# DBConnectionError), a server error on an open connection, or a database
# or schema that is not there yet (created, but not synced).
DOWN_ERRORS = (engines.DatabaseUnavailable, db_exc.DBConnectionError, sa.exc.OperationalError,
               db_exc.DBNonExistentDatabase, db_exc.DBNonExistentTable)

# Cell mappings change rarely (nova-manage cell_v2 create_cell): re-read them
# at most this often rather than on every request. Upstream's services keep
# them until restarted; here a changed cell is seen within this time.
CELL_CACHE_SECONDS = 30


@contextlib.contextmanager
def session(url):
    """A transaction on the database at ``url``: commits on success.

    On SQLite (tests, the embedded mode) the transaction takes the write lock
    up front (BEGIN IMMEDIATE). oslo.db begins with a deferred BEGIN, and a
    deferred transaction that reads, then writes while another thread or
    process writes fails at once with "database is locked"; an immediate one
    waits for the lock instead (pysqlite's busy timeout)."""
    engine = engines.get_engine(url)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            # oslo.db's "begin" listener emits BEGIN unless this marker is set;
            # its commit/rollback listeners clear it.
            connection.info["in_transaction"] = True
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.begin()
        # The session joins the connection's transaction; this function ends it.
        with orm.Session(bind=connection, expire_on_commit=False,
                         join_transaction_mode="rollback_only") as db_session:
            try:
                yield db_session
                db_session.flush()
            except BaseException:
                connection.rollback()
                raise
            connection.commit()


@dataclasses.dataclass(frozen=True)
class Cell:
    """A cell mapping, detached from any session."""

    id: int
    uuid: str
    name: str | None
    transport_url: str
    database_connection: str
    disabled: bool

    @property
    def is_cell0(self):
        return self.uuid == CELL0_UUID


@dataclasses.dataclass
class CellDown:
    """The result ``scatter`` gives for a cell whose database failed."""

    cell: Cell
    error: Exception


class Databases:
    """The API database at ``api_url`` and, through its cell mappings, every
    cell's. One per process: its mapping cache is shared by all threads."""

    def __init__(self, api_url, clock=time.monotonic):
        self.api_url = api_url
        self._clock = clock
        self._cells = None
        self._cells_read_at = 0.0
        self._lock = threading.Lock()

    def api(self):
        """A session on the API database; commits when the block succeeds."""
        return session(self.api_url)

    def cell(self, cell):
        """A session on ``cell``'s database."""
        return session(cell.database_connection)

    def cells(self, include_cell0=True):
        """Every cell mapping, in id order."""
        with self._lock:
            if (self._cells is None
                    or self._clock() - self._cells_read_at > CELL_CACHE_SECONDS):
                self._read_cells()
            cells = list(self._cells)
        return cells if include_cell0 else [cell for cell in cells if not cell.is_cell0]

    def cell_by_uuid(self, cell_uuid):
        """The mapping of ``cell_uuid``; one created since the last read is
        read at once. CellNotFound if there is none."""
        cell = next((cell for cell in self.cells() if cell.uuid == cell_uuid), None)
        if cell is None:
            with self._lock:
                self._read_cells()
                cell = next((cell for cell in self._cells if cell.uuid == cell_uuid), None)
        if cell is None:
            raise CellNotFound(cell_uuid)
        return cell

    def scatter(self, function, include_cell0=False):
        """[(cell, function(cell) or CellDown)] over every cell, in cell
        order; ``function`` opens what it needs of the cell. Runs one cell
        after the other: a handful of cells answer faster than threads start."""
        results = []
        for cell in self.cells(include_cell0=include_cell0):
            try:
                results.append((cell, function(cell)))
            except DOWN_ERRORS as exc:
                LOG.warning("Cell %s (%s) did not answer: %s", cell.name, cell.uuid, exc)
                results.append((cell, CellDown(cell, exc)))
        return results

    def _read_cells(self):
        with self.api() as api_session:
            rows = api_session.scalars(
                sa.select(api_models.CellMapping).order_by(api_models.CellMapping.id))
            self._cells = [
                Cell(row.id, row.uuid, row.name, row.transport_url,
                     row.database_connection, bool(row.disabled)) for row in rows]
        self._cells_read_at = self._clock()
