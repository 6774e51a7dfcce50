"""nova-conductor and nova-compute as real processes, on the tests' private
RabbitMQ node and MariaDB server, each with its own nova.conf."""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import json
import os
import re
import signal
import subprocess
import sys

import pytest
import sqlalchemy as sa

from nova_runtime import config, context as nova_context, rpc
from nova_runtime.compute import rpcapi as compute_rpcapi
from nova_runtime.conductor import rpcapi as conductor_rpcapi
from nova_runtime.db import engines, migration
from nova_runtime.db.api import models as api_models
from nova_runtime.db.main import models as main_models
from nova_runtime.objects import cell_mappings
from harness import cli
from harness.daemons import Daemon
from harness.nova_conf import write_nova_conf
from harness.processes import wait_until

pytestmark = pytest.mark.mysql

STOP_SECONDS = 10

# Fast heartbeats and reconnects, so that the tests wait seconds, not minutes.
# (A stop takes 1-3 s; the tests allow STOP_SECONDS for a loaded CI machine.)
COMMON = """\
[DEFAULT]
host = {host}
transport_url = {transport_url}
my_ip = 127.0.0.1
state_path = {state_path}
report_interval = 1
periodic_interval = 2
rpc_response_timeout = 5
compute_driver = fake.FakeDriver
cpu_allocation_ratio = 8.0
ram_allocation_ratio = 1.25
disk_allocation_ratio = 2.0
reserved_host_memory_mb = 256
[oslo_messaging_rabbit]
rabbit_retry_interval = 1
rabbit_retry_backoff = 1
rabbit_interval_max = 2
[conductor]
# One process: these tests count a daemon's log lines (workers: their own test).
workers = 1
"""


def write_conf(tmp_path, host, transport_url, db_url=None, extra=""):
    path = tmp_path / f"{host}.conf"
    text = COMMON.format(host=host, transport_url=transport_url,
                         state_path=tmp_path / host)
    if db_url:
        text += f"[database]\nconnection = {db_url}\n"
    path.write_text(text + extra)
    return path


@pytest.fixture
def daemons(tmp_path):
    started = []

    def start(binary, conf):
        daemon = Daemon(binary, conf, tmp_path / f"{conf.stem}.log")
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.kill()


def rows(db_url, model, **filters):
    with engines.get_engine(db_url).connect() as connection:
        return [row._asdict() for row in connection.execute(
            sa.select(model).filter_by(deleted=0, **filters).order_by(model.id))]


def service_rows(db_url):
    return {(row["host"], row["binary"]): row for row in rows(db_url, main_models.Service)}


