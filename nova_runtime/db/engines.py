"""One SQLAlchemy engine per database URL, shared by the whole process.

Cells make the set of databases dynamic (each cell mapping names one), so
engines are looked up by URL rather than configured once.
"""

import re
import threading

import sqlalchemy as sa
from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import engines as oslo_engines

_engines = {}
_lock = threading.Lock()

# Connections each engine keeps open (oslo.db's own default is 5): as many as
# a daemon's RPC server runs calls at once (oslo.messaging's
# executor_thread_pool_size, 64). With a smaller pool every call beyond it
# opened and closed a connection of its own, which cost a boot storm's
# conductor about a sixth of its CPU.
POOL_SIZE = 64


class DatabaseUnavailable(Exception):
    """The database server cannot be reached or refused the login."""


def get_engine(url, *, attempts=1, retry_interval=0):
    """The engine for ``url``, created and connection-tested on first use.

    oslo.db sets MySQL's sql_mode and recycles pooled connections. Commands make
    one attempt to fail fast; daemons pass attempts=-1 to wait for the database.
    """
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            try:
                engine = oslo_engines.create_engine(
                    url, mysql_sql_mode="TRADITIONAL", max_pool_size=POOL_SIZE,
                    max_retries=attempts, retry_interval=retry_interval)
            except db_exc.DBConnectionError as exc:
                raise DatabaseUnavailable(
                    f"cannot connect to {mask_password(url)}: {_driver_error(exc)}") from None
            _engines[url] = engine
        return engine


# For every engine, before its first connection (oslo.db connects once in create_engine).
@sa.event.listens_for(sa.engine.Engine, "do_connect")
def _tls_only_when_asked(dialect, connection_record, cargs, cparams):
    """PyMySQL 2 tries TLS on every connection that asks for nothing
    ("preferred", unverified) and builds an SSL context for it each time:
    19 ms of CPU per connection here, several seconds of a boot storm conductor's
    CPU while its pools fill. As with PyMySQL 1 and upstream Nova, TLS is
    used when the connection URL asks for it (?ssl_ca=...&ssl_cert=...)."""
    if dialect.driver == "pymysql" and "ssl" not in cparams:
        cparams.setdefault("ssl_disabled", True)


def dispose_all():
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


# user:password@ after the scheme or after a comma (transport URLs list several hosts)
_CREDENTIALS = re.compile(r"(://|,)([^:/@,]*):([^@/]*)@")


def mask_password(url):
    """``url`` (database or transport) with every password replaced by ****."""
    return _CREDENTIALS.sub(r"\1\2:****@", url)


def _driver_error(exc):
    """The DB driver's own message, e.g. PyMySQL's (2003, "Can't connect ...")."""
    inner = getattr(exc, "inner_exception", None) or exc
    return str(getattr(inner, "orig", None) or inner)
