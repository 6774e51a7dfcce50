"""nova_runtime's daemons run as operators run them: the console script
with --config-file and --log-file, one process each."""

import os
import pathlib
import re
import signal
import subprocess
import time

from harness import cli
from harness.processes import wait_until


class Daemon:
    """``binary`` (a console script of ``bin_dir``) with ``conf``, logging to
    ``log``; its standard error goes to ``log`` with the suffix .stderr. A
    daemon without --log-file (``log_file=False``: nova_runtime's nova-api)
    logs to its standard error, then ``log``."""

    def __init__(self, binary, conf, log, bin_dir=cli.BIN, log_file=True):
        self.binary, self.log_path = binary, pathlib.Path(log)
        argv = [os.path.join(bin_dir, binary), "--config-file", str(conf)]
        if log_file:
            self.err_path = self.log_path.with_suffix(".stderr")
            argv += ["--log-file", str(self.log_path)]
        else:
            self.err_path = self.log_path
        with open(self.err_path, "w") as err:
            self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)

    def log(self):
        return self.log_path.read_text() if self.log_path.exists() else ""

    def wait_for_log(self, pattern, timeout=30):
        wait_until(lambda: re.search(pattern, self.log()), timeout,
                   f"{self.binary} never logged {pattern!r}; log:\n{self.log()}"
                   f"\nstderr:\n{self.err_path.read_text()}")

    def check_running(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.binary} exited with {self.process.returncode}; see "
                               f"{self.log_path} and {self.err_path}")

    def terminate(self):
        self.began_stopping = time.monotonic()
        self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout=10):
        """The exit code and the seconds since terminate()."""
        code = self.process.wait(timeout)
        return code, time.monotonic() - self.began_stopping

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def stop_all(daemons, timeout=30):
    """SIGTERM every daemon at once (a stop takes seconds), then wait for
    each; {daemon: exit code, None when it was still running after
    ``timeout`` seconds and was killed}."""
    for daemon in daemons:
        daemon.terminate()
    codes = {}
    for daemon in daemons:
        try:
            codes[daemon] = daemon.wait_stopped(timeout)[0]
        except subprocess.TimeoutExpired:
            codes[daemon] = None
            daemon.kill()
    return codes
