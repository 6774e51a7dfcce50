from nova_runtime.scheduler.filters import BaseFilter


class RamFilter(BaseFilter):
    """Enough RAM: total * ram_allocation_ratio - used >= requested, and the
    instance alone fits the host's physical RAM."""

    def filter_all(self, hosts, spec):
        requested = spec.flavor.memory_mb
        total = hosts.total_ram_mb
        used = total - hosts.free_ram_mb
        return (total >= requested) & (total * hosts.ram_ratio - used >= requested)

    def limits(self, hosts, i):
        return {"memory_mb": float(hosts.total_ram_mb[i] * hosts.ram_ratio[i])}