def test_conductor_and_two_computes(tmp_path, nova_databases, rabbitmq, daemons):
    api_url, db_url = nova_databases["api"], nova_databases["main"]
    migration.sync("api", api_url)
    migration.sync("main", db_url)
    cell_mappings.create_cell(api_url, "cell1", rabbitmq.url, db_url)

    conductor = daemons("nova-conductor", write_conf(tmp_path, "ctl", rabbitmq.url, db_url))
    computes = [
        daemons("nova-compute", write_conf(
            tmp_path, "c1", rabbitmq.url,
            extra="[fake_driver]\nvcpus = 8\nmemory_mb = 16384\nlocal_gb = 200\n")),
        daemons("nova-compute", write_conf(
            tmp_path, "c2", rabbitmq.url,
            extra="[fake_driver]\nvcpus = 4\nmemory_mb = 8192\nlocal_gb = 100\n"
                  "hypervisor_hostname = c2.fake\n")),
    ]

    # Both binaries register, and heartbeat.
    expected = {("ctl", "nova-conductor"), ("c1", "nova-compute"), ("c2", "nova-compute")}
    wait_until(lambda: set(service_rows(db_url)) == expected, 60,
               f"services rows: {sorted(service_rows(db_url))}")
    first = service_rows(db_url)
    assert {row["topic"] for row in first.values()} == {"conductor", "compute"}
    wait_until(lambda: all(row["report_count"] > first[key]["report_count"]
                           for key, row in service_rows(db_url).items()), 15,
               "heartbeats did not advance")
    assert all(row["last_seen_up"] > first[key]["last_seen_up"]
               for key, row in service_rows(db_url).items())

    # Compute nodes with the fake driver's resources and the ratios of nova.conf.
    wait_until(lambda: len(rows(db_url, main_models.ComputeNode)) == 2, 30, "no compute nodes")
    nodes = {row["host"]: row for row in rows(db_url, main_models.ComputeNode)}
    assert [(nodes[h]["vcpus"], nodes[h]["memory_mb"], nodes[h]["local_gb"]) for h in ("c1", "c2")
            ] == [(8, 16384, 200), (4, 8192, 100)]
    assert nodes["c2"]["hypervisor_hostname"] == "c2.fake"
    for node in nodes.values():
        assert (node["cpu_allocation_ratio"], node["ram_allocation_ratio"],
                node["disk_allocation_ratio"]) == (8.0, 1.25, 2.0)
        assert node["memory_mb_used"] == 256 and node["free_ram_mb"] == node["memory_mb"] - 256
        assert node["hypervisor_type"] == "fake" and node["host_ip"] == "127.0.0.1"
        assert node["service_id"] == first[(node["host"], "nova-compute")]["id"]
        assert node["mapped"] == 0
        assert json.loads(node["supported_instances"])

    # Each compute serves its RPC topic on its own host.
    conf = config.new_conf()
    rpc.set_defaults(conf)
    conf([])
    api = compute_rpcapi.ComputeAPI(rpc.get_transport(conf, rabbitmq.url))
    try:
        answer = api.ping(nova_context.get_admin_context(), "c2", timeout=10)
    finally:
        rpc.cleanup(rabbitmq.url)
    assert answer == {"host": "c2", "service_id": first[("c2", "nova-compute")]["id"],
                      "pid": computes[1].process.pid,
                      "driver": "FakeDriver", "nodes": ["c2.fake"]}

    # nova-status warns until discover_hosts maps the hosts.
    nova_conf = write_nova_conf(tmp_path / "nova.conf", api_url, db_url, rabbitmq.url)
    unmapped = upgrade_check(nova_conf, "Unmapped compute hosts")
    assert unmapped["result"] == 1 and "cell1: c1, c2" in unmapped["details"]
    discovered = cli.run("nova-manage", "cell_v2", "discover_hosts", "--verbose",
                         config_file=nova_conf)
    assert discovered.returncode == 0, discovered.stderr
    assert {row["mapped"] for row in rows(db_url, main_models.ComputeNode)} == {1}
    with engines.get_engine(api_url).connect() as connection:
        mapped = set(connection.scalars(sa.select(api_models.HostMapping.host)))
    assert mapped == {"c1", "c2"}

    # SIGTERM: each stops promptly, exits 0 and says so.
    for daemon in (*computes, conductor):
        daemon.terminate()
    for daemon in (*computes, conductor):
        code, seconds = daemon.wait_stopped()
        assert (code, daemon.binary) == (0, daemon.binary), daemon.err_path.read_text()
        assert seconds < STOP_SECONDS
        assert re.search(rf"{daemon.binary} on host \S+ stopped", daemon.log())
        assert "Traceback" not in daemon.log() + daemon.err_path.read_text()
    engines.dispose_all()


def upgrade_check(nova_conf, name):
    result = cli.run("nova-status", "upgrade", "check", "--json", config_file=nova_conf)
    return next(check for check in json.loads(result.stdout)["checks"] if check["check"] == name)


