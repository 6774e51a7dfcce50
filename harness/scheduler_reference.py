"""A plain per-host implementation of the filter scheduler, for tests and
benchmarks only (tests/unit/scheduler, bench/scheduler.py --oracle): the
tests' oracle, not upstream Nova (bench/scheduler.py --against upstream runs
upstream's own classes).

It follows upstream Nova's shape: one object per host, each filter asked about
each host in turn, weights normalised over the survivors and summed, sorted
best first (ties keep the hosts' order). The property tests check that the
vectorised scheduler chooses exactly what this one chooses.
"""

import collections
import json
import time

from nova_runtime.scheduler import extra_specs_ops, utils
from nova_runtime.scheduler.errors import NoValidHost

# The HostState attributes a capability may name (the rest are stats).
ATTRIBUTES = (
    "host", "nodename", "hypervisor_hostname", "uuid", "cell_uuid", "hypervisor_type",
    "hypervisor_version", "cpu_info", "host_ip", "vcpus_total", "total_usable_ram_mb",
    "total_usable_disk_gb", "cpu_allocation_ratio", "ram_allocation_ratio",
    "disk_allocation_ratio", "free_ram_mb", "free_disk_mb", "vcpus_used", "num_instances",
    "num_io_ops",
)


class Host:
    def __init__(self, record, aggregates, defaults):
        r = record
        self.uuid, self.host, self.nodename = r.uuid, r.host, r.nodename
        self.hypervisor_hostname = r.nodename
        self.cell_uuid = r.cell_uuid
        self.hypervisor_type = r.hypervisor_type
        self.hypervisor_version = r.hypervisor_version or 0
        self.cpu_info = r.cpu_info
        self.host_ip = r.host_ip
        self.vcpus_total, self.vcpus_used = r.vcpus, r.vcpus_used
        self.total_usable_ram_mb, self.free_ram_mb = r.memory_mb, r.free_ram_mb
        free_gb = r.free_disk_gb
        if r.disk_available_least is not None:
            free_gb = min(free_gb, r.disk_available_least)
        self.free_disk_mb = free_gb * 1024
        self.total_usable_disk_gb = r.local_gb
        self.cpu_allocation_ratio = r.cpu_allocation_ratio or defaults.cpu_allocation_ratio
        self.ram_allocation_ratio = r.ram_allocation_ratio or defaults.ram_allocation_ratio
        self.disk_allocation_ratio = r.disk_allocation_ratio or defaults.disk_allocation_ratio
        self.stats = dict(r.stats)
        self.num_instances = int(self.stats.get("num_instances", 0) or 0)
        self.num_io_ops = int(self.stats.get("io_workload", 0) or 0)
        self.supported_instances = [utils.canonical_hv_spec(s) for s in r.supported_instances]
        self.disabled, self.forced_down = r.disabled, r.forced_down
        self.last_heartbeat = r.last_heartbeat
        self.aggregates = [a for a in aggregates if r.host in a.hosts]
        self.limits = {}

    def label(self):
        return self.host if self.host == self.nodename else f"{self.host}:{self.nodename}"


def aggregate_metadata(host, key=None):
    metadata = collections.defaultdict(set)
    for aggregate in host.aggregates:
        if key is None or key in aggregate.metadata:
            for k, v in aggregate.metadata.items():
                metadata[k].update(x.strip() for x in v.split(","))
    return metadata


# --- filters: name -> (host_passes(host, spec, world), once per request) ----------

def retry(host, spec, world):
    return [host.host, host.nodename] not in [list(pair) for pair in spec.retry_hosts]


def availability_zone(host, spec, world):
    if not spec.availability_zone:
        return True
    metadata = aggregate_metadata(host, key="availability_zone")
    if "availability_zone" in metadata:
        return spec.availability_zone in metadata["availability_zone"]
    return spec.availability_zone == world.defaults.default_availability_zone


def ram(host, spec, world):
    requested = spec.flavor.memory_mb
    total = host.total_usable_ram_mb
    if not total >= requested:
        return False
    limit = total * host.ram_allocation_ratio
    usable = limit - (total - host.free_ram_mb)
    if not usable >= requested:
        return False
    host.limits["memory_mb"] = limit
    return True


def core(host, spec, world):
    if not host.vcpus_total:
        return True
    requested = spec.flavor.vcpus
    total = host.vcpus_total * host.cpu_allocation_ratio
    if total > 0:
        host.limits["vcpu"] = total
        if requested > host.vcpus_total:
            return False
    return not (total - host.vcpus_used < requested)


