from nova_runtime.scheduler.filters import BaseFilter


class ComputeFilter(BaseFilter):
    """Keeps the hosts whose nova-compute service is enabled and up: not forced
    down, and a heartbeat within [DEFAULT] service_down_time."""

    run_filter_once_per_request = True

    def __init__(self, conf=None):
        self.service_down_time = conf.service_down_time if conf is not None else 60

    def filter_all(self, hosts, spec):
        return ~hosts.disabled & hosts.service_up(self.service_down_time)
