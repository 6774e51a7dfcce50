"""Row conversion shared by the record modules (sessions: nova_runtime.cells)."""

import contextlib
import functools

import sqlalchemy as sa

from nova_runtime.cells import session
from nova_runtime.db.base import utcnow
from nova_runtime.objects import exceptions


@contextlib.contextmanager
def within(url, db=None):
    """``db``, the caller's session or connection (its transaction: several
    record functions in one, as nova-conductor's build calls do; the quota
    lock's connection), or a session of its own on ``url``."""
    if db is not None:
        yield db
        return
    with session(url) as db:
        yield db


def as_dict(row):
    """Every column of an ORM row, by column name."""
    return {column.name: getattr(row, column.key)
            for column in row.__table__.columns}


def one_row(db, query, not_found, lock=False):
    """The row ``query`` selects (read FOR UPDATE with ``lock``); raises
    ``not_found`` (an exception) when there is none."""
    row = db.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise not_found
    return row


def check_fields(values, allowed, what):
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise exceptions.InvalidField(f"cannot set {', '.join(unknown)} of {what}")


# --- Core statements for the hot paths ----------------------------------------------
# Every build updates its instance twice and its node once, and starts and ends
# an action event: plain rows and Core statements there, not mapped objects,
# which cost several times the statements. They write what the ORM's flush
# writes: an UPDATE of the columns whose value changes, with updated_at (the
# column's onupdate) when any does, and none when nothing changes.

# The statements are built once per table (and key column, and lock), with bound
# parameters: building one and working out its cache key cost more than
# running it.

def read_row(db, table, key, value, *, not_found, lock=False):
    """The live row (deleted = 0) of ``table`` whose column ``key`` is
    ``value``, as a dict of every column (read FOR UPDATE with ``lock``);
    raises ``not_found`` when there is none."""
    row = db.execute(_live_row(table, key, lock), {"key": value}).mappings().first()
    if row is None:
        raise not_found
    return dict(row)


@functools.cache
def _live_row(table, key, lock):
    query = sa.select(table).where(table.c[key] == sa.bindparam("key"),
                                   table.c.deleted == 0).limit(1)
    return query.with_for_update() if lock else query


def update_row(db, table, row, values, flushed=False):
    """Set ``values`` in ``row`` (a dict of every column of ``table``, as read
    in this transaction) as the ORM's flush would: the columns whose value
    changes, with updated_at when the table has one and it was not given;
    nothing when no value changes. Returns the row with ``values`` set, as
    the mapped object showed it before its flush (updated_at as read: what
    the record functions that returned it inside their transaction gave),
    or with ``flushed`` as after it (the new updated_at too)."""
    changed = {key: value for key, value in values.items() if row[key] != value}
    updated = dict(row, **values)
    if not changed:
        return updated
    if "updated_at" in table.c and "updated_at" not in changed:
        changed["updated_at"] = utcnow()
        if flushed:
            updated["updated_at"] = changed["updated_at"]
    # SET takes the columns of the parameters; "row_id" is the WHERE's.
    db.execute(_update_by_id(table), dict(changed, row_id=row["id"]))
    return updated


@functools.cache
def _update_by_id(table):
    return sa.update(table).where(table.c.id == sa.bindparam("row_id"))


def insert_row(db, table, values):
    """INSERT ``values`` into ``table``; the new row as the ORM would return
    it: every column, with the columns' defaults and the new id."""
    result = db.execute(_insert(table), values)
    params = result.last_inserted_params()
    row = {column.name: params.get(column.key) for column in table.columns}
    row["id"] = result.inserted_primary_key[0]
    return row


@functools.cache
def _insert(table):
    return sa.insert(table)


def compare_and_set(db, table, row, values, column, expected, what):
    """Set ``values`` in ``row`` (read_row's dict) if its ``column`` is one of
    ``expected`` (a list, which may hold None; None: unconditionally), else
    UnexpectedTaskState: the compare-and-swap that stops two requests acting
    on one record at once. The caller reads ``row`` with a lock (FOR UPDATE)
    whenever ``expected`` is given: a plain read gives InnoDB's snapshot, and
    two requests that both read the old value would both "win" and both write
    (the REPEATABLE READ trap of Placement). Returns the row (update_row)."""
    current = row[column]
    if expected is not None and current not in expected:
        raise exceptions.UnexpectedTaskState(
            f"{what} has {column} {current!r}, expected one of {list(expected)!r}")
    return update_row(db, table, row, values)
