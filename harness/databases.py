"""Nova's databases on the private MariaDB (harness/mariadb.py), named and
granted as the install guide names and grants them."""

import contextlib
import os

import pytest

from nova_runtime.db import engines

DB_PASSWORD = "NOVA_DBPASS"


def database_name(prefix, key):
    """The install guide's names: nova_api, nova (cell1's, key "main"),
    nova_cell0, nova_<cell>."""
    return prefix + {"api": "nova_api", "main": "nova"}.get(key, f"nova_{key}")


@contextlib.contextmanager
def nova_databases(mariadb, prefix, keys=("api", "main", "cell0")):
    """The databases of ``keys``, granted to 'nova'@'localhost' and
    'nova'@'%' as the install guide grants them; {key: URL logging in as
    nova}. Dropped at the end."""
    names = {key: database_name(prefix, key) for key in keys}
    statements = []
    for name in names.values():
        statements.append(f"CREATE DATABASE `{name}`;")
        for host in ("localhost", "%"):
            statements.append(f"GRANT ALL PRIVILEGES ON `{name}`.* TO 'nova'@'{host}' "
                              f"IDENTIFIED BY '{DB_PASSWORD}';")
    mariadb.sql("\n".join(statements))
    try:
        yield {key: mariadb.url("nova", DB_PASSWORD, name) for key, name in names.items()}
    finally:
        engines.dispose_all()
        mariadb.sql("\n".join(f"DROP DATABASE `{name}`;" for name in names.values()))


def module_databases(tag, keys=("api", "main", "cell0")):
    """A test module's ``databases`` fixture: nova_databases named <tag><pid>_..."""
    @pytest.fixture(scope="module")
    def databases(mariadb):
        with nova_databases(mariadb, f"{tag}{os.getpid()}_", keys) as urls:
            yield urls

    return databases
