from nova_runtime.scheduler.filters import BaseFilter, everyone


class ServerGroupAntiAffinityFilter(BaseFilter):
    """For a group with the anti-affinity policy: keeps the hosts that run fewer
    of its members than the rule max_server_per_host (default 1)."""

    policy = "anti-affinity"

    def filter_all(self, hosts, spec):
        group = spec.instance_group
        if group is None or group.policy != self.policy:
            return everyone(hosts)
        return hosts.group_count_column(group.uuid) < group.max_server_per_host
