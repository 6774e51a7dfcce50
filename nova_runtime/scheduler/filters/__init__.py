"""Host filters: one module per filter, named after its class in snake case.

A filter looks at every row of a HostStates at once and returns a boolean
mask: True where the host may take one instance of the request. Callers must
not modify the mask: a filter may return an array it keeps.
"""

import numpy as np


class BaseFilter:
    # The answer does not change while the instances of one request are placed
    # one after the other, so it is computed for the first one only (upstream's flag).
    run_filter_once_per_request = False

    def __init__(self, conf=None):
        pass

    @property
    def name(self):
        return type(self).__name__

    def filter_all(self, hosts, spec):
        """A bool array of len(hosts)."""
        raise NotImplementedError

    def limits(self, hosts, i):
        """The oversubscription limits this filter enforced on row i, for the
        compute's claim (upstream's HostState.limits)."""
        return {}


def everyone(hosts):
    return np.ones(len(hosts), dtype=bool)
