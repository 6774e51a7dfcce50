"""[database] and [api_database]: oslo.db's options, once per database.

[database] is this cell's database, and its options (all but connection) shape
the engine of every cell database a cell mapping names, as upstream's; the API
database ([api_database] connection) takes [api_database]'s. Both groups take
upstream Nova's [api_database] set of oslo.db options, each honoured:

- connection: read by the services and commands;
- the engine options (ENGINE_OPTIONS): handed to oslo.db's create_engine by
  nova_runtime/db/engines.py (engine_options);
- retry_interval and max_retries: how a daemon waits for its databases at start
  (nova_runtime/service.py).

oslo.db's other options are not offered: slave_connection,
asyncio_*connection and synchronous_reader (no reader engine here), backend,
use_db_reconnect and db_*retr* (oslo.db's DBAPI wrapper, which nova_runtime does
not use).
"""

import copy

from oslo_db import options as oslo_db_options

# What nova_runtime/db/engines.py passes to oslo.db's create_engine (engine_options).
ENGINE_OPTIONS = (
    "connection_parameters", "sqlite_synchronous", "mysql_sql_mode",
    "mysql_wsrep_sync_wait", "connection_recycle_time", "connection_debug",
    "connection_trace", "max_pool_size", "max_overflow", "pool_timeout",
)
OFFERED = ("connection", "max_retries", "retry_interval") + ENGINE_OPTIONS

# Defaults that differ from oslo.db's:
DEFAULTS = {
    # Connections each engine keeps open (oslo.db's default is 5): as many as
    # a daemon's RPC server runs calls at once (oslo.messaging's
    # executor_thread_pool_size, 64). With a smaller pool every call beyond it
    # opened and closed a connection of its own, which cost a boot storm's
    # conductor about a sixth of its CPU.
    "max_pool_size": 64,
    # Daemons wait for their databases at start for as long as it takes (-1),
    # as nova_runtime's daemons always have: a controller whose MariaDB starts
    # late must not need its daemons restarted. oslo.db's 10 makes a daemon
    # give up after 10 retries, which upstream leaves to systemd restarting it.
    "max_retries": -1,
}


def _offered_opts():
    opts = [copy.deepcopy(opt) for opt in oslo_db_options.database_opts if opt.dest in OFFERED]
    for opt in opts:
        if opt.dest in DEFAULTS:
            opt.default = DEFAULTS[opt.dest]
    return opts


main_opts = _offered_opts()
api_opts = _offered_opts()


def register_opts(conf):
    conf.register_opts(main_opts, group="database")
    conf.register_opts(api_opts, group="api_database")


def list_opts():
    return [("database", main_opts), ("api_database", api_opts)]
