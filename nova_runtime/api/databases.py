"""The API database and, through its cell mappings, every cell database.

``Databases`` is what handlers and object functions receive: a session on the
API database, a session on one cell's database, and ``scatter`` to run a
function in every cell (services, hypervisors, instance counts; servers later).
A cell whose database does not answer is reported as ``CellDown`` instead of
failing the whole request, so that callers can skip it or show it as UNKNOWN.
"""

import contextlib
import dataclasses
import logging
import threading
import time

import sqlalchemy as sa
from oslo_db import exception as db_exc
from sqlalchemy import orm

from nova_runtime.cells import CELL0_UUID
from nova_runtime.db import engines
from nova_runtime.db.api import models as api_models

LOG = logging.getLogger(__name__)

# Cell mappings change rarely (nova-manage cell_v2 create_cell): re-read them
# at most this often rather than on every request.
CELL_CACHE_SECONDS = 30


@dataclasses.dataclass(frozen=True)
class Cell:
    """A cell mapping, detached from any session."""

    id: int
    uuid: str
    name: str | None
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
    def __init__(self, api_url):
        self.api_url = api_url
        self._cells = None
        self._cells_read_at = 0.0
        self._lock = threading.Lock()

    # --- sessions -----------------------------------------------------------

    @contextlib.contextmanager
    def api(self):
        """A session on the API database; commits when the block succeeds."""
        with _session(self.api_url) as session:
            yield session

    @contextlib.contextmanager
    def cell(self, cell):
        with _session(cell.database_connection) as session:
            yield session

    # --- cells --------------------------------------------------------------

    def cells(self, include_cell0=True):
        with self._lock:
            if self._cells is None or time.monotonic() - self._cells_read_at > CELL_CACHE_SECONDS:
                with self.api() as session:
                    rows = session.scalars(
                        sa.select(api_models.CellMapping).order_by(api_models.CellMapping.id))
                    self._cells = [
                        Cell(row.id, row.uuid, row.name, row.database_connection,
                             bool(row.disabled)) for row in rows]
                self._cells_read_at = time.monotonic()
            cells = list(self._cells)
        return cells if include_cell0 else [cell for cell in cells if not cell.is_cell0]

    def scatter(self, function, include_cell0=False):
        """[(cell, function(cell, session) or CellDown)] over every cell, in
        cell order. Runs one cell after the other: a handful of cells answer
        faster than threads start."""
        results = []
        for cell in self.cells(include_cell0=include_cell0):
            try:
                with self.cell(cell) as session:
                    results.append((cell, function(cell, session)))
            except (engines.DatabaseUnavailable, db_exc.DBConnectionError,
                    sa.exc.OperationalError) as exc:
                LOG.warning("Cell %s (%s) did not answer: %s", cell.name, cell.uuid, exc)
                results.append((cell, CellDown(cell, exc)))
        return results

    def cell_of_host(self, host):
        """The Cell that ``host`` is mapped to, or None."""
        with self.api() as session:
            cell_id = session.scalar(
                sa.select(api_models.HostMapping.cell_id).filter_by(host=host))
        if cell_id is None:
            return None
        return next((cell for cell in self.cells() if cell.id == cell_id), None)


@contextlib.contextmanager
def _session(url):
    with orm.Session(engines.get_engine(url), expire_on_commit=False) as session:
        with session.begin():
            yield session
