"""Sessions and row conversion shared by the record modules."""

import contextlib

from sqlalchemy import orm

from nova_runtime.db import engines
from nova_runtime.objects import exceptions


@contextlib.contextmanager
def session(url):
    """A transaction on the cell database at ``url``: commits on success.

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


def as_dict(row):
    """Every column of an ORM row, by column name."""
    return {column.name: getattr(row, column.key)
            for column in row.__table__.columns}


def check_fields(values, allowed, what):
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise exceptions.InvalidField(f"cannot set {', '.join(unknown)} of {what}")
