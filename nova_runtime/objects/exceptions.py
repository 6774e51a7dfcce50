"""Errors of the record functions.

They cross RPC with their type (rpc.ALLOWED_EXMODS lists this module): a
nova-compute calling nova-conductor catches InstanceNotFound as if the call
were local. Each takes a single message, which is what oslo.messaging passes
when it rebuilds the exception on the caller's side.
"""


class RecordError(Exception):
    pass


class NotFound(RecordError):
    pass


class ServiceNotFound(NotFound):
    pass


class ComputeNodeNotFound(NotFound):
    pass


class InstanceNotFound(NotFound):
    pass


class InstanceActionNotFound(NotFound):
    pass


class BuildRequestNotFound(NotFound):
    """The build request is gone: the instance reached a cell, or was deleted
    before it did."""


class InstanceMappingNotFound(NotFound):
    pass


class InstanceGroupNotFound(NotFound):
    pass


class UnexpectedTaskState(RecordError):
    """The instance's task_state changed under us (another request won the race)."""


class InvalidField(RecordError):
    """A value was given for a column that callers may not set."""


class DatabaseDown(RecordError):
    """The cell database does not answer (nova-conductor tells its callers so)."""
