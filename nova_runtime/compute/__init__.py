"""nova-compute: runs instances on one host through a virt driver.

It has no database access: every read and write goes through nova-conductor
(nova_runtime.conductor.rpcapi)."""
