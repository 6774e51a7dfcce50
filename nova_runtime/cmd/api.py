"""nova-api: serves the APIs that [DEFAULT] enabled_apis names:

- osapi_compute, the Compute API v2.1, on osapi_compute_listen:osapi_compute_listen_port
  (8774);
- metadata, the metadata API for instances, on metadata_listen:metadata_listen_port
  (8775; nova_runtime/api/metadata).

Usage: nova-api [--config-file FILE] [--config-dir DIR] [--log-file FILE]

Runs in the foreground with cheroot, a threaded production WSGI server that
needs no systemd and no eventlet: one server per API in the same process, the
first in the main thread and the other in a thread of its own. Both ports are
bound before anything is served, so a busy port is an error at start.
SIGTERM or SIGINT stop both gracefully (requests in flight finish).

Exit codes: 0 stopped by a signal, 1 configuration, database or port problem.
"""

import logging
import signal
import sys
import threading

from cheroot import wsgi as cheroot_wsgi

from nova_runtime import cells, cmd
from nova_runtime.api import app, microversion
from nova_runtime.api.metadata import app as metadata_app
from nova_runtime.db import engines, migration

LOG = logging.getLogger("nova_runtime.cmd.api")
EXIT_OK = 0
EXIT_ERROR = 1


def _stop_on_signals():
    def stop(signum, frame):
        LOG.info("Caught %s, stopping", signal.Signals(signum).name)
        raise KeyboardInterrupt  # ends the main thread's serve(); then every server stops
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def _servers(conf):
    """[(API name, host, port, WSGI application)] of the enabled APIs, in order."""
    dbs = cells.Databases(conf.api_database.connection)  # one cell cache for both
    servers = []
    if "osapi_compute" in conf.enabled_apis:
        servers.append(("osapi_compute", conf.osapi_compute_listen,
                        conf.osapi_compute_listen_port, app.build(conf, dbs)))
    if "metadata" in conf.enabled_apis:
        servers.append(("metadata", conf.metadata_listen, conf.metadata_listen_port,
                        metadata_app.build(conf, dbs)))
    return servers


def serve(conf):
    """Build the enabled APIs and serve them until a signal arrives."""
    servers = []
    try:
        for name, host, port, application in _servers(conf):
            server = cheroot_wsgi.Server(
                (host, port), application, numthreads=conf.wsgi.server_threads,
                server_name=f"nova-api ({name})", timeout=conf.wsgi.client_socket_timeout)
            try:
                server.prepare()  # binds now: a busy port is an error before "listening"
            except OSError as exc:
                raise OSError(f"cannot listen on {host}:{port} for {name}: {exc}") from None
            servers.append(server)
            extra = f" (microversions up to {microversion.MAX})" if name == "osapi_compute" else ""
            LOG.info("%s listening on http://%s:%s%s", name, host, server.bind_addr[1], extra)
        app.freeze_startup_heap()
        _stop_on_signals()
        for server in servers[1:]:
            threading.Thread(target=server.serve, name=server.server_name, daemon=True).start()
        try:
            servers[0].serve()
        except KeyboardInterrupt:
            pass
    finally:
        for server in servers:
            server.stop()
        if servers:
            LOG.info("nova-api stopped")


def main(argv=None):
    conf = cmd.daemon_conf("nova-api", argv)
    if conf is None:
        return EXIT_ERROR
    if not conf.enabled_apis:
        LOG.error("enabled_apis names no API (osapi_compute, metadata): nothing to serve")
        return EXIT_ERROR
    if not conf.api_database.connection:
        LOG.error("[api_database] connection is not set")
        return EXIT_ERROR
    try:
        migration.check_synced("api", conf.api_database.connection, "nova-manage api_db sync")
        serve(conf)
    except (engines.DatabaseUnavailable, migration.NotSynced) as exc:
        LOG.error("%s", exc)
        return EXIT_ERROR
    except OSError as exc:
        LOG.error("%s", exc)
        return EXIT_ERROR
    finally:
        engines.dispose_all()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
