from nova_runtime.scheduler.weighers import BaseWeigher


class CPUWeigher(BaseWeigher):
    """Free vCPUs: vcpus * cpu_allocation_ratio - vcpus_used."""

    multiplier_option = "cpu_weight_multiplier"

    def weigh_all(self, hosts, spec, rows):
        return hosts.vcpus[rows] * hosts.cpu_ratio[rows] - hosts.vcpus_used[rows]