def disk(host, spec, world):
    f = spec.flavor
    requested = 1024 * (f.root_gb + f.ephemeral_gb) + f.swap
    total = host.total_usable_disk_gb * 1024
    if total < requested:
        return False
    limit = total * host.disk_allocation_ratio
    if not limit - (total - host.free_disk_mb) >= requested:
        return False
    host.limits["disk_gb"] = limit / 1024
    return True


def compute(host, spec, world):
    if host.disabled or host.forced_down or host.last_heartbeat is None:
        return False
    return abs(world.now - host.last_heartbeat) <= world.service_down_time


def _capability(host, scope):
    cap = host
    for index, name in enumerate(scope):
        if isinstance(cap, str):
            try:
                cap = json.loads(cap)
            except ValueError:
                return None
        if isinstance(cap, Host):
            value = getattr(cap, name, None) if name in ATTRIBUTES else None
            cap = cap.stats.get(name, None) if value is None else value
        elif isinstance(cap, dict):
            cap = cap.get(name, None)
        else:
            return None
        if cap is None:
            return None
    return cap


def compute_capabilities(host, spec, world):
    for key, req in spec.flavor.extra_specs.items():
        scope = key.split(":")
        if len(scope) == 1:
            if not (key in ATTRIBUTES or key in host.stats):
                continue
        elif scope[0] != "capabilities":
            continue
        else:
            del scope[0]
        cap = _capability(host, scope)
        if cap is None or not extra_specs_ops.match(str(cap), req):
            return False
    return True


def image_properties(host, spec, world):
    props = spec.image_properties
    wanted = (utils.canonical_arch(props.get("hw_architecture")),
              utils.canonical_hv_type(props.get("img_hv_type")),
              utils.canonical_vm_mode(props.get("hw_vm_mode")))
    if not any(wanted):
        return True
    if not host.supported_instances:
        return False

    def version_ok():
        required = props.get("img_hv_requested_version")
        if not (host.hypervisor_version and required):
            return True
        predicate = utils.version_predicate(required)
        return predicate is not None and predicate(utils.version_to_tuple(host.hypervisor_version))

    for offered in host.supported_instances:
        if all(not w or w in offered for w in wanted) and version_ok():
            return True
    return False


def anti_affinity(host, spec, world):
    group = spec.instance_group
    if group is None or group.policy != "anti-affinity":
        return True
    on_host = sum(1 for h in world.group_hosts.get(group.uuid, []) if h == host.host)
    return on_host < group.max_server_per_host


def affinity(host, spec, world):
    group = spec.instance_group
    if group is None or group.policy != "affinity":
        return True
    group_hosts = world.group_hosts.get(group.uuid, [])
    return host.host in group_hosts if group_hosts else True


def same_host(host, spec, world):
    return spec.same_host is None or host.host in spec.same_host


def different_host(host, spec, world):
    return spec.different_host is None or host.host not in spec.different_host


def aggregate_extra_specs(host, spec, world):
    if not spec.flavor.extra_specs:
        return True
    metadata = aggregate_metadata(host)
    for key, req in spec.flavor.extra_specs.items():
        scope = key.split(":", 1)
        if len(scope) > 1:
            if scope[0] != "aggregate_instance_extra_specs":
                continue
            key = scope[1]
        values = metadata.get(key)
        if not values or not any(extra_specs_ops.match(v, req) for v in values):
            return False
    return True


FILTERS = {
    "RetryFilter": (retry, False),
    "AvailabilityZoneFilter": (availability_zone, True),
    "RamFilter": (ram, False),
    "CoreFilter": (core, False),
    "DiskFilter": (disk, False),
    "ComputeFilter": (compute, True),
    "ComputeCapabilitiesFilter": (compute_capabilities, True),
    "ImagePropertiesFilter": (image_properties, True),
    "ServerGroupAntiAffinityFilter": (anti_affinity, False),
    "ServerGroupAffinityFilter": (affinity, False),
    "AggregateInstanceExtraSpecsFilter": (aggregate_extra_specs, True),
    "SameHostFilter": (same_host, True),
    "DifferentHostFilter": (different_host, True),
}

def group_members_on(policy, sign):
    """The soft-(anti-)affinity weighers: the group's members on the host."""
    def weigh(host, spec, world):
        group = spec.instance_group
        if group is None or group.policy != policy:
            return 0.0
        return sign * sum(1 for h in world.group_hosts.get(group.uuid, []) if h == host.host)
    return weigh


