import numpy as np

from nova_runtime.scheduler.weighers import BaseWeigher


class ServerGroupSoftAffinityWeigher(BaseWeigher):
    """For a soft-affinity group: the more of its members a host runs, the
    better (members placed by this request count too)."""

    multiplier_option = "soft_affinity_weight_multiplier"
    policy = "soft-affinity"
    sign = 1.0

    def weigh_all(self, hosts, spec, rows):
        group = spec.instance_group
        if group is None or group.policy != self.policy:
            return np.zeros(len(rows))
        return self.sign * hosts.group_count_column(group.uuid)[rows].astype("float64")
