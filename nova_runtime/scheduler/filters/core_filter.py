from nova_runtime.scheduler.filters import BaseFilter


class CoreFilter(BaseFilter):
    """Enough vCPUs: vcpus * cpu_allocation_ratio - used >= requested, and no
    more vCPUs than the host has. A host that reports no vCPUs passes, as
    upstream lets it (its CPU collection is taken to be broken)."""

    def filter_all(self, hosts, spec):
        requested = spec.flavor.vcpus
        limit = hosts.vcpus * hosts.cpu_ratio
        fits_alone = (limit <= 0) | (hosts.vcpus >= requested)
        return (hosts.vcpus == 0) | (fits_alone & (limit - hosts.vcpus_used >= requested))

    def limits(self, hosts, i):
        limit = float(hosts.vcpus[i] * hosts.cpu_ratio[i])
        return {"vcpu": limit} if limit > 0 else {}
