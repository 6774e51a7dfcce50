"""nova-conductor: the database proxy of a cell's computes (and, in a later
slice, the orchestration of builds, resizes and migrations).

rpcapi.ConductorAPI is the client; manager.ConductorManager the RPC endpoint
that nova-conductor serves on topic 'conductor' of its cell's message queue.
"""
