"""Task states: what is being done to an instance right now (upstream's
values, stored in instances.task_state; None when nothing is).

A request sets one with a compare-and-swap on the previous value
(objects.instances.update's expected_task_states), so that two requests
never act on one instance at once."""

# The build.
SCHEDULING = "scheduling"
SPAWNING = "spawning"

# Lifecycle actions.
DELETING = "deleting"
POWERING_OFF = "powering-off"
POWERING_ON = "powering-on"

# Set by virt drivers themselves (through the callback that
# ComputeDriver.snapshot receives).
IMAGE_SNAPSHOT = "image_snapshot"
IMAGE_PENDING_UPLOAD = "image_pending_upload"
IMAGE_UPLOADING = "image_uploading"

# Every task state but DELETING: a delete may interrupt any of them.
DELETABLE = (None, SCHEDULING, SPAWNING, POWERING_OFF, POWERING_ON, IMAGE_SNAPSHOT,
             IMAGE_PENDING_UPLOAD, IMAGE_UPLOADING)
