"""VM states: where an instance stands in its lifecycle (upstream's values,
stored in instances.vm_state)."""

BUILDING = "building"
ACTIVE = "active"
STOPPED = "stopped"
PAUSED = "paused"
SUSPENDED = "suspended"
RESIZED = "resized"  # resized or migrated, waiting for confirm or revert
RESCUED = "rescued"
ERROR = "error"
DELETED = "deleted"
SOFT_DELETED = "soft-delete"  # deleted, reclaimed after [DEFAULT] reclaim_instance_interval
SHELVED = "shelved"  # powered off on its host, its disk also in Glance
SHELVED_OFFLOADED = "shelved_offloaded"  # only in Glance: on no host, holding nothing

# What each action accepts (upstream's check_instance_state lists).
ALLOW_SOFT_REBOOT = (ACTIVE,)
ALLOW_HARD_REBOOT = (ACTIVE, STOPPED, PAUSED, SUSPENDED, ERROR)
ALLOW_REBUILD = (ACTIVE, STOPPED, ERROR)
ALLOW_SNAPSHOT = (ACTIVE, STOPPED, PAUSED, SUSPENDED)
ALLOW_RESET_STATE = (ACTIVE, ERROR)  # what os-resetState may set
ALLOW_RESIZE = (ACTIVE, STOPPED)
ALLOW_TRIGGER_CRASH_DUMP = (ACTIVE, PAUSED, RESCUED, RESIZED, ERROR)
ALLOW_SHELVE = (ACTIVE, STOPPED, PAUSED, SUSPENDED)
ALLOW_UNSHELVE = (SHELVED, SHELVED_OFFLOADED)
