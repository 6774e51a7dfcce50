"""nova-scheduler: chooses the compute host of each new instance.

Usage: nova-scheduler [--config-file FILE] [--config-dir DIR] [--log-file FILE]

Serves select_destinations on topic 'scheduler' of [DEFAULT] transport_url
(the message queue of the API level). Needs [api_database] connection (cell
mappings, aggregates, server groups; every cell's database is reached through
its cell mapping) and [database] connection, where it keeps its own services
row as nova-conductor does. Waits for both databases and the message queue at
start. [scheduler] workers processes serve the topic (default: one). Exit
codes: 0 stopped by SIGTERM or SIGINT, 1 cannot start (configuration).
"""

from oslo_db import exception as db_exc

from nova_runtime import rpc, service
from nova_runtime.db import engines, migration
from nova_runtime.scheduler import UnknownPlugin
from nova_runtime.scheduler import manager, rpcapi

BINARY = "nova-scheduler"


def api_database(conf, url):
    """The API database, reachable and with the current schema (as
    service.database is for a cell database)."""

    def probe():
        try:
            migration.check_synced("api", url, "nova-manage api_db sync")
        except (engines.DatabaseUnavailable, migration.NotSynced) as exc:
            raise service.Unavailable(str(exc)) from None
        except db_exc.DBError as exc:
            raise service.Unavailable(service.db_error_reason(exc)) from None

    return service.Dependency(f"the API database {engines.mask_password(url)}", probe,
                              service.database_delays(conf.api_database))


def build(conf, host=None):
    api_url = conf.api_database.connection
    db_url = conf.database.connection
    if not api_url:
        raise service.FatalError(
            "[api_database] connection is not set in the configuration file")
    if not db_url:
        raise service.FatalError("[database] connection is not set in the configuration file")
    host = host or conf.host
    try:
        scheduler_manager = manager.SchedulerManager(conf, host, api_url)
    except UnknownPlugin as exc:
        raise service.FatalError(str(exc)) from None
    transport = rpc.get_transport(conf)
    return service.Service(
        conf, binary=BINARY, topic=rpcapi.TOPIC, host=host, transport=transport,
        manager=scheduler_manager, records=service.DatabaseRecords(db_url),
        dependencies=[service.database(conf, db_url), api_database(conf, api_url),
                      service.message_queue(conf)])


def workers(conf):
    return conf.scheduler.workers or 1


def main(argv=None):
    return service.main(BINARY, build, argv, workers=workers)