# name -> (multiplier option, weigh(host, spec, world))
WEIGHERS = {
    "RAMWeigher": ("ram_weight_multiplier", lambda h, spec, world: h.free_ram_mb),
    "CPUWeigher": ("cpu_weight_multiplier",
                   lambda h, spec, world: h.vcpus_total * h.cpu_allocation_ratio - h.vcpus_used),
    "DiskWeigher": ("disk_weight_multiplier", lambda h, spec, world: h.free_disk_mb),
    "ServerGroupSoftAffinityWeigher": ("soft_affinity_weight_multiplier",
                                       group_members_on("soft-affinity", 1)),
    "ServerGroupSoftAntiAffinityWeigher": ("soft_anti_affinity_weight_multiplier",
                                           group_members_on("soft-anti-affinity", -1)),
}


def normalize(weights):
    if not weights:
        return []
    hi, lo = float(max(weights)), float(min(weights))
    if hi == lo:
        return [0] * len(weights)
    return [(w - lo) / (hi - lo) for w in weights]


class World:
    """The reference's host states and settings."""

    def __init__(self, records, aggregates, defaults, filters, weighers, multipliers,
                 host_subset_size=1, max_attempts=3, service_down_time=60, now=None):
        self.defaults = defaults
        self.hosts = [Host(r, aggregates, defaults) for r in records]
        self.filters = list(filters)
        self.weighers = list(weighers)
        self.multipliers = multipliers
        self.host_subset_size = host_subset_size
        self.max_attempts = max_attempts
        self.service_down_time = service_down_time
        self.now = time.time() if now is None else now
        self.group_hosts = {}

    def passing(self, spec, hosts=None, index=0):
        hosts = self.hosts if hosts is None else hosts
        kept = []
        for host in hosts:
            host.limits = {}
            if all(FILTERS[name][0](host, spec, self) for name in self.filters
                   if index == 0 or not FILTERS[name][1]):
                kept.append(host)
        return kept

    def weighed(self, hosts, spec):
        """[(weight, host)], best first, ties in the hosts' order."""
        totals = [0.0] * len(hosts)
        for name in self.weighers:
            option, weigh = WEIGHERS[name]
            multiplier = self.multipliers[option]
            for k, w in enumerate(normalize([weigh(h, spec, self) for h in hosts])):
                totals[k] += multiplier * w
        return sorted(zip(totals, hosts), key=lambda pair: pair[0], reverse=True)

    def consume(self, host, spec):
        f = spec.flavor
        host.free_ram_mb -= f.memory_mb
        host.free_disk_mb -= 1024 * (f.root_gb + f.ephemeral_gb)
        host.vcpus_used += f.vcpus
        host.num_instances += 1
        host.num_io_ops += 1
        if spec.instance_group is not None:
            self.group_hosts.setdefault(spec.instance_group.uuid, []).append(host.host)

    def unconsume(self, host, spec):
        f = spec.flavor
        host.free_ram_mb += f.memory_mb
        host.free_disk_mb += 1024 * (f.root_gb + f.ephemeral_gb)
        host.vcpus_used -= f.vcpus
        host.num_instances -= 1
        host.num_io_ops -= 1
        if spec.instance_group is not None:
            self.group_hosts[spec.instance_group.uuid].remove(host.host)

    def select(self, spec, rng, return_alternates=False):
        """[[(host, node, weight), alternates...] per instance]; raises NoValidHost."""
        hosts = list(self.hosts)
        ignore = {h.lower() for h in spec.ignore_hosts}
        hosts = [h for h in hosts if h.host.lower() not in ignore]
        if spec.force_hosts:
            forced = {h.lower() for h in spec.force_hosts}
            hosts = [h for h in hosts if h.host.lower() in forced]
        if spec.force_nodes:
            hosts = [h for h in hosts if h.nodename in set(spec.force_nodes)]
        forced = bool(spec.force_hosts or spec.force_nodes)
        num = max(spec.num_instances, len(spec.instance_uuids))
        chosen, weights, ranked = [], [], []
        for index in range(num):
            survivors = hosts if forced else self.passing(spec, hosts, index)
            if not survivors:
                for host in chosen:
                    self.unconsume(host, spec)
                raise NoValidHost("reference: no host")
            ranked = self.weighed(survivors, spec)
            if self.host_subset_size > 1:
                weight, host = rng.choice(ranked[:self.host_subset_size])
            else:
                weight, host = ranked[0]
            self.consume(host, spec)
            chosen.append(host)
            weights.append(weight)
            hosts = survivors
        result = [[(h.host, h.nodename, w)] for h, w in zip(chosen, weights)]
        if return_alternates and self.max_attempts > 1:
            if num > 1:
                ranked = self.weighed(hosts if forced else self.passing(spec, hosts, num), spec)
            for host, selections in zip(chosen, result):
                for weight, other in ranked:
                    if len(selections) >= self.max_attempts:
                        break
                    if other not in chosen and other.cell_uuid == host.cell_uuid:
                        selections.append((other.host, other.nodename, weight))
        return result
