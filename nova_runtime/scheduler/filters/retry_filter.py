import numpy as np

from nova_runtime.scheduler.filters import BaseFilter, everyone


class RetryFilter(BaseFilter):
    """Removes the (host, node) pairs this request already tried."""

    def filter_all(self, hosts, spec):
        mask = everyone(hosts)
        rows = [hosts.row(host, node) for host, node in spec.retry_hosts]
        mask[np.array([r for r in rows if r is not None], dtype=np.intp)] = False
        return mask
