import numpy as np

from nova_runtime.scheduler import extra_specs_ops
from nova_runtime.scheduler.filters import BaseFilter, everyone
from nova_runtime.scheduler.host_state import ABSENT


class ComputeCapabilitiesFilter(BaseFilter):
    """Matches the flavor's extra specs against host capabilities.

    'capabilities:a:b' names attribute or stat a of the host, then key b of it
    (read as JSON if it is a string); a key without scope counts only where the
    host has such an attribute or stat; other scopes are not this filter's.
    Each distinct value of a capability is matched once, then the verdicts
    are spread over the rows.
    """

    run_filter_once_per_request = True

    def filter_all(self, hosts, spec):
        mask = everyone(hosts)
        for key, requirement in spec.flavor.extra_specs.items():
            scope = key.split(":")
            if len(scope) > 1 and scope[0] != "capabilities":
                continue
            unscoped = len(scope) == 1
            codes, values = hosts.capability(scope if unscoped else scope[1:])
            verdicts = np.fromiter(
                (_verdict(value, requirement, unscoped) for value in values), dtype=bool,
                count=len(values))
            mask &= verdicts[codes]
        return mask


def _verdict(value, requirement, unscoped):
    if value is ABSENT:
        return unscoped  # an unscoped key the host knows nothing of is ignored
    return value is not None and extra_specs_ops.match(value, requirement)
