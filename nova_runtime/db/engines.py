"""One SQLAlchemy engine per database URL, shared by the whole process.

Cells make the set of databases dynamic (each cell mapping names one), so
engines are looked up by URL rather than configured once. How they are made
comes from nova.conf (``configure``, called when it is loaded): the API
database's engine from [api_database], every other (this cell's, and each cell
database a cell mapping names, as upstream) from [database]; until then from
the options' defaults.
"""

import re
import threading

import sqlalchemy as sa
from oslo_config import cfg
from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import engines as oslo_engines

from nova_runtime.conf import database as db_conf

_engines = {}
_lock = threading.Lock()


def engine_options(group):
    """create_engine's arguments from a [database] or [api_database] group
    (upstream's enginefacade passes the same)."""
    return {
        "connection_parameters": group.connection_parameters,
        "sqlite_synchronous": group.sqlite_synchronous,
        "mysql_sql_mode": group.mysql_sql_mode,
        "mysql_wsrep_sync_wait": group.mysql_wsrep_sync_wait,
        "connection_recycle_time": group.connection_recycle_time,
        "connection_debug": group.connection_debug,
        "connection_trace": group.connection_trace,
        # The pool's default size, and why it is not oslo.db's: nova_runtime/conf/database.py.
        "max_pool_size": group.max_pool_size,
        "max_overflow": group.max_overflow,
        "pool_timeout": group.pool_timeout,
    }


def _default_options():
    conf = cfg.ConfigOpts()
    db_conf.register_opts(conf)
    return engine_options(conf.database)


# create_engine's arguments for the API database's URL (None: not known yet),
# and for every other URL.
_settings = {"api_url": None, "api": _default_options(), "cells": _default_options()}


class DatabaseUnavailable(Exception):
    """The database server cannot be reached or refused the login."""


def configure(conf):
    """Engines created from now on take their options from ``conf``:
    [api_database]'s for [api_database] connection, [database]'s for any
    other URL. Engines already made keep theirs."""
    with _lock:
        _settings.update(api_url=conf.api_database.connection,
                         api=engine_options(conf.api_database),
                         cells=engine_options(conf.database))


def get_engine(url, *, attempts=1, retry_interval=0):
    """The engine for ``url``, created and connection-tested on first use.

    oslo.db sets MySQL's sql_mode and recycles pooled connections. Commands make
    one attempt to fail fast; daemons wait for their databases with
    nova_runtime.service ([database] max_retries and retry_interval).
    attempts=0 makes the engine without connecting.
    """
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            options = _settings["api" if url == _settings["api_url"] else "cells"]
            try:
                engine = oslo_engines.create_engine(
                    url, max_retries=attempts, retry_interval=retry_interval, **options)
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


@sa.event.listens_for(sa.engine.Engine, "do_connect")
def _sqlite_waits_for_the_lock(dialect, connection_record, cargs, cparams):
    """SQLite (tests, the embedded mode) has one writer at a time; the others
    wait for its lock up to this timeout (pysqlite's default, 5 s, made
    in-process clouds fail with "database is locked" on a loaded machine)."""
    if dialect.name == "sqlite":
        cparams.setdefault("timeout", 60)


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
