"""[filter_scheduler]: which filters and weighers the filter scheduler runs."""

from oslo_config import cfg, types

GROUP = "filter_scheduler"

# Every filter and weigher nova_runtime knows; an unknown name in nova.conf is
# rejected when the config is loaded, before any daemon starts.
FILTER_NAMES = (
    "AggregateInstanceExtraSpecsFilter",
    "AvailabilityZoneFilter",
    "ComputeCapabilitiesFilter",
    "ComputeFilter",
    "CoreFilter",
    "DifferentHostFilter",
    "DiskFilter",
    "ImagePropertiesFilter",
    "RamFilter",
    "RetryFilter",
    "SameHostFilter",
    "ServerGroupAffinityFilter",
    "ServerGroupAntiAffinityFilter",
)
WEIGHER_NAMES = ("RAMWeigher", "CPUWeigher", "DiskWeigher", "ServerGroupSoftAffinityWeigher",
                 "ServerGroupSoftAntiAffinityWeigher")

DEFAULT_FILTERS = [
    "RetryFilter",
    "AvailabilityZoneFilter",
    "RamFilter",
    "CoreFilter",
    "DiskFilter",
    "ComputeFilter",
    "ComputeCapabilitiesFilter",
    "ImagePropertiesFilter",
    "ServerGroupAntiAffinityFilter",
    "ServerGroupAffinityFilter",
    # The same_host and different_host hints, where devstack (and so the
    # clouds Tempest runs against) enables them; they pass every host
    # unless a request gives the hint.
    "SameHostFilter",
    "DifferentHostFilter",
]

opts = [
    cfg.ListOpt(
        "enabled_filters", item_type=types.String(choices=FILTER_NAMES), default=DEFAULT_FILTERS,
        help="Filters run in this order; a host must pass all of them."),
    cfg.ListOpt(
        "weight_classes", item_type=types.String(choices=WEIGHER_NAMES), default=list(WEIGHER_NAMES),
        help="Weighers whose normalised weights, times their multipliers, rank the hosts."),
    cfg.FloatOpt(
        "ram_weight_multiplier", default=1.0,
        help="Positive spreads instances by free RAM, negative stacks them."),
    cfg.FloatOpt("cpu_weight_multiplier", default=1.0, help="As ram_weight_multiplier, for free vCPUs."),
    cfg.FloatOpt("disk_weight_multiplier", default=1.0, help="As ram_weight_multiplier, for free disk."),
    cfg.FloatOpt(
        "soft_affinity_weight_multiplier", default=1.0, min=0.0,
        help="How much a soft-affinity group prefers the hosts that run its members."),
    cfg.FloatOpt(
        "soft_anti_affinity_weight_multiplier", default=1.0, min=0.0,
        help="How much a soft-anti-affinity group prefers the hosts that run fewer of its "
             "members."),
    cfg.IntOpt(
        "host_subset_size", default=1, min=1,
        help="Pick at random among this many best-weighed hosts, so that concurrent "
             "schedulers do not all race for the same host."),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