def test_daemons_started_while_rabbitmq_is_down_wait_for_it(
        tmp_path, nova_databases, rabbitmq, daemons):
    db_url = nova_databases["main"]
    migration.sync("main", db_url)
    masked = re.escape(rabbitmq.url.replace("RABBIT_PASS", "****"))
    rabbitmq.stop()
    try:
        conductor = daemons("nova-conductor", write_conf(tmp_path, "ctl", rabbitmq.url, db_url))
        compute = daemons("nova-compute", write_conf(tmp_path, "c3", rabbitmq.url))
        for daemon in (conductor, compute):
            daemon.wait_for_log(rf"Waiting for the message queue {masked} \(attempt 1\)")
        assert service_rows(db_url) == {}
    finally:
        rabbitmq.start()

    wait_until(lambda: set(service_rows(db_url)) == {("ctl", "nova-conductor"),
                                                     ("c3", "nova-compute")}, 60,
               f"not registered; the compute's log:\n{compute.log()}")
    wait_until(lambda: rows(db_url, main_models.ComputeNode, host="c3"), 30, "no compute node")
    for daemon in (conductor, compute):
        log = daemon.log()
        waits = [line for line in log.splitlines() if "Waiting for the message queue" in line]
        attempts = int(re.search(rf"The message queue {masked} is available after (\d+) attempts",
                                 log).group(1))
        assert len(waits) == attempts - 1  # one line per failed attempt, nothing else
        for line in waits:
            assert " WARNING " in line and "Connection refused" in line
            assert re.search(r"\(attempt \d+\): .*; retrying in \d+ s$", line)
        assert "RABBIT_PASS" not in log and "Traceback" not in log

    for daemon in (compute, conductor):
        daemon.terminate()
    for daemon in (compute, conductor):
        code, seconds = daemon.wait_stopped()
        assert code == 0 and seconds < STOP_SECONDS
    engines.dispose_all()


def gone(pid):
    """The process has exited (or is a zombie nobody has reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def children_of(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return {int(child) for child in handle.read().split()}


def test_conductor_workers_share_one_service_and_are_supervised(
        tmp_path, nova_databases, rabbitmq, daemons):
    db_url = nova_databases["main"]
    migration.sync("main", db_url)
    conductor = daemons("nova-conductor", write_conf(
        tmp_path, "ctl", rabbitmq.url, db_url, extra="[conductor]\nworkers = 3\n"))
    conductor.wait_for_log(r"nova-conductor started 3 worker processes")
    workers = children_of(conductor.process.pid)
    assert len(workers) == 3
    wait_until(lambda: conductor.log().count("nova-conductor on host ctl started") == 3, 60,
               f"not every worker started; log:\n{conductor.log()}")
    assert list(service_rows(db_url)) == [("ctl", "nova-conductor")]  # one row for all

    # Every worker consumes the topic: pings from one client reach several of them.
    conf = config.new_conf()
    rpc.set_defaults(conf)
    conf([])
    api = conductor_rpcapi.ConductorAPI(rpc.get_transport(conf, rabbitmq.url))
    try:
        answered = set()
        for _ in range(30):
            answered.add(api.ping(nova_context.get_admin_context(), timeout=10)["pid"])
    finally:
        rpc.cleanup(rabbitmq.url)
    assert len(answered) > 1 and answered <= workers

    # A worker that dies is replaced.
    lost = min(workers)
    os.kill(lost, signal.SIGKILL)
    conductor.wait_for_log(rf"nova-conductor worker {lost} exited unexpectedly \(killed by "
                           r"SIGKILL\); starting another in 1 s")
    wait_until(lambda: len(children_of(conductor.process.pid)) == 3, 30, "no new worker")
    replaced = children_of(conductor.process.pid)
    assert lost not in replaced and len(replaced - workers) == 1
    # (A worker stopped while starting says so instead: test_a_worker_...)
    wait_until(lambda: conductor.log().count("nova-conductor on host ctl started") == 4, 60,
               f"the new worker did not start; log:\n{conductor.log()}")

    # SIGTERM to the daemon: every worker stops, the daemon exits 0.
    conductor.terminate()
    code, seconds = conductor.wait_stopped(timeout=STOP_SECONDS * 2)
    assert code == 0 and seconds < STOP_SECONDS * 2
    assert conductor.log().count("nova-conductor on host ctl stopped") == 3
    assert not any(os.path.exists(f"/proc/{pid}") for pid in replaced)
    assert "Traceback" not in conductor.log()
    engines.dispose_all()


# A daemon whose service takes a while to build, with two workers.
SLOW_BUILD_DAEMON = """\
import sys, threading, time
import nova_runtime
from nova_runtime import service

