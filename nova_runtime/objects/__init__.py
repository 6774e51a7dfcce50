"""The records of the API database and the cell databases: one module per kind
of record, and the small functions that read and write them.

Every process with database access uses these: nova-api, nova-conductor,
nova-scheduler, nova-manage, nova-status. nova-compute never does: it asks
nova-conductor (nova_runtime.conductor.rpcapi), whose endpoint calls them.

Conventions:
- A function takes the URL of the database it works on first (a cell's, or
  the API database's for build_requests, instance_mappings, instance_groups,
  cell_mappings, flavors, keypairs, aggregates, availability_zones and quotas'
  limits), opens a short transaction (nova_runtime.cells.session) and returns
  plain dicts of column values: the same shape whether the caller is the
  conductor itself or a compute receiving them over RPC.
- A function that looks through every cell (``*_in_cells``, quotas.usage,
  migrations.list_all, compute_nodes.list_with_services) takes the
  ``Databases`` instead and leaves a cell that is down out.
- Errors are exceptions.py's; nova-api shows them as HTTP faults
  (nova_runtime.api.errors.from_exception).
"""
