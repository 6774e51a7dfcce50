"""Waiting for things and stopping processes: a free loopback port, a
condition, an HTTP server that answers, a process stopped with a signal."""

import signal
import socket
import subprocess
import time

import requests


def free_port():
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout, message="condition not met", daemons=()):
    """The first true result of ``predicate``, asked every 0.2 s;
    AssertionError after ``timeout`` seconds, RuntimeError as soon as one of
    ``daemons`` (harness.daemons.Daemon) has exited."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        for daemon in daemons:
            daemon.check_running()
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout}s: {message}")
        time.sleep(0.2)
    return result


def wait_for_http(url, process, log, timeout=60):
    """Until ``url`` answers below 500; RuntimeError when ``process`` exits
    first or after ``timeout`` seconds (``log``: where to look)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}; see {log}")
        try:
            if requests.get(url, timeout=10).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s; see {log}")


def stop(process, signum=signal.SIGTERM, timeout=20):
    """Send ``signum`` to a running ``process`` (a Popen); kill it when it
    has not exited after ``timeout`` seconds."""
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
