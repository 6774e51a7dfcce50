"""nova-conductor: serves its cell's database to the computes over RPC.

Usage: nova-conductor [--config-file FILE] [--config-dir DIR] [--log-file FILE]

Needs [database] connection (this cell's database) and [DEFAULT]
transport_url (this cell's message queue). Waits for both at start.
[conductor] workers processes serve the topic (default: one per CPU). Exit
codes: 0 stopped by SIGTERM or SIGINT, 1 cannot start (configuration).
"""

import os

from nova_runtime import rpc, service
from nova_runtime.conductor import manager, rpcapi

BINARY = "nova-conductor"


def build(conf, host=None):
    db_url = conf.database.connection
    if not db_url:
        raise service.FatalError("[database] connection is not set in the configuration file")
    host = host or conf.host
    transport = rpc.get_transport(conf)
    return service.Service(
        conf, binary=BINARY, topic=rpcapi.TOPIC, host=host, transport=transport,
        manager=manager.ConductorManager(conf, host, db_url),
        records=service.DatabaseRecords(db_url),
        dependencies=[service.database(conf, db_url), service.message_queue(conf)])


def workers(conf):
    return conf.conductor.workers or os.cpu_count() or 1


def main(argv=None):
    return service.main(BINARY, build, argv, workers=workers)
