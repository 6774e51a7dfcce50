"""The runner every nova_runtime daemon uses.

A Service is one daemon (nova-conductor, nova-compute, later nova-scheduler):

1. it waits for what it needs (the message queue, the database, nova-conductor),
   logging one line per attempt that says what is down, why, and when it tries
   again; it never exits or spins because of them;
2. it registers its row in its cell's ``services`` table, through a
   ServiceRecords: directly in the database (conductor, scheduler) or through
   nova-conductor's RPC API (compute, which has no database access);
3. its manager sets up the host (``init_host``), then its RPC server starts;
4. a heartbeat thread counts a report every ``report_interval`` seconds, and a
   periodic thread runs the manager's periodic tasks every ``periodic_interval``;
5. ``stop`` (SIGTERM, SIGINT) stops the RPC server, then the threads, and
   leaves the services row in place (the service is then seen down once
   ``service_down_time`` has passed).

``main`` wraps that for a console script: configuration, logging, signals,
exit codes (0 stopped by a signal, 1 cannot start: bad configuration or a
driver that does not load).
"""

import abc
import itertools
import logging
import os
import signal
import threading
import time

import oslo_messaging as messaging
from oslo_db import exception as db_exc

from nova_runtime import cells, cmd, context as nova_context, rpc
from nova_runtime import workers as worker_processes
from nova_runtime.db import engines, migration
from nova_runtime.objects import exceptions as record_exc
from nova_runtime.objects import services as service_records

LOG = logging.getLogger(__name__)

# Stored in services.version. Bump it when a service learns a new RPC version
# and add the versions to the history: during a rolling upgrade, clients cap
# what they send to what the oldest running service speaks.
SERVICE_VERSION = 11
SERVICE_VERSION_HISTORY = {
    1: {"conductor": "1.0", "compute": "1.0"},
    # the build path: schedule_and_build_instances, build_and_run_instance, ...
    2: {"conductor": "1.1", "compute": "1.1", "scheduler": "1.0"},
    # lifecycle actions, resize and migration, VNC console tokens, spawn info
    3: {"conductor": "1.3", "compute": "1.3", "scheduler": "1.0"},
    # a build's claim and its end in one conductor call each
    4: {"conductor": "1.4", "compute": "1.3", "scheduler": "1.0"},
    # the host's uptime for the hypervisors API
    5: {"conductor": "1.4", "compute": "1.4", "scheduler": "1.0"},
    # an instance's console log for os-getConsoleOutput
    6: {"conductor": "1.4", "compute": "1.5", "scheduler": "1.0"},
    # an instance's diagnostics for servers/{id}/diagnostics
    7: {"conductor": "1.4", "compute": "1.6", "scheduler": "1.0"},
    # trigger_crash_dump
    8: {"conductor": "1.4", "compute": "1.7", "scheduler": "1.0"},
    # createBackup with rotation, soft delete and restore
    9: {"conductor": "1.4", "compute": "1.8", "scheduler": "1.0"},
    # the compute's late check of a server group's policy: instance_group_hosts
    10: {"conductor": "1.5", "compute": "1.8", "scheduler": "1.0"},
    # shelve, shelveOffload and unshelve (the super-conductor's unshelve_instance)
    11: {"conductor": "1.6", "compute": "1.9", "scheduler": "1.0"},
}

EXIT_STOPPED = 0
EXIT_CANNOT_START = 1

# How long stop() waits for the RPC server (calls in progress) to finish.
_STOP_TIMEOUT = 30
# How long stop() waits for a heartbeat or periodic round in progress.
_LOOP_JOIN_TIMEOUT = 1


class Unavailable(Exception):
    """Something the service needs cannot be used yet; the message says why."""


class FatalError(Exception):
    """The service cannot start at all (configuration, driver); retrying is useless."""


# --- what a service waits for -------------------------------------------------------

class Dependency:
    """Something a service waits for: ``probe`` raises Unavailable while it is
    not there; ``delays`` yields the seconds to wait between attempts."""

    def __init__(self, name, probe, delays):
        self.name = name
        self.probe = probe
        self.delays = delays


def constant(seconds):
    return itertools.repeat(seconds)


def database_delays(group):
    """[database] or [api_database] retry_interval seconds, max_retries times
    (-1: for ever); then the service gives up."""
    interval = max(group.retry_interval, 1)
    if group.max_retries < 0:
        return constant(interval)
    return itertools.repeat(interval, group.max_retries)


