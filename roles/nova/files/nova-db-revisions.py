"""Print, as JSON, the schema revision of each of nova's databases and the
newest that this nova_runtime has: {"api": {"current": ..., "newest": ...},
"main": ..., "cell0": ...}; current is null before the first sync. One process
instead of nova-manage's version, sync and version for each database: the
nova role runs a sync only for a database that is behind. Reads nova.conf (the
first argument) as nova-manage does; cell0's database is the one map_cell0
gives it, [database] connection with '_cell0' appended."""
import json
import sys

from nova_runtime import config
from nova_runtime.db import engines, migration
from nova_runtime.objects import cell_mappings

conf = config.new_conf()
config.load(conf, ["--config-file", sys.argv[1]], prog="nova-db-revisions")
databases = {
    "api": ("api", conf.api_database.connection),
    "main": ("main", conf.database.connection),
    "cell0": ("main", cell_mappings.cell0_connection(conf.database.connection)),
}
try:
    print(json.dumps({name: {"current": migration.current_version(schema, url),
                             "newest": migration.head_version(schema)}
                      for name, (schema, url) in databases.items()}))
finally:
    engines.dispose_all()
