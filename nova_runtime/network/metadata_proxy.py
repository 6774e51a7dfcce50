"""The compute's metadata proxy: guests' 169.254.169.254:80 to the metadata API.

    python -m nova_runtime.network.metadata_proxy LISTEN_ADDRESS PORT TABLE UPSTREAM_URL

linux_net starts one per bridge, listening on the bridge's gateway address
(a DNAT rule sends 169.254.169.254:80 there). It knows the asking instance by
the request's source address, looked up in TABLE (a JSON file that linux_net
rewrites as instances come and go: {fixed address: {"uuid", "project_id"}}),
and forwards GET and HEAD to the metadata API with the headers that a Neutron
metadata proxy sends: X-Instance-ID, X-Tenant-ID and X-Instance-ID-Signature,
the hex HMAC-SHA256 of the instance id keyed with the shared secret. The
secret comes in the environment (NOVA_METADATA_PROXY_SECRET), not on the
command line that every user of the host can read.
"""

import http.client
import http.server
import json
import os
import sys
import threading
import urllib.parse

from nova_runtime.metadata import signature

SECRET_VARIABLE = "NOVA_METADATA_PROXY_SECRET"
_TIMEOUT = 30


def proxy_headers(secret, instance, source_address):
    return {
        "X-Instance-ID": instance["uuid"],
        "X-Tenant-ID": instance["project_id"],
        "X-Instance-ID-Signature": signature.sign(secret, instance["uuid"]),
        "X-Forwarded-For": source_address,
    }


class Table:
    """The instance table, read again only when its file changed."""

    def __init__(self, path):
        self.path = path
        self._stamp = None
        self._entries = {}
        self._lock = threading.Lock()

    def get(self, address):
        with self._lock:
            try:
                stat = os.stat(self.path)
                stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
                if stamp != self._stamp:
                    with open(self.path, encoding="utf-8") as f:
                        self._entries = json.load(f)
                    self._stamp = stamp
            except (OSError, ValueError):
                self._entries, self._stamp = {}, None
            return self._entries.get(address)


def handler_class(table, upstream, secret):
    target = urllib.parse.urlsplit(upstream)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self):  # noqa: N802 (http.server's naming)
            self._forward()

        def do_HEAD(self):  # noqa: N802
            self._forward()

        def _forward(self):
            source = self.client_address[0]
            instance = table.get(source)
            if instance is None:
                self._answer(404, f"No instance on this host has the address {source}.\n")
                return
            try:
                conn = http.client.HTTPConnection(target.hostname, target.port or 80,
                                                  timeout=_TIMEOUT)
                conn.request(self.command, self.path,
                             headers=proxy_headers(secret, instance, source))
                reply = conn.getresponse()
                body = reply.read()
                conn.close()
            except OSError as error:
                self._answer(502, f"The metadata API at {upstream} did not answer: {error}\n")
                return
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.getheader("Content-Type", "text/plain"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _answer(self, status, text):
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, fmt, *args):
            sys.stderr.write(f"{self.client_address[0]} {fmt % args}\n")

    return Handler


def serve(listen, port, table_path, upstream, secret):
    server = http.server.ThreadingHTTPServer(
        (listen, port), handler_class(Table(table_path), upstream, secret))
    server.daemon_threads = True
    server.serve_forever()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 4:
        sys.exit("usage: python -m nova_runtime.network.metadata_proxy "
                 "LISTEN_ADDRESS PORT TABLE UPSTREAM_URL")
    listen, port, table_path, upstream = argv
    serve(listen, int(port), table_path, upstream, os.environ.get(SECRET_VARIABLE, ""))


if __name__ == "__main__":
    main()