def growing(start, step, maximum):
    """start, start+step, ... up to maximum (oslo.messaging's own reconnect pattern)."""
    return (min(start + step * attempt, maximum) for attempt in itertools.count())


def message_queue(conf, url=None):
    """The RabbitMQ of ``url`` (default [DEFAULT] transport_url); waits as
    [oslo_messaging_rabbit] rabbit_retry_interval, rabbit_retry_backoff and
    rabbit_interval_max say."""
    url = url or conf.transport_url
    rabbit = conf.oslo_messaging_rabbit

    def probe():
        try:
            rpc.probe(conf, url)
        except rpc.TransportUnavailable as exc:
            raise Unavailable(str(exc)) from None

    return Dependency(
        f"the message queue {rpc.describe(url)}", probe,
        growing(rabbit.rabbit_retry_interval, rabbit.rabbit_retry_backoff,
                rabbit.rabbit_interval_max))


def database(conf, url, sync_command="nova-manage db sync"):
    """A cell database, reachable and with the current schema; waits
    [database] retry_interval seconds between attempts, max_retries times."""

    def probe():
        try:
            migration.check_synced("main", url, sync_command)
        except (engines.DatabaseUnavailable, migration.NotSynced) as exc:
            raise Unavailable(str(exc)) from None
        except db_exc.DBError as exc:
            raise Unavailable(db_error_reason(exc)) from None

    return Dependency(f"the database {engines.mask_password(url)}", probe,
                      database_delays(conf.database))


def db_error_reason(exc):
    """The database driver's own words for an oslo.db error (e.g. PyMySQL's
    (2003, "Can't connect ...")), without SQLAlchemy's statement and link."""
    inner = getattr(exc, "inner_exception", None) or exc
    return str(getattr(inner, "orig", None) or inner)


def _one_line(text):
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def wait_for(name, attempt, delays, stopping):
    """Call ``attempt`` until it stops raising Unavailable; one warning per
    failed attempt. Returns its result, raises Stopping once ``stopping``
    is set, FatalError once ``delays`` run out."""
    for number in itertools.count(1):
        try:
            return_value = attempt()
        except Unavailable as exc:
            reason = _one_line(exc)
        else:
            if number > 1:
                LOG.info("%s is available after %d attempts", _capitalized(name), number)
            return return_value
        delay = next(delays, None)
        if delay is None:
            raise FatalError(f"{_capitalized(name)} is not available after {number} "
                             f"attempts: {reason}")
        # Logged outside the except block: oslo.log would append the exception again.
        LOG.warning("Waiting for %s (attempt %d): %s; retrying in %s s",
                    name, number, reason, delay)
        if stopping.wait(delay):
            raise Stopping()


class Stopping(Exception):
    """Raised out of a wait when the service was asked to stop meanwhile."""


def _capitalized(text):
    return text[:1].upper() + text[1:]


# --- service records ------------------------------------------------------------------

class ServiceRecords(abc.ABC):
    """Where a service keeps its row. Both methods return the record (a dict of
    the services columns) and raise Unavailable when the store cannot be
    reached; heartbeat raises ServiceNotFound when the row is gone."""

    @abc.abstractmethod
    def register(self, context, *, host, binary, topic, version):
        """Create or update the row; returns the record."""

    @abc.abstractmethod
    def heartbeat(self, context, service_id):
        """Count one report; returns the updated record."""


class DatabaseRecords(ServiceRecords):
    """For services with database access (conductor, scheduler)."""

    def __init__(self, db_url):
        self.db_url = db_url

    def register(self, context, *, host, binary, topic, version):
        with _database_errors(self.db_url):
            record, _ = service_records.register(
                self.db_url, host=host, binary=binary, topic=topic, version=version)
            return record

    def heartbeat(self, context, service_id):
        with _database_errors(self.db_url):
            return service_records.heartbeat(self.db_url, service_id)


class _database_errors:
    """Turns "the database is down" into Unavailable; other errors pass."""

    def __init__(self, url):
        self.url = url

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and issubclass(
                exc_type, cells.DOWN_ERRORS):
            if isinstance(exc, engines.DatabaseUnavailable):
                raise Unavailable(str(exc)) from None
            raise Unavailable(f"lost the database {engines.mask_password(self.url)}: "
                              f"{db_error_reason(exc)}") from None
        return False


# --- managers ---------------------------------------------------------------------

