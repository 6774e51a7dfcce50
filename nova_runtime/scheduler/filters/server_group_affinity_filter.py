from nova_runtime.scheduler.filters import BaseFilter, everyone


class ServerGroupAffinityFilter(BaseFilter):
    """For a group with the affinity policy that has members already: keeps only
    the hosts they run on."""

    policy = "affinity"

    def filter_all(self, hosts, spec):
        group = spec.instance_group
        if group is None or group.policy != self.policy or not hosts.group_counts(group.uuid):
            return everyone(hosts)
        return hosts.group_count_column(group.uuid) > 0
