from nova_runtime.scheduler.weighers import BaseWeigher


class DiskWeigher(BaseWeigher):
    """Free local disk (MiB)."""

    multiplier_option = "disk_weight_multiplier"

    def weigh_all(self, hosts, spec, rows):
        return hosts.free_disk_mb[rows].astype("float64")
