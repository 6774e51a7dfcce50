"""oslo.messaging for nova_runtime: transports, the context serializer, RPC
servers and the base of the versioned RPC client classes.

Transports come from [DEFAULT] transport_url (``rabbit://`` in deployments,
``fake://`` when every service runs in one process: quick tests and the
embedded mode) or from a cell mapping's transport_url when talking to another
cell.  A process keeps one transport per URL (RabbitMQ connections are worth
sharing). All fake:// transports of a process share one set of exchanges
(oslo.messaging keeps them in a class attribute): two cells in one process
need different [DEFAULT] control_exchange values and transport URLs.

Servers use oslo.messaging's threading executor (nova_runtime never
monkey-patches with eventlet).
"""

import datetime
import socket
import threading

import amqp
import oslo_messaging as messaging
from oslo_messaging.rpc import dispatcher

from nova_runtime import context as nova_context
from nova_runtime.db import engines

CONTROL_EXCHANGE = "nova"

# Modules whose exceptions an RPC caller gets back with their own type (not
# as messaging.RemoteError), so that callers can catch e.g. InstanceNotFound.
ALLOWED_EXMODS = [
    "nova_runtime.objects.exceptions",
    "nova_runtime.virt.exceptions",
]

# Transport URL schemes that mean RabbitMQ (oslo.messaging's rabbit driver).
_RABBIT_SCHEMES = ("rabbit", "kombu")
_AMQP_PORT = 5672
_PROBE_TIMEOUT = 5

_transports = {}
_lock = threading.Lock()


class TransportError(Exception):
    """The transport URL is missing or invalid: a configuration error."""


class TransportUnavailable(Exception):
    """The message queue cannot be reached (yet); the message says why."""


class ServiceTooOld(Exception):
    """The RPC version a call needs is above the client's version cap."""

    def __init__(self, topic, version, cap):
        super().__init__(
            f"the {topic} service speaks RPC up to version {cap}; this call needs {version}")


def set_defaults(conf):
    """nova's control exchange, as upstream names it ("nova", not "openstack")."""
    conf.set_default("control_exchange", CONTROL_EXCHANGE)


def describe(url):
    """``url`` for log lines and errors: passwords masked."""
    return engines.mask_password(url)


def get_transport(conf, url=None):
    """The RPC transport for ``url`` (default [DEFAULT] transport_url), created on first use.

    Raises TransportError when no URL is configured or it cannot be used.
    Creating a transport does not connect: see ``probe``."""
    url = url or conf.transport_url
    if not url:
        raise TransportError("[DEFAULT] transport_url is not set in the configuration file")
    _register_library_opts(conf)
    with _lock:
        transport = _transports.get(url)
        if transport is None:
            try:
                transport = messaging.get_rpc_transport(
                    conf, url=url, allowed_remote_exmods=ALLOWED_EXMODS)
            except (messaging.InvalidTransportURL, messaging.DriverLoadFailure) as exc:
                raise TransportError(
                    f"cannot use transport URL {describe(url)}: {exc}") from None
            _transports[url] = transport
        return transport


def _register_library_opts(conf):
    """oslo.messaging (18.x) reads [oslo_messaging_tracing] and
    [oslo_messaging_metrics] on every call but registers them only on its
    global cfg.CONF, which nova_runtime never uses."""
    from oslo_messaging._metrics import client as metrics
    from oslo_messaging._tracing import client as tracing

    for group, opts in (("oslo_messaging_tracing", tracing.oslo_messaging_tracing),
                        ("oslo_messaging_metrics", metrics.oslo_messaging_metrics)):
        if group not in conf:
            conf.register_opts(opts, group=group)


def get_cell_transport(conf, cell_mapping):
    """The transport of another cell, from its cell mapping's transport_url."""
    from nova_runtime import cells  # cells imports the database models: only when needed

    if cell_mapping.transport_url == cells.CELL0_TRANSPORT_URL:
        raise TransportError("cell0 has no message queue: nothing runs in it")
    return get_transport(conf, cell_mapping.transport_url)


def cleanup(url=None):
    """Close the transport of ``url``, or every transport of this process (at
    service stop, in test teardown)."""
    with _lock:
        urls = [url] if url is not None else list(_transports)
        for key in urls:
            transport = _transports.pop(key, None)
            if transport is not None:
                transport.cleanup()


