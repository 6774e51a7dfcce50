"""Print, as JSON, what the nova role needs to know of nova's databases, read
in one process instead of a nova-manage run for each (about a second each):

    {"revisions": {"api": {"current": ..., "newest": ...}, "main": ..., "cell0": ...},
     "cells": [{"name", "uuid", "transport_url", "database_connection", "disabled"}, ...],
     "hosts": ["c1", ...]}

revisions: the schema revision of each database and the newest that this
nova_runtime has; current is null before the first sync. The nova role runs a
sync only for a database that is behind.
cells and hosts: the cell mappings (their URLs with passwords, as
`nova-manage cell_v2 list_cells --verbose` shows them) and the names of the
hosts mapped to a cell (`cell_v2 list_hosts`), from the API database; both
null while the API database's schema is not the newest (the role reads again
after api_db sync).

Reads nova.conf (the first argument) as nova-manage does; cell0's database is
the one map_cell0 gives it, [database] connection with '_cell0' appended."""
import json
import sys

from nova_runtime import config
from nova_runtime.db import engines, migration
from nova_runtime.objects import cell_mappings

conf = config.new_conf()
config.load(conf, ["--config-file", sys.argv[1]], prog="nova-db-revisions")
api_url = conf.api_database.connection
databases = {
    "api": ("api", api_url),
    "main": ("main", conf.database.connection),
    "cell0": ("main", cell_mappings.cell0_connection(conf.database.connection)),
}
try:
    revisions = {name: {"current": migration.current_version(schema, url),
                        "newest": migration.head_version(schema)}
                 for name, (schema, url) in databases.items()}
    cells = hosts = None
    if revisions["api"]["current"] == revisions["api"]["newest"]:
        cells = [{"name": cell.name, "uuid": cell.uuid, "transport_url": cell.transport_url,
                  "database_connection": cell.database_connection, "disabled": bool(cell.disabled)}
                 for cell in cell_mappings.list_cells(api_url)]
        hosts = [host for _cell, host in cell_mappings.list_hosts(api_url)]
    print(json.dumps({"revisions": revisions, "cells": cells, "hosts": hosts}))
finally:
    engines.dispose_all()