class Manager:
    """A daemon's work: its RPC endpoint (the methods marked @rpc.expose, each
    taking the request context first) and its periodic tasks.

    Subclasses set ``target`` to the version of their RPC API they serve."""

    target = messaging.Target(version="1.0")

    def __init__(self, conf, host):
        self.conf = conf
        self.host = host
        self.service = None  # the services record, once registered

    def init_host(self, context):
        """Set up before serving RPC; may raise Unavailable to be retried."""

    def periodic_tasks(self, context):
        """Run every periodic_interval; may raise Unavailable (logged in one line)."""

    def cleanup_host(self):
        """Release what init_host set up; called once the RPC server stopped."""

    # RPC API 1.0
    @rpc.expose
    def ping(self, context):
        """Whether the service answers on its topic (used to wait for it), and
        which process of it answered (a daemon with workers has several)."""
        return {"host": self.host, "service_id": self.service and self.service["id"],
                "pid": os.getpid()}


# --- the service ---------------------------------------------------------------------

class Service:
    """One daemon. ``start`` returns once it serves; ``stop`` ends it."""

    def __init__(self, conf, *, binary, topic, manager, records, dependencies=(),
                 transport=None, host=None):
        self.conf = conf
        self.binary = binary
        self.topic = topic
        self.manager = manager
        self.records = records
        self.dependencies = list(dependencies)
        self.transport = transport
        self.host = host or conf.host
        self.record = None
        self.rpc_server = None
        self._stopping = threading.Event()
        self._threads = []
        self._failing = set()  # which loops last failed, to log their recovery once

    # -- start ----------------------------------------------------------------

    def start(self):
        """Wait for the dependencies, register, set up the host, serve.

        Returns False if ``request_stop`` came first."""
        try:
            for dependency in self.dependencies:
                wait_for(dependency.name, dependency.probe, dependency.delays, self._stopping)
            self.record = wait_for("the services table", self._register,
                                   self._retry_delays(), self._stopping)
            self.manager.service = self.record
            wait_for(f"{self.binary} to set up host {self.host}",
                     lambda: self.manager.init_host(nova_context.get_admin_context()),
                     self._retry_delays(), self._stopping)
        except Stopping:
            return False
        if self.topic:
            self.rpc_server = rpc.get_server(
                self.transport, messaging.Target(topic=self.topic, server=self.host),
                [self.manager])
            self.rpc_server.start()
        self._spawn("heartbeat", self.conf.report_interval, self._report_state)
        self._spawn("periodic tasks", self.conf.periodic_interval, self._run_periodic_tasks)
        LOG.info("%s on host %s started: service id %s, RPC topic %s, version %s",
                 self.binary, self.host, self.record["id"], self.topic, SERVICE_VERSION)
        return True

    def _retry_delays(self):
        return constant(self.conf.report_interval)

    def _register(self):
        return self.records.register(
            nova_context.get_admin_context(), host=self.host, binary=self.binary,
            topic=self.topic, version=SERVICE_VERSION)

    def _spawn(self, name, interval, function):
        def loop():
            while not self._stopping.wait(interval):
                self._guarded(name, function)

        thread = threading.Thread(target=loop, name=f"{self.binary} {name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _guarded(self, name, function):
        """Run one heartbeat or periodic round: a dependency being down is one
        warning line, its recovery one info line, a bug a traceback."""
        reason = None
        try:
            function()
        except Unavailable as exc:
            reason = _one_line(exc)
        except Exception:
            LOG.exception("%s of %s failed", _capitalized(name), self.binary)
            self._failing.add(name)
            return
        if reason is not None:  # logged outside the except block, see wait_for
            if self._stopping.is_set():
                return  # the conductor stopped too; nothing to report
            LOG.warning("%s of %s failed: %s; trying again in the next round",
                        _capitalized(name), self.binary, reason)
            self._failing.add(name)
            return
        if name in self._failing:
            self._failing.discard(name)
            LOG.info("%s of %s works again", _capitalized(name), self.binary)

    def _report_state(self):
        context = nova_context.get_admin_context()
        try:
            self.record = self.records.heartbeat(context, self.record["id"])
        except record_exc.ServiceNotFound:
            pass
        else:
            self.manager.service = self.record
            return
        LOG.warning("The services row of %s on %s was deleted; registering again",
                    self.binary, self.host)
        self.record = self._register()
        self.manager.service = self.record

    def _run_periodic_tasks(self):
        self.manager.periodic_tasks(nova_context.get_admin_context())

    # -- stop -----------------------------------------------------------------

    def request_stop(self):
        """Ask the service to stop (safe from a signal handler)."""
        self._stopping.set()

    @property
    def stopping(self):
        return self._stopping.is_set()

    def wait(self):
        """Block until request_stop."""
        while not self._stopping.wait(3600):
            pass

    def stop(self):
        """Stop serving: the RPC server (letting calls in progress finish), then
        the heartbeat and periodic threads, then the manager."""
        self._stopping.set()
        if self.rpc_server is not None:
            _bounded(f"the RPC server of {self.binary}", self._stop_rpc_server)
        # A heartbeat or periodic round may be in an RPC call to a conductor
        # that is stopping too; it is not worth waiting the RPC timeout for.
        deadline = time.monotonic() + _LOOP_JOIN_TIMEOUT
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))
        self.manager.cleanup_host()
        if self.record is not None:
            LOG.info("%s on host %s stopped: service id %s, %s heartbeats reported",
                     self.binary, self.host, self.record["id"], self.record["report_count"])

    def _stop_rpc_server(self):
        self.rpc_server.stop()
        self.rpc_server.wait()


