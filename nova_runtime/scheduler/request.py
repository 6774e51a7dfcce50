"""What the scheduler is asked for, and what it answers."""

import dataclasses
from collections.abc import Mapping, Sequence


@dataclasses.dataclass(frozen=True)
class Flavor:
    memory_mb: int
    vcpus: int
    root_gb: int = 0
    ephemeral_gb: int = 0
    swap: int = 0  # MiB, as flavors count it
    extra_specs: Mapping[str, str] = dataclasses.field(default_factory=dict)
    name: str = ""


@dataclasses.dataclass(frozen=True)
class InstanceGroup:
    """A server group. Where its members already run is kept by HostStates
    (set_group_hosts), because placing an instance changes it."""

    uuid: str
    policy: str  # affinity, anti-affinity, soft-affinity or soft-anti-affinity
    rules: Mapping[str, object] = dataclasses.field(default_factory=dict)

    @property
    def max_server_per_host(self):
        return int(self.rules.get("max_server_per_host", 1)) if self.rules else 1


@dataclasses.dataclass(frozen=True)
class RequestSpec:
    """One boot (or move) request, for ``num_instances`` identical instances.

    retry_hosts: (host, node) pairs this request already tried (RetryFilter).
    ignore_hosts: host names never to pick. force_hosts / force_nodes: pick only
    among these, and skip the filters, as upstream does for forced hosts.
    same_host / different_host: the hosts running the instances that the
    same_host / different_host scheduler hints name (the scheduler's manager
    looks them up); None when the hint is absent or empty.
    candidate_nodes: with Placement, the compute node uuids it offered
    (allocation candidates); None without Placement (every node is one).
    allocation_requests: compute node uuid -> the allocation request that
    claims the instance's resources there.
    """

    flavor: Flavor
    image_properties: Mapping[str, str] = dataclasses.field(default_factory=dict)
    availability_zone: str | None = None
    instance_group: InstanceGroup | None = None
    retry_hosts: Sequence[tuple[str, str]] = ()
    ignore_hosts: Sequence[str] = ()
    force_hosts: Sequence[str] = ()
    force_nodes: Sequence[str] = ()
    num_instances: int = 1
    instance_uuids: Sequence[str] = ()
    same_host: frozenset[str] | None = None
    different_host: frozenset[str] | None = None
    candidate_nodes: frozenset[str] | None = None
    allocation_requests: Mapping[str, Mapping] = dataclasses.field(default_factory=dict)

    @property
    def requested_disk_mb(self):
        """What DiskFilter asks of a host: root, ephemeral and swap."""
        f = self.flavor
        return 1024 * (f.root_gb + f.ephemeral_gb) + f.swap

    @property
    def consumed_disk_mb(self):
        """What placing one instance takes from a host's free disk: root and
        ephemeral, as the compute's resource tracker counts it (swap is not)."""
        f = self.flavor
        return 1024 * (f.root_gb + f.ephemeral_gb)


@dataclasses.dataclass(frozen=True)
class Selection:
    """A host chosen for one instance, with the oversubscription limits the
    compute should enforce in its claim (set by the filters that apply them)."""

    host: str
    nodename: str
    compute_node_uuid: str
    cell_uuid: str | None
    limits: Mapping[str, float]
    weight: float
