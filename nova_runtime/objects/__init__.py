"""Records of a cell database, and the small functions that read and write them.

Each module covers one kind of record (services, compute nodes, instances,
instance actions and faults). Functions take the cell database's URL first,
like nova_runtime.cells takes the API database's, open a short transaction,
and return plain dicts of column values: the same shape whether the caller is
nova-conductor itself or a nova-compute receiving them over RPC.

Three modules cover the API database instead, whose URL they take first:
build_requests (build requests and request specs), instance_mappings and
instance_groups; availability_zones reads its aggregates.

Only processes with database access call these (nova-conductor, later the
scheduler and the API). nova-compute never does: it asks nova-conductor
(nova_runtime.conductor.rpcapi), whose endpoint calls these functions.
"""