class Service:
    def __init__(self):
        self.stopped = threading.Event()
    def request_stop(self):
        self.stopped.set()
    @property
    def stopping(self):
        return self.stopped.is_set()
    def start(self):
        return not self.stopping
    def wait(self):
        self.stopped.wait()
    def stop(self):
        pass

def build(conf):
    print("building", flush=True)
    time.sleep(3)
    return Service()

sys.exit(service.main("slow", build, ["--config-file", sys.argv[1]], workers=lambda conf: 2))
"""


def test_a_worker_told_to_stop_while_it_is_built_stops_cleanly(tmp_path):
    conf = tmp_path / "slow.conf"
    conf.write_text("[DEFAULT]\n")
    daemon = subprocess.Popen([sys.executable, "-c", SLOW_BUILD_DAEMON, str(conf)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = ""
        while seen.count("building") < 2:  # the two workers' lines may interleave
            seen += daemon.stdout.readline()
            assert daemon.poll() is None, seen
        daemon.terminate()  # both workers are in build()
        try:  # reads both pipes while waiting: a full stderr pipe must not stall the daemon
            _, stderr = daemon.communicate(timeout=STOP_SECONDS * 2)
        except subprocess.TimeoutExpired:
            daemon.kill()
            _, stderr = daemon.communicate()
            pytest.fail(f"the daemon did not stop within {STOP_SECONDS * 2} s; stderr:\n{stderr}")
        code = daemon.returncode
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert code == 0, stderr
    assert stderr.count("slow stopped before it started") == 2, stderr
    assert "exited unexpectedly" not in stderr


def test_workers_stop_when_their_parent_is_killed(tmp_path, nova_databases, rabbitmq, daemons):
    db_url = nova_databases["main"]
    migration.sync("main", db_url)
    conductor = daemons("nova-conductor", write_conf(
        tmp_path, "ctl", rabbitmq.url, db_url, extra="[conductor]\nworkers = 2\n"))
    wait_until(lambda: conductor.log().count("nova-conductor on host ctl started") == 2, 60,
               f"not every worker started; log:\n{conductor.log()}")
    workers = children_of(conductor.process.pid)
    assert len(workers) == 2
    conductor.process.kill()  # SIGKILL: the parent cannot stop them itself
    conductor.process.wait()
    wait_until(lambda: all(map(gone, workers)), STOP_SECONDS,
               f"workers outlived their parent; log:\n{conductor.log()}")
    assert conductor.log().count("nova-conductor on host ctl stopped") == 2
    engines.dispose_all()


def test_workers_that_cannot_start_stop_the_daemon(tmp_path, daemons):
    no_database = daemons("nova-conductor", write_conf(
        tmp_path, "ctl", "rabbit://nova:x@127.0.0.1:1/", extra="[conductor]\nworkers = 2\n"))
    assert no_database.process.wait(30) == 1
    assert "nova-conductor cannot start: [database] connection is not set" in no_database.log()
    assert "worker" in no_database.log() and "cannot start; stopping the other" in (
        no_database.log())


def test_daemons_refuse_to_start_without_what_they_need(tmp_path, daemons):
    bad_driver = daemons("nova-compute", write_conf(
        tmp_path, "c1", "rabbit://nova:x@127.0.0.1:1/", extra="[DEFAULT]\ncompute_driver = "
        "fake.NoSuchDriver\n"))
    no_database = daemons("nova-conductor",
                          write_conf(tmp_path, "ctl", "rabbit://nova:x@127.0.0.1:1/"))
    assert bad_driver.process.wait(30) == 1
    assert "[DEFAULT] compute_driver" in bad_driver.err_path.read_text()
    assert "fake.NoSuchDriver" in bad_driver.err_path.read_text()
    assert no_database.process.wait(30) == 1
    assert ("nova-conductor cannot start: [database] connection is not set"
            in no_database.log())
