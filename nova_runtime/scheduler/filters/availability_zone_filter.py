from nova_runtime.scheduler.filters import BaseFilter, everyone


class AvailabilityZoneFilter(BaseFilter):
    """Keeps the hosts of the requested availability zone: those of aggregates
    whose availability_zone metadata names it, or, for hosts in no such
    aggregate, [DEFAULT] default_availability_zone."""

    run_filter_once_per_request = True

    def filter_all(self, hosts, spec):
        if not spec.availability_zone:
            return everyone(hosts)
        return hosts.az_mask(spec.availability_zone)
