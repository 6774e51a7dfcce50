"""A private RabbitMQ node for tests and benchmarks: its own node name,
ports, epmd and files.

They never touch the machine's default RabbitMQ node (rabbit@<host>) nor its
epmd: the node is ``nova-test-<pid>@localhost``, listens for AMQP and for
Erlang distribution on free loopback ports, registers with an epmd of its own
(ERL_EPMD_PORT), and keeps its database, logs, config and Erlang cookie in a
temporary directory. No plugins are enabled (so no management listener).
Administration goes through ``rabbitmqctl -n NODE``, as an operator's would.
"""

import os
import shutil
import subprocess
import tempfile
import time

from harness.processes import free_port

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
EPMD = "/usr/bin/epmd"


class RabbitMQ:
    def __init__(self, user="nova", password="RABBIT_PASS", vhost="nova"):
        missing = [path for path in (SERVER, CTL, EPMD) if not os.path.exists(path)]
        if missing:
            raise RuntimeError(
                f"{', '.join(missing)} not found: install Debian's rabbitmq-server "
                "(tools/bootstrap.sh does)")
        self.user, self.password, self.vhost = user, password, vhost
        self.node = f"nova-test-{os.getpid()}@localhost"
        self.basedir = tempfile.mkdtemp(prefix="nova-runtime-rabbitmq-")
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.process = None
        self._write_files()

    @property
    def url(self):
        """The transport_url of the test user and vhost."""
        return f"rabbit://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.vhost}"

    def _write_files(self):
        with open(os.path.join(self.basedir, "rabbitmq.conf"), "w") as stream:
            stream.write(f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
                         "loopback_users = none\n"
                         "log.console = false\n"
                         "log.file.level = info\n")
        with open(os.path.join(self.basedir, "enabled_plugins"), "w") as stream:
            stream.write("[].\n")
        # Keeps the node from reading /etc/rabbitmq/rabbitmq-env.conf.
        open(os.path.join(self.basedir, "rabbitmq-env.conf"), "w").close()

    def _env(self):
        base = self.basedir
        return dict(
            os.environ,
            HOME=base,  # the Erlang cookie: shared by the node and our rabbitmqctl only
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=os.path.join(base, "mnesia"),
            RABBITMQ_LOG_BASE=os.path.join(base, "log"),
            RABBITMQ_CONFIG_FILE=os.path.join(base, "rabbitmq.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(base, "enabled_plugins"),
            RABBITMQ_CONF_ENV_FILE=os.path.join(base, "rabbitmq-env.conf"),
            RABBITMQ_PID_FILE=os.path.join(base, "rabbitmq.pid"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
            ERL_EPMD_PORT=str(self.epmd_port),
            ERL_EPMD_ADDRESS="127.0.0.1",
        )

    def ctl(self, *args, check=True, timeout=60):
        result = subprocess.run([CTL, "-n", self.node, *args], env=self._env(),
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed ({result.returncode}): "
                               f"{result.stderr.strip() or result.stdout.strip()}")
        return result

    def start(self, timeout=60):
        """Start the node, wait for it, and (on first start) create the user and vhost."""
        first = self.process is None
        log = open(os.path.join(self.basedir, "server.out"), "a")
        self.process = subprocess.Popen([SERVER], env=self._env(), cwd=self.basedir,
                                        stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited: see {self.basedir}/server.out "
                                   "and log/")
            # rc 69 until the node is up (LAB-NOTES); each try waits a few seconds itself.
            if self.ctl("await_startup", "--timeout", "5", check=False).returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"RabbitMQ node {self.node} not up within {timeout}s")
            time.sleep(0.3)
        if first:
            self.ctl("add_user", self.user, self.password)
            self.ctl("add_vhost", self.vhost)
            self.ctl("set_permissions", "-p", self.vhost, self.user, ".*", ".*", ".*")
        return self

    def add_vhost(self, vhost):
        """Another virtual host for the test user (a cell's own message queue
        on the same node); returns its transport_url. Idempotent."""
        if vhost not in self.ctl("list_vhosts", "--quiet", "--no-table-headers").stdout.split():
            self.ctl("add_vhost", vhost)
        self.ctl("set_permissions", "-p", vhost, self.user, ".*", ".*", ".*")
        return f"rabbit://{self.user}:{self.password}@127.0.0.1:{self.port}/{vhost}"

    def stop(self):
        """Stop the node; it can be started again with its users and vhosts."""
        if self.process is None or self.process.poll() is not None:
            return
        self.ctl("stop", check=False)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def destroy(self):
        """Stop the node and its epmd, and remove its files."""
        self.stop()
        subprocess.run([EPMD, "-kill"], env=self._env(), capture_output=True)
        shutil.rmtree(self.basedir, ignore_errors=True)

    def is_running(self):
        return self.process is not None and self.process.poll() is None
