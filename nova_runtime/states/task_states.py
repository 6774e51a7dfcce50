"""Task states: what is being done to an instance right now (upstream's
values, stored in instances.task_state; None when nothing is).

A request sets one with a compare-and-swap on the previous value
(objects.instances.update's expected_task_states), so that two requests
never act on one instance at once. The compute moves an action through its
steps the same way (e.g. rebooting -> reboot_pending -> reboot_started)."""

# The build.
SCHEDULING = "scheduling"
SPAWNING = "spawning"

# Power and lifecycle actions.
DELETING = "deleting"
POWERING_OFF = "powering-off"
POWERING_ON = "powering-on"
PAUSING = "pausing"
UNPAUSING = "unpausing"
SUSPENDING = "suspending"
RESUMING = "resuming"

# Reboot: set by the API, then the compute's two steps.
REBOOTING = "rebooting"
REBOOT_PENDING = "reboot_pending"
REBOOT_STARTED = "reboot_started"
REBOOTING_HARD = "rebooting_hard"
REBOOT_PENDING_HARD = "reboot_pending_hard"
REBOOT_STARTED_HARD = "reboot_started_hard"

# Rebuild: the API's, then the compute's steps (destroy, then spawn).
REBUILDING = "rebuilding"
REBUILD_BLOCK_DEVICE_MAPPING = "rebuild_block_device_mapping"
REBUILD_SPAWNING = "rebuild_spawning"

# Snapshot (createImage): the API sets IMAGE_SNAPSHOT_PENDING, the compute
# IMAGE_SNAPSHOT; virt drivers set the two upload steps themselves, through
# the callback that ComputeDriver.snapshot receives.
IMAGE_SNAPSHOT_PENDING = "image_snapshot_pending"
IMAGE_SNAPSHOT = "image_snapshot"
IMAGE_PENDING_UPLOAD = "image_pending_upload"
IMAGE_UPLOADING = "image_uploading"
IMAGE_BACKUP = "image_backup"

SOFT_DELETING = "soft-deleting"
RESTORING = "restoring"

# Resize and cold migration: the API sets RESIZE_PREP; the destination
# claims, the source copies (RESIZE_MIGRATING, then RESIZE_MIGRATED), the
# destination finishes (RESIZE_FINISH); confirm and revert have their own.
RESIZE_PREP = "resize_prep"
RESIZE_MIGRATING = "resize_migrating"
RESIZE_MIGRATED = "resize_migrated"
RESIZE_FINISH = "resize_finish"
RESIZE_REVERTING = "resize_reverting"
RESIZE_CONFIRMING = "resize_confirming"

# Shelve: the API sets SHELVING; the compute powers the guest off and
# snapshots it (the driver's two upload steps renamed, as upstream), then
# SHELVING_OFFLOADING while it removes the guest from the host (at once when
# [DEFAULT] shelved_offload_time is 0, or on shelveOffload). Unshelve:
# UNSHELVING, set by the API, until the server is ACTIVE again.
SHELVING = "shelving"
SHELVING_IMAGE_PENDING_UPLOAD = "shelving_image_pending_upload"
SHELVING_IMAGE_UPLOADING = "shelving_image_uploading"
SHELVING_OFFLOADING = "shelving_offloading"
UNSHELVING = "unshelving"

# A hard reboot may interrupt these (upstream's ALLOW_REBOOT).
ALLOW_REBOOT = (None, REBOOTING, REBOOT_PENDING, REBOOT_STARTED, REBOOTING_HARD, RESUMING,
                UNPAUSING, PAUSING, SUSPENDING)

# Every task state but DELETING: a delete may interrupt any of them.
DELETABLE = (None, SCHEDULING, SPAWNING, POWERING_OFF, POWERING_ON, PAUSING, UNPAUSING,
             SUSPENDING, RESUMING, REBOOTING, REBOOT_PENDING, REBOOT_STARTED, REBOOTING_HARD,
             REBOOT_PENDING_HARD, REBOOT_STARTED_HARD, REBUILDING,
             REBUILD_BLOCK_DEVICE_MAPPING, REBUILD_SPAWNING, IMAGE_SNAPSHOT_PENDING,
             IMAGE_SNAPSHOT, IMAGE_PENDING_UPLOAD, IMAGE_UPLOADING, IMAGE_BACKUP, RESIZE_PREP,
             RESIZE_MIGRATING, RESIZE_MIGRATED, RESIZE_FINISH, RESIZE_REVERTING,
             RESIZE_CONFIRMING, SOFT_DELETING, RESTORING, SHELVING,
             SHELVING_IMAGE_PENDING_UPLOAD, SHELVING_IMAGE_UPLOADING, SHELVING_OFFLOADING,
             UNSHELVING)
