"""The shared fixtures of the private servers, the upstream services and the
clouds (all from the harness package, harness/), for every test module."""

import itertools
import shutil
import tempfile
import uuid

import pytest

from harness import databases
from harness.compute_cloud import ComputeCloud
from harness.full_cloud import FULL_COMPUTES, FullCloud
from harness.glance import Glance
from harness.keystone import Keystone
from harness.mariadb import MariaDB
from harness.placement import Placement
from harness.rabbitmq import RabbitMQ

_prefixes = itertools.count(1)


@pytest.fixture(scope="session")
def mariadb():
    server = MariaDB().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rabbitmq():
    """A private RabbitMQ node (harness/rabbitmq.py); .url is a transport_url."""
    server = RabbitMQ().start()
    yield server
    server.destroy()


@pytest.fixture
def nova_databases(mariadb):
    """The seed's databases (<p>nova_api, <p>nova, <p>nova_cell0) and one for a
    second cell (<p>nova_cell2), with grants to
    'nova'@'localhost' and 'nova'@'%', as the install guide creates them.

    Returns a dict of URLs that log in as nova, never as root."""
    prefix = f"t{next(_prefixes)}_"
    keys = ("api", "main", "cell0", "cell2")  # cell2: a second cell
    with databases.nova_databases(mariadb, prefix, keys) as urls:
        yield dict(urls, names=[databases.database_name(prefix, key) for key in keys])


@pytest.fixture(scope="session")
def keystone():
    workdir = tempfile.mkdtemp(prefix="nova-runtime-keystone-")
    server = Keystone(workdir).start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def placement(keystone, mariadb):
    workdir = tempfile.mkdtemp(prefix="nova-runtime-placement-")
    server = Placement(workdir, keystone, mariadb).start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def glance(keystone):
    if not shutil.which("qemu-img"):
        pytest.skip("qemu-img (Debian's qemu-utils) is needed to make the test image")
    workdir = tempfile.mkdtemp(prefix="nova-runtime-glance-")
    server = Glance(keystone, workdir).start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def compute_cloud(keystone, mariadb):
    """nova-api alone behind Keystone (harness/compute_cloud.py)."""
    with ComputeCloud.running(keystone, mariadb) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def full_cloud(keystone, glance, mariadb, rabbitmq):
    """The end-to-end API tests' cloud (harness/full_cloud.py), without Placement."""
    workdir = tempfile.mkdtemp(prefix="nova-runtime-full-")
    with databases.nova_databases(mariadb, f"full{uuid.uuid4().hex[:6]}_") as urls:
        cloud = FullCloud(workdir, urls, rabbitmq, keystone, glance)
        with cloud.running(FULL_COMPUTES) as started:
            yield started


# --- skips that are allowed (tools/test.sh passes --allowed-skips) ---------------
# A test that needs a real component (MariaDB, libvirtd, memcached, the lab) must
# fail without it, not skip: a run where it skipped proves nothing. Skips that
# are part of a test's design (a driver without a capability) are listed in
# tests/allowed-skips.txt as "NODEID-PREFIX :: REASON".

def pytest_addoption(parser):
    parser.addoption("--allowed-skips", metavar="FILE",
                     help="fail the run on any skip that FILE does not allow")


def pytest_configure(config):
    path = config.getoption("--allowed-skips")
    if path:
        config.pluginmanager.register(SkipPolicy(path), "skip-policy")


class SkipPolicy:
    def __init__(self, path):
        self.allowed = []
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    prefix, separator, reason = line.partition(" :: ")
                    if not separator:
                        raise pytest.UsageError(f"{path}: not 'NODEID-PREFIX :: REASON': {line!r}")
                    self.allowed.append((prefix.strip(), reason.strip()))
        self.unexpected = []

    def _check(self, report):
        if not report.skipped or hasattr(report, "wasxfail"):
            return
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        if not any(report.nodeid.startswith(prefix) and reason == allowed
                   for prefix, allowed in self.allowed):
            self.unexpected.append(f"{report.nodeid or report.fspath}: {reason}")

    def pytest_collectreport(self, report):  # a module skipped as a whole
        self._check(report)

    def pytest_runtest_logreport(self, report):
        self._check(report)

    def pytest_sessionfinish(self, session):
        if self.unexpected:
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            reporter.write_line(f"{len(self.unexpected)} skips that --allowed-skips does not "
                                "allow (a missing component?):", red=True)
            for line in self.unexpected:
                reporter.write_line(f"  {line}", red=True)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
