"""The alembic migrations build exactly the schema that the models describe."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from nova_runtime.db import engines, migration


@pytest.fixture(params=["mariadb", "sqlite"])
def empty_database(request, tmp_path):
    if request.param == "mariadb":
        return request.getfixturevalue("nova_databases")["main"]
    return f"sqlite:///{tmp_path}/empty.sqlite"


@pytest.mark.parametrize("database", migration.DATABASES)
def test_migrations_match_models(database, empty_database):
    migration.sync(database, empty_database)
    with engines.get_engine(empty_database).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection),
                                       migration.target_metadata(database))
    engines.dispose_all()
    assert differences == []


def test_sync_twice_is_a_no_op(tmp_path):
    url = f"sqlite:///{tmp_path}/api.sqlite"
    migration.sync("api", url)
    migration.sync("api", url)
    assert migration.current_version("api", url) == migration.head_version("api")
    engines.dispose_all()


def test_cell_tables_are_utf8mb4_innodb(nova_databases, mariadb):
    migration.sync("main", nova_databases["main"])
    engines.dispose_all()
    name = nova_databases["names"][1]
    rows = mariadb.sql(
        "SELECT engine, table_collation FROM information_schema.tables "
        f"WHERE table_schema = '{name}' AND table_name != 'alembic_version'")
    found = {tuple(line.split("\t")) for line in rows.splitlines()}
    assert {engine for engine, _ in found} == {"InnoDB"}
    assert all(collation.startswith("utf8mb4") for _, collation in found)


def test_check_synced_names_the_command(tmp_path):
    url = f"sqlite:///{tmp_path}/api.sqlite"
    sa.create_engine(url).connect().close()
    with pytest.raises(migration.NotSynced, match="run 'nova-manage api_db sync' first"):
        migration.check_synced("api", url, "nova-manage api_db sync")
    engines.dispose_all()
