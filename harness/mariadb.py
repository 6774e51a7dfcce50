"""A private MariaDB server for tests and benchmarks: its own data
directory, socket and port.

They never touch a system-wide MariaDB. Administration (databases, users,
grants) goes through the ``mariadb`` client as root over the private socket,
as an operator would; the code under test logs in over TCP as the users that
the tests create.
"""

import os
import shutil
import subprocess
import tempfile
import time

from harness.processes import free_port

MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "/usr/bin/mariadb-install-db"


class MariaDB:
    def __init__(self):
        missing = [path for path in (MARIADBD, INSTALL_DB) if not os.path.exists(path)]
        if missing:
            raise RuntimeError(
                f"{', '.join(missing)} not found: install Debian's mariadb-server "
                "(tools/bootstrap.sh does)")
        self.basedir = tempfile.mkdtemp(prefix="nova-runtime-mariadb-")
        self.datadir = os.path.join(self.basedir, "data")
        self.socket = os.path.join(self.basedir, "mysqld.sock")
        self.port = free_port()
        self.process = None

    def start(self, timeout=30):
        shutil.chown(self.basedir, "mysql", "mysql")
        subprocess.run(
            [INSTALL_DB, "--user=mysql", f"--datadir={self.datadir}",
             "--auth-root-authentication-method=socket", "--skip-test-db"],
            check=True, capture_output=True)
        return self._launch(timeout)

    def _launch(self, timeout):
        self.process = subprocess.Popen(
            [MARIADBD, "--no-defaults", "--user=mysql", f"--datadir={self.datadir}",
             f"--socket={self.socket}", f"--port={self.port}", "--bind-address=127.0.0.1",
             f"--pid-file={self.basedir}/mariadbd.pid", "--skip-log-bin",
             "--innodb-buffer-pool-size=64M", "--innodb-flush-log-at-trx-commit=2",
             f"--log-error={self.basedir}/error.log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited: see {self.basedir}/error.log")
            if subprocess.run(self._client() + ["-e", "SELECT 1"],
                              capture_output=True).returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"mariadbd did not answer within {timeout}s")

    def restart(self, down=2, timeout=60):
        """Stop the server as an operator's ``service mariadb stop`` does
        (SIGTERM), keep it down ``down`` seconds, start it again on the same
        data directory and port. Clients lose their connections."""
        self.process.terminate()
        self.process.wait(timeout=60)
        time.sleep(down)
        return self._launch(timeout)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        shutil.rmtree(self.basedir, ignore_errors=True)

    def _client(self):
        return ["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot"]

    def sql(self, statements):
        """Run SQL as root over the socket; returns stdout (tab-separated rows)."""
        result = subprocess.run(self._client() + ["-N", "-B", "-e", statements],
                                capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"mariadb failed: {result.stderr.strip()}")
        return result.stdout

    def url(self, user, password, database):
        return f"mysql+pymysql://{user}:{password}@127.0.0.1:{self.port}/{database}?charset=utf8mb4"
