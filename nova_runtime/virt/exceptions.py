"""Errors that virt drivers raise, as the driver contract documents them.

They cross RPC with their type (rpc.ALLOWED_EXMODS lists this module).
"""


class VirtError(Exception):
    """Base of every error a driver raises on purpose."""


class NotSupported(VirtError):
    """The driver lacks the capability (see ComputeDriver.capabilities)."""


class HypervisorUnavailable(VirtError):
    """The hypervisor cannot be reached (yet); nova-compute waits for it at start."""


class InstanceNotFound(VirtError):
    """The hypervisor has no such instance."""


class InstanceExists(VirtError):
    """spawn() of an instance the hypervisor already has."""


class InstanceInvalidState(VirtError):
    """The operation is not possible in the instance's current power state
    (e.g. pause of a stopped instance). Nothing was changed."""


class InstanceSpawnError(VirtError):
    """spawn() failed and left nothing behind: the build may be rescheduled
    to another host."""


class MigrationError(VirtError):
    """A resize or cold-migration step failed; the instance is as it was
    before the step."""
