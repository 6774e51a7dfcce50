"""nova-api: serves the Compute API v2.1 (osapi_compute) on
[DEFAULT] osapi_compute_listen:osapi_compute_listen_port.

Usage: nova-api [--config-file FILE] [--config-dir DIR]

Runs in the foreground with cheroot, a threaded production WSGI server that
needs no systemd and no eventlet; SIGTERM or SIGINT stop it gracefully
(requests in flight finish). The metadata API (port 8775) is not implemented
yet: when enabled_apis names it, nova-api says so in its log and serves only
osapi_compute.

Exit codes: 0 stopped by a signal, 1 configuration, database or port problem.
"""

import logging
import signal
import sys

from cheroot import wsgi as cheroot_wsgi

from nova_runtime import config
from nova_runtime.api import app, microversion
from nova_runtime.db import engines, migration

LOG = logging.getLogger("nova_runtime.cmd.api")
EXIT_OK = 0
EXIT_ERROR = 1


def _setup_logging():
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s")
    for noisy in ("oslo_db", "oslo_policy", "keystonemiddleware", "stevedore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _stop_on_signals():
    def stop(signum, frame):
        LOG.info("Caught %s, stopping", signal.Signals(signum).name)
        raise KeyboardInterrupt  # cheroot's safe_start stops the server on it
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def serve(conf):
    """Build the application and serve it until a signal arrives."""
    application = app.build(conf)
    server = cheroot_wsgi.Server(
        (conf.osapi_compute_listen, conf.osapi_compute_listen_port), application,
        numthreads=conf.wsgi.server_threads, server_name="nova-api",
        timeout=conf.wsgi.client_socket_timeout)
    _stop_on_signals()
    server.prepare()  # binds now, so that a busy port is an error before "listening"
    LOG.info("osapi_compute listening on http://%s:%s (microversions up to %s)",
             conf.osapi_compute_listen, server.bind_addr[1], microversion.MAX)
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        LOG.info("nova-api stopped")


def main(argv=None):
    _setup_logging()
    conf = config.new_conf()
    try:
        config.load(conf, sys.argv[1:] if argv is None else argv, prog="nova-api")
    except config.ConfigError as exc:
        LOG.error("%s", exc)
        return EXIT_ERROR
    if "metadata" in conf.enabled_apis:
        LOG.warning("enabled_apis includes metadata, but the metadata API is not implemented "
                    "yet: nothing listens on %s:%s", conf.metadata_listen,
                    conf.metadata_listen_port)
    if "osapi_compute" not in conf.enabled_apis:
        LOG.error("enabled_apis does not include osapi_compute: nothing to serve")
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
        LOG.error("cannot listen on %s:%s: %s", conf.osapi_compute_listen,
                  conf.osapi_compute_listen_port, exc)
        return EXIT_ERROR
    finally:
        engines.dispose_all()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
