from nova_runtime.scheduler.filters import BaseFilter


class DiskFilter(BaseFilter):
    """Enough local disk for root, ephemeral and swap, with
    disk_allocation_ratio, and the instance alone fits the host's disk."""

    def filter_all(self, hosts, spec):
        requested = spec.requested_disk_mb
        total = hosts.total_disk_gb * 1024
        used = total - hosts.free_disk_mb
        return (total >= requested) & (total * hosts.disk_ratio - used >= requested)

    def limits(self, hosts, i):
        return {"disk_gb": float(hosts.total_disk_gb[i] * 1024 * hosts.disk_ratio[i] / 1024)}
