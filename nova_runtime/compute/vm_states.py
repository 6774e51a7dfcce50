"""VM states: where an instance stands in its lifecycle (upstream's values,
stored in instances.vm_state)."""

BUILDING = "building"
ACTIVE = "active"
STOPPED = "stopped"
ERROR = "error"
DELETED = "deleted"
SHELVED_OFFLOADED = "shelved_offloaded"
