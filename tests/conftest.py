import itertools

import pytest

# The shared fixtures of the upstream services and clouds, for every test module.
from tests.cloud import full_cloud  # noqa: F401 (module fixture)
from tests.glance import glance  # noqa: F401 (session fixture)
from tests.keystone import compute_cloud, keystone  # noqa: F401 (session fixtures)
from tests.placement import placement  # noqa: F401 (session fixture)
from tests.mariadb import MariaDB
from tests.rabbitmq import RabbitMQ

_prefixes = itertools.count(1)


@pytest.fixture(scope="session")
def mariadb():
    server = MariaDB().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rabbitmq():
    """A private RabbitMQ node (tests/rabbitmq.py); .url is a transport_url."""
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
    password = "NOVA_DBPASS"
    names = [f"{prefix}nova_api", f"{prefix}nova", f"{prefix}nova_cell0", f"{prefix}nova_cell2"]
    statements = []
    for name in names:
        statements.append(f"CREATE DATABASE `{name}`;")
        for host in ("localhost", "%"):
            statements.append(
                f"GRANT ALL PRIVILEGES ON `{name}`.* TO 'nova'@'{host}' IDENTIFIED BY '{password}';")
    mariadb.sql("\n".join(statements))
    yield {
        "api": mariadb.url("nova", password, names[0]),
        "main": mariadb.url("nova", password, names[1]),
        "cell0": mariadb.url("nova", password, names[2]),
        "cell2": mariadb.url("nova", password, names[3]),  # a second cell
        "names": names,
    }
    mariadb.sql("\n".join(f"DROP DATABASE `{name}`;" for name in names))