def probe(conf, url=None):
    """Raise TransportUnavailable unless the message queue of ``url`` answers.

    For RabbitMQ, one AMQP login per host of the URL until one succeeds, so
    that wrong credentials or a missing vhost count as "down" with RabbitMQ's
    own reason; with TLS ([oslo_messaging_rabbit] ssl) only a TCP connection,
    since the login would need oslo.messaging's whole TLS setup.  Other
    transports (fake://) are always there."""
    url = url or conf.transport_url
    parsed = messaging.TransportURL.parse(conf, url)
    if parsed.transport not in _RABBIT_SCHEMES:
        return
    tls = conf.oslo_messaging_rabbit.ssl
    reasons = []
    for host in parsed.hosts or [messaging.TransportHost(hostname="localhost")]:
        address = f"{host.hostname}:{host.port or _AMQP_PORT}"
        try:
            if tls:
                socket.create_connection(
                    (host.hostname, host.port or _AMQP_PORT), timeout=_PROBE_TIMEOUT).close()
            else:
                _amqp_login(address, host, parsed.virtual_host)
            return
        except (OSError, amqp.exceptions.AMQPError) as exc:
            reasons.append(f"{address}: {_reason(exc)}")
    raise TransportUnavailable("; ".join(reasons))


def _amqp_login(address, host, virtual_host):
    connection = amqp.Connection(
        host=address, userid=host.username or "guest", password=host.password or "guest",
        virtual_host=virtual_host or "/", connect_timeout=_PROBE_TIMEOUT)
    try:
        connection.connect()
    except BaseException:
        connection.collect()  # drop the socket without an AMQP goodbye
        raise
    connection.close()


def _reason(exc):
    if isinstance(exc, amqp.exceptions.AccessRefused):
        return f"RabbitMQ refused the login: {exc.reply_text}"
    if isinstance(exc, amqp.exceptions.AMQPError):
        return f"RabbitMQ refused the connection: {getattr(exc, 'reply_text', None) or exc}"
    if isinstance(exc, TimeoutError):
        return f"no answer within {_PROBE_TIMEOUT} s"
    return str(exc) or type(exc).__name__


# --- serializer -----------------------------------------------------------------

_DATETIME = "__datetime__"


class RequestContextSerializer(messaging.Serializer):
    """Carries the RequestContext across RPC, and datetimes inside arguments and
    results (JSON would turn them into strings of an unspecified format)."""

    def serialize_context(self, ctxt):
        return ctxt.to_dict()

    def deserialize_context(self, ctxt):
        return nova_context.from_dict(ctxt)

    def serialize_entity(self, ctxt, entity):
        return _encode(entity)

    def deserialize_entity(self, ctxt, entity):
        return _decode(entity)


def _encode(value):
    if isinstance(value, datetime.datetime):
        return {_DATETIME: value.isoformat()}
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    return value


def _decode(value):
    if isinstance(value, dict):
        if len(value) == 1 and _DATETIME in value:
            return datetime.datetime.fromisoformat(value[_DATETIME])
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


# --- servers and clients ----------------------------------------------------------

def expose(method):
    """Marks an endpoint method as part of its RPC API; the servers dispatch to
    nothing else (a manager's init_host or periodic_tasks are not remotely
    callable)."""
    method.exposed = True
    return method


def get_server(transport, target, endpoints):
    """An RPC server on ``target`` dispatching to the @expose'd methods of
    ``endpoints``, with the threading executor."""
    server = messaging.get_rpc_server(
        transport, target, endpoints, serializer=RequestContextSerializer(),
        access_policy=dispatcher.ExplicitRPCAccessPolicy)
    if server.executor_type != "threading":
        raise RuntimeError(
            f"oslo.messaging chose the {server.executor_type} executor: something "
            "monkey-patched the thread module, nova_runtime runs on native threads")
    return server


class RPCAPI:
    """Base of the RPC client classes, one per topic (conductor, compute).

    ``TOPIC`` and ``VERSION`` (the newest version the class sends) describe the
    API; each method asks ``_prepare`` for the version it needs. With a
    ``version_cap`` (the version that the oldest server still speaks, during a
    rolling upgrade) a call needing more raises ServiceTooOld, or the method
    falls back to an older form after checking ``can_send_version``.

    The history of each API is in its module's docstring; servers accept any
    1.x up to their own endpoint target's version.
    """

    TOPIC = None
    VERSION = "1.0"

    def __init__(self, transport, version_cap=None, timeout=None):
        target = messaging.Target(topic=self.TOPIC, version=self.VERSION)
        self.client = messaging.get_rpc_client(
            transport, target, version_cap=version_cap, timeout=timeout,
            serializer=RequestContextSerializer())

    def can_send_version(self, version):
        return self.client.can_send_version(version)

    def _prepare(self, version, **kwargs):
        if not self.client.can_send_version(version):
            raise ServiceTooOld(self.TOPIC, version, self.client.version_cap)
        return self.client.prepare(version=version, **kwargs)
