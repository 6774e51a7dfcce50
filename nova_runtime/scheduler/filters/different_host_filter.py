from nova_runtime.scheduler.filters import BaseFilter, everyone


class DifferentHostFilter(BaseFilter):
    """The different_host hint: only the hosts running none of the given
    instances (spec.different_host, their hosts). Without it, every host."""

    run_filter_once_per_request = True

    def filter_all(self, hosts, spec):
        if spec.different_host is None:
            return everyone(hosts)
        return ~hosts.rows_of_exact_hosts(spec.different_host)
