"""[glance] num_retries and api_servers against a real HTTP server."""

import http.server
import json
import socket
import threading

import pytest

from nova_runtime import config
from nova_runtime import context as nova_context
from nova_runtime.image import glance

IMAGE = {"id": "1f0e8c6e-5a4b-4b8e-9d57-6a3f1c2b0a11", "name": "cirros", "status": "active"}


class FlakyGlance(http.server.ThreadingHTTPServer):
    """Answers 503 to the first ``unavailable`` requests, then the image."""

    def __init__(self, unavailable):
        self.unavailable = unavailable
        self.requests = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        self._answer()

    def do_PUT(self):  # noqa: N802
        self._answer(self.rfile.read(int(self.headers["Content-Length"])))

    def _answer(self, body=None):
        server = self.server
        server.requests.append((self.command, self.path, body))
        if len(server.requests) <= server.unavailable:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = json.dumps(IMAGE).encode() if self.command == "GET" else b""
        self.send_response(200 if self.command == "GET" else 204)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def glance_server(request):
    server = FlakyGlance(getattr(request, "param", 0))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def no_delay(monkeypatch):
    monkeypatch.setattr(glance, "RETRY_DELAY", 0)


def _closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once closed


def _setup(api_servers, num_retries):
    conf = config.new_conf()
    conf.set_override("api_servers", api_servers, group="glance")
    conf.set_override("num_retries", num_retries, group="glance")
    return nova_context.RequestContext(auth_token="token", project_id="p"), conf


@pytest.mark.parametrize("glance_server", [2], indirect=True)
def test_503_is_retried_num_retries_times(glance_server):
    context, conf = _setup([glance_server.url], num_retries=2)
    assert glance.show(context, IMAGE["id"], conf)["name"] == "cirros"
    assert len(glance_server.requests) == 3


@pytest.mark.parametrize("glance_server", [2], indirect=True)
def test_without_retries_a_503_fails(glance_server):
    context, conf = _setup([glance_server.url], num_retries=1)
    with pytest.raises(glance.ImageServiceError, match="503"):
        glance.show(context, IMAGE["id"], conf)
    assert len(glance_server.requests) == 2


def test_a_retry_goes_to_the_next_api_server(glance_server):
    context, conf = _setup([_closed_port_url(), glance_server.url], num_retries=1)
    assert glance.show(context, IMAGE["id"], conf)["id"] == IMAGE["id"]
    assert len(glance_server.requests) == 1


def test_num_retries_0_fails_at_the_first_connection_error(glance_server):
    context, conf = _setup([_closed_port_url(), glance_server.url], num_retries=0)
    with pytest.raises(glance.ImageServiceError, match="cannot be reached"):
        glance.show(context, IMAGE["id"], conf)
    assert glance_server.requests == []


@pytest.mark.parametrize("glance_server", [1], indirect=True)
def test_an_upload_from_a_file_is_sent_whole_again(glance_server, tmp_path):
    path = tmp_path / "snapshot"
    path.write_bytes(b"disk data")
    context, conf = _setup([glance_server.url], num_retries=1)
    with open(path, "rb") as data:
        glance.upload(context, IMAGE["id"], data, conf)
    assert [body for _, _, body in glance_server.requests] == [b"disk data", b"disk data"]
