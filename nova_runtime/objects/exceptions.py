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


class Conflict(RecordError):
    """The record exists, or is in use, so the change cannot be made."""


class Invalid(RecordError):
    """A value the record cannot take (a bad marker, a limit below usage)."""


class QuotaExceeded(RecordError):
    """The project or the user would go beyond a quota limit."""


class UnexpectedTaskState(RecordError):
    """The instance's task_state changed under us (another request won the race)."""


class InvalidField(RecordError):
    """A value was given for a column that callers may not set."""


class DatabaseDown(RecordError):
    """The cell database does not answer (nova-conductor tells its callers so)."""


# --- cells v2 bookkeeping (objects.cell_mappings); the messages are for the operator ---

class CellError(RecordError):
    """Base of the errors below; the message is meant for the operator."""


class CellNotFound(CellError):
    def __init__(self, cell_uuid):
        super().__init__(f"Cell with uuid {cell_uuid} was not found.")


class CellExists(CellError):
    def __init__(self, existing):
        super().__init__(
            "The specified transport_url and/or database_connection combination already "
            f"exists for another cell with uuid {existing.uuid}.")


class Cell0Immutable(CellError):
    def __init__(self):
        super().__init__("Cell0 cannot be updated or given hosts.")


class CellHasHosts(CellError):
    def __init__(self, cell_uuid):
        super().__init__(
            f"There are existing hosts mapped to cell with uuid {cell_uuid}.")


class CellHasInstances(CellError):
    def __init__(self, cell_uuid):
        super().__init__(
            f"There are existing instances mapped to cell with uuid {cell_uuid}.")


class CellHasInstanceMappings(CellError):
    def __init__(self, cell_uuid):
        super().__init__(
            f"There are instance mappings to cell with uuid {cell_uuid}, but all instances "
            "have been deleted in the cell. Use --force to delete the cell, its host "
            "mappings and its instance mappings.")


class HostNotFound(CellError):
    def __init__(self, host):
        super().__init__(f"The host {host} was not found.")


class HostInOtherCell(CellError):
    def __init__(self, host, cell_uuid):
        super().__init__(f"The host {host} was not found in the cell {cell_uuid}.")


class HostHasInstances(CellError):
    def __init__(self, host):
        super().__init__(f"There are instances on the host {host}.")
