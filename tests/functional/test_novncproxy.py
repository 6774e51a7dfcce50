"""nova-novncproxy as operators run it (its console script, a nova.conf, a
log file), with a real websocket client (websocket-client) and a small
fake VNC server started by the test: it sends the RFB banner, then echoes.

Tokens are stored in a SQLite cell database the way nova-compute stores them
(objects.console_auth_tokens, hash only); the proxy reads that database.
"""

import socket
import socketserver
import threading
import time
import urllib.request
import uuid

import pytest
import websocket

from nova_runtime.db import engines, migration
from nova_runtime.objects import console_auth_tokens as tokens
from nova_runtime.objects import instances
from harness.daemons import Daemon

BANNER = b"RFB 003.008\n"
ALLOWED_ORIGIN = "console.example.org"
PAGE = b"<html>noVNC stand-in</html>"


class FakeVNC(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """Sends the RFB 3.8 banner, then echoes what it gets."""

    daemon_threads = True
    allow_reuse_address = True

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.sendall(BANNER)
            while data := self.request.recv(4096):
                self.request.sendall(data)

    def __init__(self):
        super().__init__(("127.0.0.1", 0), self.Handler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Proxy:
    def __init__(self, tmp_path):
        self.db_url = f"sqlite:///{tmp_path}/cell1.sqlite"
        migration.sync("main", self.db_url)
        web = tmp_path / "novnc"
        web.mkdir()
        (web / "vnc_auto.html").write_bytes(PAGE)
        (web / "app").mkdir()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        conf = tmp_path / "nova.conf"
        conf.write_text(
            f"[DEFAULT]\nweb = {web}\n"
            f"[database]\nconnection = {self.db_url}\n"
            f"[vnc]\nnovncproxy_host = 127.0.0.1\nnovncproxy_port = {self.port}\n"
            f"[console]\nallowed_origins = {ALLOWED_ORIGIN}\n")
        self.vnc = FakeVNC()
        self.daemon = Daemon("nova-novncproxy", conf, tmp_path / "nova-novncproxy.log")
        self.daemon.wait_for_log(r"listening on http://127\.0\.0\.1:")

    def token(self, ttl=600, issued=None, port=None, instance_state=None):
        """A stored token for a live instance, as nova-compute issues it."""
        instance = instances.create(self.db_url, {
            "uuid": str(uuid.uuid4()), "host": "c1", "vm_state": "active",
            "project_id": "demo"})
        token = tokens.new_token()
        tokens.create(self.db_url, token_hash=tokens.hash_token(token), console_type="novnc",
                      host="127.0.0.1", port=port or self.vnc.port,
                      instance_uuid=instance["uuid"], ttl=ttl,
                      access_url_base=f"{self.base}/vnc_auto.html", now=issued)
        if instance_state == "deleted":
            instances.destroy(self.db_url, instance["uuid"])
        return token

    def connect(self, token=None, origin=None, **options):
        url = f"ws://127.0.0.1:{self.port}/" + (f"?token={token}" if token else "")
        if origin is None:
            options.setdefault("suppress_origin", True)
        return websocket.create_connection(url, timeout=10, origin=origin, **options)

    def refused(self, token=None, origin=None, **options):
        with pytest.raises(websocket.WebSocketBadStatusException) as refusal:
            self.connect(token, origin, **options)
        return refusal.value.status_code

    def stop(self):
        self.vnc.shutdown()
        self.vnc.server_close()
        self.daemon.kill()
        engines.dispose_all()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    started = Proxy(tmp_path_factory.mktemp("novncproxy"))
    yield started
    started.stop()


def relays(connection):
    """The RFB banner arrives, and bytes go to the VNC server and back."""
    assert connection.recv() == BANNER
    connection.send_binary(b"\x01\x02hello")
    assert connection.recv() == b"\x01\x02hello"
    return True


def test_a_valid_token_reaches_the_vnc_server(proxy):
    token = proxy.token()
    connection = proxy.connect(token)
    try:
        assert relays(connection)
    finally:
        connection.close()
    # Valid for more than one connection until it expires, as upstream's.
    second = proxy.connect(token)
    assert relays(second)
    second.close()


def test_the_token_may_come_in_novncs_cookie(proxy):
    connection = proxy.connect(cookie=f"lang=en; token={proxy.token()}")
    assert relays(connection)
    connection.close()


def test_origins(proxy):
    token = proxy.token()
    for origin in (proxy.base, f"http://{ALLOWED_ORIGIN}", f"ws://127.0.0.1:{proxy.port}"):
        connection = proxy.connect(token, origin=origin)
        assert relays(connection)
        connection.close()
    assert proxy.refused(token, origin="http://evil.example.com") == 403
    assert proxy.refused(token, origin=f"https://127.0.0.1:{proxy.port}") == 403  # scheme
    assert proxy.refused(token, origin="null") == 403
    log = proxy.daemon.log()
    assert "Origin http://evil.example.com does not match this host" in log
    assert "Origin scheme https does not match the console URL's (http)" in log


def test_unknown_expired_and_orphaned_tokens_are_refused_and_logged(proxy):
    assert proxy.refused(tokens.new_token()) == 403
    expired = proxy.token(ttl=60, issued=time.time() - 61)
    assert proxy.refused(expired) == 403
    assert proxy.refused(proxy.token(instance_state="deleted")) == 403
    assert proxy.refused() == 403
    log = proxy.daemon.log()
    assert log.count("the console token is unknown, expired, or its instance is gone") >= 3
    assert "no console token in the request" in log
    assert expired not in log


def test_an_unreachable_vnc_server_closes_the_websocket(proxy):
    connection = proxy.connect(proxy.token(port=free_port()))
    opcode, frame = connection.recv_data_frame(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(frame.data[:2], "big") == 1011  # internal error
    connection.close()
    assert "Cannot reach the VNC server of instance" in proxy.daemon.log()


def test_the_novnc_page_is_served_without_directory_listings(proxy):
    with urllib.request.urlopen(f"{proxy.base}/vnc_auto.html", timeout=10) as page:
        assert page.read() == PAGE
    with pytest.raises(urllib.error.HTTPError) as listing:
        urllib.request.urlopen(f"{proxy.base}/app/", timeout=10)
    assert listing.value.code == 404


def test_sigterm_stops_the_proxy_with_a_console_open(tmp_path):
    started = Proxy(tmp_path)
    try:
        connection = started.connect(started.token())
        assert relays(connection)
        started.daemon.terminate()
        code, seconds = started.daemon.wait_stopped(timeout=10)
        assert code == 0 and seconds < 5
        assert "nova-novncproxy stopped" in started.daemon.log()
    finally:
        started.stop()


def test_a_missing_web_client_is_a_start_error(tmp_path):
    conf = tmp_path / "nova.conf"
    conf.write_text(f"[DEFAULT]\nweb = {tmp_path}/nowhere\n"
                    f"[database]\nconnection = sqlite:///{tmp_path}/x.sqlite\n")
    daemon = Daemon("nova-novncproxy", conf, tmp_path / "proxy.log")
    assert daemon.process.wait(30) == 1
    assert f"no noVNC web client at {tmp_path}/nowhere" in daemon.log()


def test_a_database_that_does_not_answer_refuses_with_503(tmp_path):
    """The proxy starts without its database; connections say it is down."""
    conf = tmp_path / "nova.conf"
    port = free_port()
    conf.write_text(f"[DEFAULT]\nweb = {tmp_path}\n"
                    f"[database]\nconnection = sqlite:///{tmp_path}/no/such/dir/x.sqlite\n"
                    f"[vnc]\nnovncproxy_host = 127.0.0.1\nnovncproxy_port = {port}\n")
    daemon = Daemon("nova-novncproxy", conf, tmp_path / "proxy.log")
    try:
        daemon.wait_for_log("listening on")
        with pytest.raises(websocket.WebSocketBadStatusException) as refusal:
            websocket.create_connection(f"ws://127.0.0.1:{port}/?token=abc", timeout=10)
        assert refusal.value.status_code == 503
        assert "refused: the cell database does not answer (" in daemon.log()
    finally:
        daemon.kill()
