from nova_runtime.scheduler.weighers import BaseWeigher


class RAMWeigher(BaseWeigher):
    """Free RAM: a positive multiplier spreads, a negative one stacks."""

    multiplier_option = "ram_weight_multiplier"

    def weigh_all(self, hosts, spec, rows):
        return hosts.free_ram_mb[rows].astype("float64")
