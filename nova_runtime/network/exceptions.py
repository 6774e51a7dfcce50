"""Errors of the flat network; each message is meant for the operator or the
instance's fault."""


class NetworkError(Exception):
    pass


class NetworkConfigError(NetworkError):
    """The flat network options of nova.conf do not fit together."""


class NoMoreFixedIps(NetworkError):
    """Every address of the flat network is taken."""


class AllocationContention(NetworkError):
    """Other allocators kept taking the free address first; nothing is wrong
    with the network, the build may be tried again."""
