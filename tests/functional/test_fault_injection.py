"""Nothing stuck, nothing lost: one part of the cloud killed or restarted
while a batch of servers is being built, for each part in turn.

One cloud for the whole module (harness/full_cloud.py's FullCloud: nova-api behind
Keystone, the super-conductor and the cell's conductor, nova-scheduler,
three fake computes whose spawns take SPAWN_DELAY s, Placement, Glance), its
nova databases on a MariaDB server of this module's own (restarted by the
MariaDB case), on the session's RabbitMQ node and Placement (both restarted
in place, same port, same data). For each part:

1. BATCH servers are asked for through the HTTP API, by a member of the demo
   project (POSTs of two servers each, in parallel);
2. while they are in flight the part is killed (SIGKILL: nova-api, every
   nova-conductor with its workers, nova-scheduler, every nova-compute,
   Placement's uwsgi) or stopped (RabbitMQ: rabbitmqctl stop; MariaDB:
   SIGTERM), kept down DOWN seconds, and started again with the same
   command line;
3. every server of the project (whatever the API recorded, accepted or
   not: the instance mappings) ends ACTIVE, or ERROR with a fault, within
   SETTLE seconds of the restart;
4. deleting them all through the API succeeds, and then nothing is left:
   no build request, no allocated fixed address, no Placement allocation
   (of those servers, or on the computes' providers), and the project's
   quota usage (instances, cores, RAM) is zero.

And once more with RabbitMQ restarted just before the deletes are sent.

SETTLE is what the cloud's options promise: [conductor] lost_build_timeout
(LOST_BUILD_TIMEOUT: a build request or a scheduled instance that no
service holds any more goes to ERROR), [DEFAULT] instance_build_timeout
(BUILD_TIMEOUT: a compute's build that went nowhere), and RPC calls that
give up after RPC_TIMEOUT, plus the restart itself and periodic rounds.
"""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import concurrent.futures
import os
import subprocess
import tempfile
import time
import uuid

import pytest
import requests
import sqlalchemy as sa

from nova_runtime.db import engines
from nova_runtime.db.api.models import BuildRequest, InstanceMapping
from nova_runtime.db.main.models import FixedIp
from harness import cli
from harness.daemons import Daemon
from harness.databases import nova_databases
from harness.full_cloud import FULL_COMPUTES, FullCloud
from harness.mariadb import MariaDB
from harness.nova_conf import merged
from harness.processes import wait_for_http

pytestmark = pytest.mark.mysql

BATCH = 6  # servers per fault: three POSTs of two
PER_POST = 2
DOWN = 2  # seconds each part stays down
SPAWN_DELAY = 1
LOST_BUILD_TIMEOUT = 10
BUILD_TIMEOUT = 20
RPC_TIMEOUT = 8
# Every server ACTIVE or ERROR with a fault within this many seconds of the
# part's restart: the longest path is a build the compute took just before a
# restart of what it reports to, which its instance_build_timeout ends.
SETTLE = BUILD_TIMEOUT + 2 * RPC_TIMEOUT + 15
DELETE_BOUND = 45

FAULT_OPTIONS = {
    "DEFAULT": {"rpc_response_timeout": RPC_TIMEOUT, "instance_build_timeout": BUILD_TIMEOUT},
    "conductor": {"lost_build_timeout": LOST_BUILD_TIMEOUT},
    "fake_driver": {"spawn_delay": SPAWN_DELAY},
}

FAULTS = ("nova-api", "nova-conductor", "nova-scheduler", "nova-compute", "rabbitmq",
          "mariadb", "placement")
# Seconds between the batch's acceptance and the fault: the conductor and the
# scheduler are at work at once; Placement's outage meets the scheduling;
# RabbitMQ's and MariaDB's meet casts and claims. (nova-api dies while POSTs are
# in flight; nova-compute once one of its builds spawns.)
DELAY = {"nova-conductor": 0.3, "nova-scheduler": 0.1, "rabbitmq": 0.3, "mariadb": 0.3,
         "placement": 0}

survived = []  # (fault, servers, active, error)


class FaultCloud(FullCloud):
    """FullCloud with FAULT_OPTIONS in every nova.conf, and the means to
    kill and restart its processes."""

    def write_conf(self, host, cell=None, **sections):
        return super().write_conf(host, cell, **merged(FAULT_OPTIONS, sections))

    def kill(self, binary):
        """SIGKILL every daemon of ``binary`` (their workers follow); the
        killed daemons (their exit code -9 is on purpose)."""
        victims = [daemon for daemon in self.daemons if daemon.binary == binary]
        for daemon in victims:
            daemon.process.kill()
        for daemon in victims:
            daemon.process.wait()
            self.daemons.remove(daemon)
        return victims

    def restart(self, victims):
        """Each killed daemon again, with its command line (and log file)."""
        for old in victims:
            host = old.log_path.stem.removeprefix(f"{old.binary}-")
            new = Daemon(old.binary, self.workdir / f"{host}.conf", old.log_path)
            self.daemons.append(new)
            if old.binary == "nova-compute":
                self.computes[host] = new
            if old in getattr(self, "schedulers", []):
                self.schedulers[self.schedulers.index(old)] = new

    def kill_api(self):
        self.api_process.kill()
        self.api_process.wait()

    def start_api(self):
        with open(self.api_log, "ab") as handle:
            self.api_process = subprocess.Popen(
                [os.path.join(cli.BIN, "nova-api"), "--config-file", str(self.controller_conf)],
                stdout=handle, stderr=subprocess.STDOUT)
        wait_for_http(self.url, self.api_process, self.api_log)


