"""alembic's entry point for this database; the work is in nova_runtime.db.migration."""

from alembic import context

from nova_runtime.db import migration

migration.run_env(context)