def _bounded(what, function, timeout=_STOP_TIMEOUT, level=logging.WARNING):
    thread = threading.Thread(target=function, name=f"stopping {what}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        LOG.log(level, "Gave up waiting for %s to stop after %s s", what, timeout)


# --- console scripts ---------------------------------------------------------------

# How long a stop request waits for a start still in progress (in a probe)
# before the process exits without it.
_ABANDON_START_AFTER = 2
# How long closing the transports may take at exit.
_CLEANUP_TIMEOUT = 1

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

def main(prog, build, argv=None, workers=None):
    """Run a daemon until SIGTERM or SIGINT. ``build(conf)`` returns its
    Service, or raises FatalError. ``workers(conf)``, when given, says how many
    processes serve the daemon's topic (nova_runtime.workers supervises them
    when more than one). Returns the exit code."""
    conf = cmd.daemon_conf(prog, argv, register=rpc.set_defaults)
    if conf is None:
        return EXIT_CANNOT_START
    count = workers(conf) if workers is not None else 1
    if count > 1:
        return worker_processes.Supervisor(
            prog, count, lambda: _run(prog, build, conf),
            exit_cannot_start=EXIT_CANNOT_START, exit_stopped=EXIT_STOPPED).run()
    return _run(prog, build, conf)


def _run(prog, build, conf):
    """One process of the daemon: build, start, wait for a signal, stop."""
    # The handlers come first, then the signals are let in (a worker starts
    # with them blocked, nova_runtime.workers): a SIGTERM that arrives while
    # the service is being built is kept, not lost or fatal to a worker that
    # would then never say it stopped.
    stop_requested = threading.Event()
    built = []

    def on_signal(signum, frame):
        first = not stop_requested.is_set()
        stop_requested.set()
        for service in built:
            service.request_stop()
        if first:  # a repeated signal (e.g. to the whole process group) says nothing new
            LOG.info("%s received %s, stopping", prog, signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)

    failure = None
    try:
        service = build(conf)
    except (FatalError, rpc.TransportError) as exc:
        failure = exc
    if failure is not None:  # logged outside the except block: no traceback appended
        LOG.error("%s cannot start: %s", prog, failure)
        return EXIT_CANNOT_START
    built.append(service)
    if stop_requested.is_set():  # before the line above: the handler did not see it
        service.request_stop()
    # start() runs in its own thread: a probe can block for seconds (an RPC
    # call, a TCP connect) and a signal must not wait for it.
    outcome = {}
    starter = threading.Thread(target=_start, args=(service, outcome), name="start",
                               daemon=True)
    starter.start()
    try:
        service.wait()
        starter.join(_ABANDON_START_AFTER)
        if starter.is_alive():
            LOG.info("%s stopped while still starting", prog)
        elif outcome.get("started"):
            service.stop()
        elif not outcome.get("failed"):
            LOG.info("%s stopped before it started", prog)
    finally:
        # Best effort: the RPC server has stopped (calls in progress finished),
        # and oslo.messaging's reply poller may take seconds to notice the
        # stop; whatever is left, the process exit closes.
        _bounded("the message queue connections", rpc.cleanup, _CLEANUP_TIMEOUT, logging.DEBUG)
        engines.dispose_all()
    if outcome.get("failed"):
        return EXIT_CANNOT_START
    return EXIT_STOPPED


def _start(service, outcome):
    try:
        outcome["started"] = service.start()
    except Exception:
        LOG.exception("%s cannot start", service.binary)
        outcome["failed"] = True
        service.request_stop()