@pytest.fixture(scope="module")
def nova_mariadb():
    server = MariaDB().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cloud(request, keystone, glance, placement, rabbitmq, nova_mariadb):
    workdir = tempfile.mkdtemp(prefix="nova-runtime-faults-")
    began = time.monotonic()
    with nova_databases(nova_mariadb, f"fault{uuid.uuid4().hex[:6]}_") as urls:
        started = FaultCloud(workdir, urls, rabbitmq, keystone, glance, placement)
        with started.running(FULL_COMPUTES) as running:
            ready = time.monotonic()
            demo = keystone.ids["demo"]
            # Room for a batch and the servers of a fault that are being deleted.
            assert running.openstack("quota", "set", "--instances", str(4 * BATCH),
                                     demo).returncode == 0
            yield running
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    total = sum(servers for _, servers, _, _ in survived)
    reporter.write_line(
        f"fault injection: {len(survived)} of {len(FAULTS) + 1} faults survived, {total} servers "
        f"({', '.join(f'{f}: {a} ACTIVE + {e} ERROR' for f, _, a, e in survived)}); "
        f"the cloud started in {ready - began:.0f} s, the faults took "
        f"{time.monotonic() - ready:.0f} s with the cloud's stop")


# --- the client side --------------------------------------------------------------------

def call(cloud, method, path, token, **kwargs):
    return requests.request(method, cloud.url + path, headers={"X-Auth-Token": token},
                            timeout=30, **kwargs)


