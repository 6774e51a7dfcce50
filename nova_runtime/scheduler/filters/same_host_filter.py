from nova_runtime.scheduler.filters import BaseFilter, everyone


class SameHostFilter(BaseFilter):
    """The same_host hint: only the hosts running one of the given
    instances (spec.same_host, their hosts). Without the hint, every host."""

    run_filter_once_per_request = True

    def filter_all(self, hosts, spec):
        if spec.same_host is None:
            return everyone(hosts)
        return hosts.rows_of_exact_hosts(spec.same_host)
