"""Exit 0 when the placement database is at the newest schema, 2 when it needs
`placement-manage db sync` (as keystone's db_sync --check and glance's db check
do; placement-manage has no such command). Prints the current and newest version.
Reads the configuration as placement-manage does."""
import sys

from alembic import script
from oslo_config import cfg

from placement import conf
from placement import db_api
from placement.db.sqlalchemy import migration

config = cfg.ConfigOpts()
conf.register_opts(config)
config([], project="placement", default_config_files=None)
db_api.configure(config)
current = migration.version()
newest = script.ScriptDirectory.from_config(migration._alembic_config()).get_current_head()
print(f"current {current} newest {newest}")
sys.exit(0 if current == newest else 2)
