"""What the scheduler raises."""


class SchedulerError(Exception):
    pass


class UnknownPlugin(SchedulerError):
    """A filter or weigher name that nova_runtime does not have."""


class NoValidHost(SchedulerError):
    """No host can take the request. ``filter_results`` says, filter by filter,
    how many hosts it was given and kept and which it removed."""

    def __init__(self, reason, filter_results=()):
        self.reason = reason
        self.filter_results = list(filter_results)
        lines = [str(result) for result in self.filter_results]
        super().__init__(reason + ("\n  " + "\n  ".join(lines) if lines else ""))
