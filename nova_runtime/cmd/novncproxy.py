"""nova-novncproxy: the noVNC web client and the websocket proxy to the
instances' VNC servers, on [vnc] novncproxy_host:novncproxy_port (6080).

Usage: nova-novncproxy [--config-file FILE] [--config-dir DIR] [--log-file FILE]

Serves the files of [DEFAULT] web (Debian's novnc package:
/usr/share/novnc) and checks console tokens in [database] connection, the
cell database whose computes issue them: one proxy per cell, as upstream.
The database is read per connection, so the proxy starts while it is down
(refused connections then say so). Threads, no fork, no eventlet; SIGTERM or
SIGINT stop it (open consoles are closed with the process).

Exit codes: 0 stopped by a signal, 1 cannot start (configuration, missing
web client, port in use).
"""

import logging
import os
import signal
import sys
import threading

from nova_runtime import cmd
from nova_runtime.console import proxy
from nova_runtime.db import engines

PROG = "nova-novncproxy"
LOG = logging.getLogger("nova_runtime.cmd.novncproxy")
EXIT_STOPPED = 0
EXIT_CANNOT_START = 1


def check(conf):
    """The reasons the proxy cannot start with ``conf``, as readable lines."""
    problems = []
    if not conf.database.connection:
        problems.append("[database] connection is not set: the proxy checks console "
                        "tokens in the cell database")
    if not os.path.isdir(conf.web):
        problems.append(f"[DEFAULT] web: no noVNC web client at {conf.web} "
                        "(install Debian's novnc package, or point web at noVNC's files)")
    return problems


def build(conf):
    """The server, bound to its address (OSError if it cannot bind)."""
    return proxy.ConsoleProxyServer(
        (conf.vnc.novncproxy_host, conf.vnc.novncproxy_port),
        db_url=conf.database.connection, web_root=os.path.abspath(conf.web),
        allowed_origins=conf.console.allowed_origins)


def serve(server):
    """Serve until SIGTERM or SIGINT. serve_forever runs in its own thread:
    a signal handler cannot stop a server that runs in its own thread's stack."""
    stop = threading.Event()

    def on_signal(signum, frame):
        if not stop.is_set():
            LOG.info("%s received %s, stopping", PROG, signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker = threading.Thread(target=server.serve_forever, name="serve", daemon=True)
    worker.start()
    while not stop.wait(1):
        pass
    server.shutdown()
    server.server_close()
    worker.join()


def main(argv=None):
    conf = cmd.daemon_conf(PROG, argv)
    if conf is None:
        return EXIT_CANNOT_START
    problems = check(conf)
    if problems:
        for problem in problems:
            LOG.error("%s cannot start: %s", PROG, problem)
        return EXIT_CANNOT_START
    try:
        server = build(conf)
    except OSError as exc:
        LOG.error("%s cannot listen on %s:%s: %s", PROG, conf.vnc.novncproxy_host,
                  conf.vnc.novncproxy_port, exc)
        return EXIT_CANNOT_START
    host, port = server.server_address[:2]
    LOG.info("%s listening on http://%s:%s (web client %s; tokens in %s)", PROG, host, port,
             conf.web, engines.mask_password(conf.database.connection))
    try:
        serve(server)
    finally:
        engines.dispose_all()
    LOG.info("%s stopped", PROG)
    return EXIT_STOPPED


if __name__ == "__main__":
    sys.exit(main())
