"""Row conversion shared by the record modules (sessions: nova_runtime.cells)."""

from nova_runtime.objects import exceptions


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


def compare_and_set(row, values, column, expected, what):
    """Set ``values`` on ``row`` if its ``column`` is one of ``expected``
    (a list, which may hold None; None: unconditionally), else
    UnexpectedTaskState: the compare-and-swap that stops two requests acting
    on one record at once. The caller reads ``row`` with a lock (FOR UPDATE)
    whenever ``expected`` is given: a plain read gives InnoDB's snapshot, and
    two requests that both read the old value would both "win" and both write
    (the REPEATABLE READ trap of Placement). Returns the row as a dict."""
    current = getattr(row, column)
    if expected is not None and current not in expected:
        raise exceptions.UnexpectedTaskState(
            f"{what} has {column} {current!r}, expected one of {list(expected)!r}")
    for key, value in values.items():
        setattr(row, key, value)
    return as_dict(row)
