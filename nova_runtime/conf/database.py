"""[database] and [api_database]: oslo.db's options, once per database.

[database] is this cell's database; [api_database] the global API database.
Both take the full set of oslo.db options (pool sizes, retries, ...).
"""

import copy

from oslo_db import options as oslo_db_options

main_opts = copy.deepcopy(oslo_db_options.database_opts)
api_opts = copy.deepcopy(oslo_db_options.database_opts)


def register_opts(conf):
    conf.register_opts(main_opts, group="database")
    conf.register_opts(api_opts, group="api_database")


def list_opts():
    return [("database", main_opts), ("api_database", api_opts)]
