"""A private memcached: auth_token's token cache, as deployed."""

import contextlib
import os
import shutil
import socket
import subprocess
import time

from harness.processes import free_port, stop


def start_memcached(workdir):
    """(process, "127.0.0.1:PORT") of a memcached on a free loopback port,
    when Debian's is installed; (None, None) otherwise."""
    if not shutil.which("memcached"):
        return None, None
    port = free_port()
    user = ["-u", "memcache"] if os.geteuid() == 0 else []
    process = subprocess.Popen(["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0",
                                "-m", "16", *user], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, cwd=workdir)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return process, f"127.0.0.1:{port}"
        time.sleep(0.05)
    stop(process)
    return None, None


def memcached_items(server):
    """How many items the memcached at host:port holds."""
    host, port = server.split(":")
    with socket.create_connection((host, int(port)), 5) as sock:
        sock.sendall(b"stats\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            data += sock.recv(4096)
    stats = dict(line.split()[1:3] for line in data.decode().splitlines()
                 if line.startswith("STAT "))
    return int(stats["curr_items"])