def post_batch(cloud, token, tag, during=None):
    """BATCH servers in POSTs of PER_POST, in parallel; ``during`` runs once
    the first POST answered, while the others may still be in flight.
    Returns the ids the API accepted (a POST cut off by a fault may still
    have recorded its servers: see project_servers)."""
    def post(index):
        body = {"server": {"name": f"{tag}-{index}", "flavorRef": "1",
                           "imageRef": cloud.image, "min_count": PER_POST,
                           "max_count": PER_POST}}
        try:
            return call(cloud, "POST", "/servers", token, json=body)
        except requests.RequestException as exc:
            return exc

    with concurrent.futures.ThreadPoolExecutor(BATCH // PER_POST) as pool:
        futures = [pool.submit(post, index) for index in range(BATCH // PER_POST)]
        if during is not None:
            concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_COMPLETED)
            during()
        answers = [future.result() for future in futures]
    accepted = []
    for answer in answers:
        if isinstance(answer, requests.Response) and answer.status_code == 202:
            accepted.append(answer.json()["server"]["id"])
        else:  # only a fault of nova-api may cut a POST off
            assert during is not None, getattr(answer, "text", answer)
    return accepted


def project_servers(cloud, project):
    """The uuids of every server of ``project`` the API database knows (not
    queued for delete): what the users would see, accepted or not."""
    with engines.get_engine(cloud.urls["api"]).connect() as connection:
        return set(connection.scalars(sa.select(InstanceMapping.instance_uuid).filter_by(
            project_id=project, queued_for_delete=False)))


def count(url, model, *criteria):
    with engines.get_engine(url).connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(model).filter(
            *criteria))


def wait_settled(cloud, token, servers, timeout):
    """{uuid: server as the API shows it} once each is ACTIVE with no task, or
    ERROR with a fault; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        shown = {}
        for server in servers:
            try:
                response = call(cloud, "GET", f"/servers/{server}", token)
            except requests.RequestException:
                break
            if response.status_code != 200:
                break
            shown[server] = response.json()["server"]
        done = len(shown) == len(servers) and all(
            (s["status"] == "ACTIVE" and not s.get("OS-EXT-STS:task_state"))
            or (s["status"] == "ERROR" and s.get("fault", {}).get("message"))
            for s in shown.values())
        if done:
            return shown
        assert time.monotonic() < deadline, (
            f"not ACTIVE or ERROR with a fault after {timeout} s: "
            f"{[(s['id'], s['status'], s.get('OS-EXT-STS:task_state')) for s in shown.values()]}"
            f" of {len(servers)}")
        time.sleep(0.5)


def delete_all(cloud, token, servers):
    for server in servers:
        response = call(cloud, "DELETE", f"/servers/{server}", token)
        assert response.status_code in (204, 404), response.text
    deadline = time.monotonic() + DELETE_BOUND
    while any(call(cloud, "GET", f"/servers/{server}", token).status_code != 404
              for server in servers):
        assert time.monotonic() < deadline, f"servers not deleted after {DELETE_BOUND} s"
        time.sleep(0.5)


def nothing_left(cloud, token, project, servers):
    """No build request, fixed address or allocation of ``servers`` left,
    nothing used on the computes' providers, the project's usage zero."""
    assert count(cloud.urls["api"], BuildRequest) == 0
    assert count(cloud.urls["main"], FixedIp, FixedIp.deleted == 0,
                 FixedIp.instance_uuid.is_not(None)) == 0
    for server in servers:
        assert cloud.placement.get(f"/allocations/{server}")["allocations"] == {}, server
    deadline = time.monotonic() + 15  # a compute's claim released by its next report
    while (used := cloud.usages_by_host()):
        assert time.monotonic() < deadline, f"Placement usages left: {used}"
        time.sleep(0.5)
    quota = call(cloud, "GET", f"/os-quota-sets/{project}/detail", token).json()["quota_set"]
    assert {key: quota[key]["in_use"] for key in ("instances", "cores", "ram")} == \
        {"instances": 0, "cores": 0, "ram": 0}


# --- the faults -------------------------------------------------------------------------

def down_and_up(cloud, fault, rabbitmq, placement, nova_mariadb):
    """The fault: ``fault`` killed or stopped, DOWN seconds, started again."""
    if fault == "nova-api":
        cloud.kill_api()
        time.sleep(DOWN)
        cloud.start_api()
    elif fault == "rabbitmq":
        rabbitmq.stop()
        time.sleep(DOWN)
        rabbitmq.start()
    elif fault == "mariadb":
        nova_mariadb.restart(down=DOWN)
    elif fault == "placement":
        placement.restart(down=DOWN)
    else:
        victims = cloud.kill(fault)
        assert victims, fault
        time.sleep(DOWN)
        cloud.restart(victims)


def spawning(cloud, token):
    """Wait (at most 10 s) until a server of the project is on a compute."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        listed = call(cloud, "GET", "/servers/detail", token).json()["servers"]
        if any(s.get("OS-EXT-STS:task_state") == "spawning" for s in listed):
            return
        time.sleep(0.1)


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_while_builds_are_in_flight(cloud, fault, rabbitmq, placement, nova_mariadb):
    demo = cloud.keystone.ids["demo"]
    admin = cloud.token()
    member = cloud.token(**cloud.member())
    leftovers = project_servers(cloud, demo)  # of an earlier case that failed
    if leftovers:
        delete_all(cloud, admin, leftovers)

    started = time.monotonic()
    fault_now = lambda: down_and_up(cloud, fault, rabbitmq, placement, nova_mariadb)  # noqa: E731
    if fault == "nova-api":
        post_batch(cloud, member, fault, during=fault_now)  # POSTs cut off too
    else:
        post_batch(cloud, member, fault)
        if fault == "nova-compute":
            spawning(cloud, member)
        else:
            time.sleep(DELAY[fault])
        fault_now()
    restarted = time.monotonic()
    servers = project_servers(cloud, demo)
    assert servers, f"{fault}: no server recorded"
    shown = wait_settled(cloud, admin, servers, SETTLE)
    settled = time.monotonic()
    active = sum(s["status"] == "ACTIVE" for s in shown.values())
    delete_all(cloud, admin, servers)
    nothing_left(cloud, admin, demo, servers)
    survived.append((fault, len(servers), active, len(servers) - active))
    print(f"{fault}: {len(servers)} servers, {active} ACTIVE, {len(servers) - active} "
          f"ERROR with a fault, settled {settled - restarted:.1f} s after the restart, "
          f"{time.monotonic() - started:.1f} s in all")


def test_rabbitmq_restarted_as_servers_are_deleted(cloud, rabbitmq):
    """The deletes are sent the moment RabbitMQ is back, before the computes
    declared their queues again: such a cast is dropped by RabbitMQ, and the
    compute deletes the server itself once it has been deleting for longer
    than an RPC call may take (rpc_response_timeout)."""
    demo = cloud.keystone.ids["demo"]
    admin = cloud.token()
    leftovers = project_servers(cloud, demo)
    if leftovers:
        delete_all(cloud, admin, leftovers)
    started = time.monotonic()
    post_batch(cloud, cloud.token(**cloud.member()), "deletes")
    servers = project_servers(cloud, demo)
    shown = wait_settled(cloud, admin, servers, SETTLE)
    active = sum(s["status"] == "ACTIVE" for s in shown.values())
    rabbitmq.stop()
    time.sleep(DOWN)
    rabbitmq.start()
    delete_all(cloud, admin, servers)
    nothing_left(cloud, admin, demo, servers)
    survived.append(("rabbitmq (deletes)", len(servers), active, len(servers) - active))
    print(f"rabbitmq restarted before deletes: {len(servers)} servers deleted, "
          f"{time.monotonic() - started:.1f} s in all")
