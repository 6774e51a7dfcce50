"""Schema migrations of the API database ("api") and the cell databases ("main").

Each has its own alembic environment under db/<database>/migrations. There is
no alembic.ini: the Config is built here and handed a live connection.
"""

import os

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from nova_runtime.db import engines

DATABASES = ("api", "main")
_HERE = os.path.dirname(os.path.abspath(__file__))


class NotSynced(Exception):
    """The database exists but its schema is missing or behind the code."""


def alembic_config(database, connection=None):
    if database not in DATABASES:
        raise ValueError(f"unknown database {database!r}; expected one of {DATABASES}")
    config = Config()
    config.set_main_option("script_location", os.path.join(_HERE, database, "migrations"))
    config.attributes["connection"] = connection
    return config


def target_metadata(database):
    """The models' metadata: what autogenerate and the model/migration check compare against."""
    if database == "api":
        from nova_runtime.db.api import models
    else:
        from nova_runtime.db.main import models
    return models.Base.metadata


def run_env(context):
    """Body of each migrations/env.py: migrate over the connection the caller opened."""
    config = context.config
    database = os.path.basename(os.path.dirname(config.get_main_option("script_location")))
    context.configure(
        connection=config.attributes["connection"],
        target_metadata=target_metadata(database),
        render_as_batch=True,  # SQLite can only ALTER by copying the table
    )
    with context.begin_transaction():
        context.run_migrations()


def head_version(database):
    return ScriptDirectory.from_config(alembic_config(database)).get_current_head()


def current_version(database, url):
    """The schema revision of the database at ``url``; None before the first sync."""
    with engines.get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def sync(database, url, version=None):
    """Upgrade the schema at ``url`` to ``version`` (default: the newest). Idempotent."""
    with engines.get_engine(url).begin() as connection:
        command.upgrade(alembic_config(database, connection), version or "head")


def check_synced(database, url, sync_command):
    """Raise NotSynced, naming ``sync_command``, unless the schema is at head."""
    current = current_version(database, url)
    if current != head_version(database):
        state = "has no schema" if current is None else f"is at revision {current}"
        raise NotSynced(
            f"the database {engines.mask_password(url)} {state}; "
            f"run '{sync_command}' first")
