import itertools

import pytest

from tests import cloud
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
    keys = ("api", "main", "cell0", "cell2")  # cell2: a second cell
    with cloud.nova_databases(mariadb, prefix, keys) as urls:
        yield dict(urls, names=[cloud.database_name(prefix, key) for key in keys])
