"""nova-novncproxy's server: the noVNC web client and the websocket relay to
the instances' VNC servers.

Built on websockify's request handler (websocket handshake, framing, the
relay loop) inside the standard library's threading HTTP server: one thread
per connection, no fork, no eventlet. websockify's own server classes keep
the target in the server object, which only works when every connection has
its own process; here the target is the handler's own.

A websocket upgrade is accepted only with a live console token (the
``token`` query parameter, or the ``token`` cookie that noVNC may set) and,
from a browser, an Origin whose host is the proxy's own (the Host header)
or one of [console] allowed_origins, and whose scheme matches the console
URL's. Anything else gets an HTTP error before the upgrade, and a log line
that says why (never the token). Other GET requests are files of [DEFAULT]
web (no directory listings).
"""

import http.cookies
import http.server
import logging
import socket
import socketserver
import urllib.parse

from websockify import websocketproxy

from nova_runtime import cells, service
from nova_runtime.objects import console_auth_tokens

LOG = logging.getLogger(__name__)

# Origin schemes that match a console URL's scheme (a browser sends the
# page's scheme; a websocket client may send ws/wss).
_SAME_SECURITY = {"http": {"http", "ws"}, "https": {"https", "wss"},
                  "ws": {"http", "ws"}, "wss": {"https", "wss"}}
_CONNECT_TIMEOUT = 10


class Refused(Exception):
    """A websocket upgrade is refused: the message and ``code`` (the HTTP
    status) go to the client, ``detail`` only to the log."""

    def __init__(self, message, code=403, detail=None):
        super().__init__(message)
        self.code = code
        self.detail = detail


class ConsoleProxyServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """Listens on ``address``; checks tokens in the cell database at ``db_url``."""

    daemon_threads = True  # open consoles do not hold the process at exit
    allow_reuse_address = True

    def __init__(self, address, *, db_url, web_root, allowed_origins=()):
        self.db_url = db_url
        self.web_root = web_root
        self.allowed_origins = list(allowed_origins)
        # What websockify's request handler reads from its server.
        self.only_upgrade = not web_root
        self.file_only = True
        self.verbose = False
        self.daemon = False
        self.record = ""
        self.run_once = False
        self.handler_id = 0
        self.traffic = False
        self.web_auth = False
        self.host_token = False
        self.heartbeat = None
        self.token_plugin = None
        self.auth_plugin = None
        self.logger = LOG
        super().__init__(address, ConsoleProxyHandler)


class ConsoleProxyHandler(websocketproxy.ProxyRequestHandler):
    server_version = "nova-novncproxy"

    def handle_upgrade(self):
        client = self.client_address[0]
        refusal = None
        try:
            self.console = self._authorize()
        except Refused as exc:
            refusal = exc
        if refusal is not None:  # logged outside the except block: no traceback appended
            LOG.warning("Console connection from %s refused: %s%s", client, refusal,
                        f" ({refusal.detail})" if refusal.detail else "")
            self.send_error(refusal.code, str(refusal))
            return
        LOG.info("Console connection from %s to instance %s (%s:%s)", client,
                 self.console["instance_uuid"], self.console["host"], self.console["port"])
        super().handle_upgrade()

    def _authorize(self):
        """The token's row, if the token is live and the Origin acceptable."""
        token = self._token()
        if not token:
            raise Refused("no console token in the request")
        try:
            console = console_auth_tokens.validate(self.server.db_url, token)
        except console_auth_tokens.InvalidToken as exc:
            raise Refused(str(exc)) from None
        except cells.DOWN_ERRORS as exc:
            raise Refused("the cell database does not answer", code=503,
                          detail=service.db_error_reason(exc)) from None
        self._check_origin(console)
        if console["internal_access_path"]:
            # Only drivers whose VNC server sits behind an HTTP tunnel set it
            # (not libvirt's nor the fake one): refused rather than relayed wrongly.
            raise Refused("the console needs an HTTP tunnel (internal_access_path), "
                          "which nova-novncproxy does not open", code=501)
        return console

    def _token(self):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        token = (query.get("token") or [""])[-1]
        if token:
            return token
        cookies = http.cookies.SimpleCookie()
        for part in (self.headers.get("Cookie") or "").split(";"):
            try:
                cookies.load(part.strip())
            except http.cookies.CookieError:
                LOG.warning("Malformed cookie from %s ignored", self.client_address[0])
        return cookies["token"].value if "token" in cookies else ""

    def _check_origin(self, console):
        """Upstream's rule: no Origin (not a browser) is fine; otherwise its host
        must be the one the client addressed, or an allowed origin, and its
        scheme (or X-Forwarded-Proto's) as secure as the console URL's."""
        origin = self.headers.get("Origin")
        if origin is None:
            return
        parsed = urllib.parse.urlparse(origin)
        scheme = self.headers.get("X-Forwarded-Proto") or parsed.scheme
        if not parsed.hostname or not scheme:
            raise Refused(f"Origin header {origin!r} is not valid")
        expected = set(self.server.allowed_origins)
        host = urllib.parse.urlsplit(f"//{self.headers.get('Host') or ''}").hostname
        if host:
            expected.add(host)
        if parsed.hostname not in expected:
            raise Refused(f"Origin {origin} does not match this host",
                          detail=f"expected {', '.join(sorted(expected)) or 'a Host header'}")
        base_scheme = urllib.parse.urlparse(console["access_url_base"] or "").scheme
        if scheme not in _SAME_SECURITY.get(base_scheme, {base_scheme}):
            raise Refused(f"Origin scheme {scheme} does not match the console URL's "
                          f"({base_scheme or 'none'})")

    def new_websocket_client(self):
        """Relay between the websocket and the instance's VNC server."""
        host, port = self.console["host"], self.console["port"]
        failure = None
        try:
            target = socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT)
        except OSError as exc:
            failure = exc
        if failure is not None:
            LOG.error("Cannot reach the VNC server of instance %s at %s:%s: %s",
                      self.console["instance_uuid"], host, port, failure)
            raise self.CClose(1011, "Failed to connect to the console")
        target.settimeout(None)
        target.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.do_proxy(target)
        finally:
            try:
                target.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            target.close()
            LOG.info("Console connection to instance %s closed", self.console["instance_uuid"])

    def translate_path(self, path):
        # Files come from [DEFAULT] web, whatever the process's working directory.
        self.directory = self.server.web_root
        return super().translate_path(path)

    def log_message(self, format, *args):
        LOG.debug("%s %s", self.client_address[0], format % args)

