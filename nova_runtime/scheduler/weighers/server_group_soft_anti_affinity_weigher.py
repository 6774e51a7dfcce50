from nova_runtime.scheduler.weighers.server_group_soft_affinity_weigher import (
    ServerGroupSoftAffinityWeigher,
)


class ServerGroupSoftAntiAffinityWeigher(ServerGroupSoftAffinityWeigher):
    """For a soft-anti-affinity group: the fewer of its members a host runs,
    the better."""

    multiplier_option = "soft_anti_affinity_weight_multiplier"
    policy = "soft-anti-affinity"
    sign = -1.0
