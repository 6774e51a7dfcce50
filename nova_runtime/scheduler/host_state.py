"""Every compute node's state as columns: one NumPy array per attribute.

Upstream Nova keeps one HostState object per node and asks each filter about
each object in turn. Here a filter looks at whole columns at once and answers
with a boolean mask, so that one request over 10,000 nodes costs a few array
operations instead of 100,000 Python calls.

Row i of every column is the compute node ``uuids[i]``. What a placement
changes (free RAM and disk, vCPUs used, instance and I/O counts, server group
members) is updated in place by ``consume``; a new report from a compute node
overwrites its row with ``refresh``, unless the row was consumed after the
report was written (the report does not know about that instance yet).

HostStates is not thread-safe by itself: hold ``lock`` around a scheduling
decision and its consumption, and around refresh and set_* calls. The
schedulers in this package take it.
"""

import collections
import dataclasses
import json
import logging
import operator
import threading
import time
from collections.abc import Mapping, Sequence

import numpy as np

from nova_runtime.scheduler import utils

LOG = logging.getLogger(__name__)

AZ_KEY = "availability_zone"


@dataclasses.dataclass(slots=True)
class HostRecord:
    """A compute node and its nova-compute service, as the scheduler reads them
    (see scheduler.db for building these from database rows). Times are epoch
    seconds."""

    uuid: str
    host: str
    nodename: str
    vcpus: int
    vcpus_used: int
    memory_mb: int
    free_ram_mb: int
    local_gb: int
    free_disk_gb: int
    disk_available_least: int | None = None
    cell_uuid: str | None = None
    hypervisor_type: str = ""
    hypervisor_version: int = 0
    cpu_info: str = ""
    host_ip: str | None = None
    supported_instances: Sequence[Sequence[str]] = ()  # [[arch, hv type, vm mode], ...]
    stats: Mapping[str, str | None] = dataclasses.field(default_factory=dict)
    cpu_allocation_ratio: float | None = None  # None or 0.0: the [DEFAULT] option applies
    ram_allocation_ratio: float | None = None
    disk_allocation_ratio: float | None = None
    disabled: bool = False
    forced_down: bool = False
    last_heartbeat: float | None = None
    updated_at: float | None = None


@dataclasses.dataclass(frozen=True)
class AggregateRecord:
    """A host aggregate: its member host names and its metadata."""

    name: str
    hosts: frozenset[str]
    metadata: Mapping[str, str]
    uuid: str | None = None


@dataclasses.dataclass(frozen=True)
class HostDefaults:
    """The [DEFAULT] options the host states need."""

    cpu_allocation_ratio: float = 16.0
    ram_allocation_ratio: float = 1.5
    disk_allocation_ratio: float = 1.0
    default_availability_zone: str = "nova"

    @classmethod
    def from_conf(cls, conf):
        return cls(
            cpu_allocation_ratio=conf.cpu_allocation_ratio,
            ram_allocation_ratio=conf.ram_allocation_ratio,
            disk_allocation_ratio=conf.disk_allocation_ratio,
            # Declared by conf/availability_zone.py.
            default_availability_zone=conf.default_availability_zone
            if "default_availability_zone" in conf else cls.default_availability_zone)


class _Absent:
    """A capability the host does not have at all (neither attribute nor stat)."""

    def __repr__(self):
        return "ABSENT"


ABSENT = _Absent()

# HostState attributes that ComputeCapabilitiesFilter may name, beside the
# stats. Those a placement changes are read from the live columns.
_DYNAMIC_CAPABILITIES = ("free_ram_mb", "free_disk_mb", "vcpus_used", "num_instances", "num_io_ops")
_STATIC_CAPABILITIES = {
    "host": lambda s: s.hosts,
    "nodename": lambda s: s.nodes,
    "hypervisor_hostname": lambda s: s.nodes,
    "uuid": lambda s: s.uuids,
    "cell_uuid": lambda s: s.cell_uuids,
    "hypervisor_type": lambda s: s.hypervisor_types,
    "hypervisor_version": lambda s: s.hypervisor_version.tolist(),
    "cpu_info": lambda s: s.cpu_infos,
    "host_ip": lambda s: s.host_ips,
    "vcpus_total": lambda s: s.vcpus.tolist(),
    "total_usable_ram_mb": lambda s: s.total_ram_mb.tolist(),
    "total_usable_disk_gb": lambda s: s.total_disk_gb.tolist(),
    "cpu_allocation_ratio": lambda s: s.cpu_ratio.tolist(),
    "ram_allocation_ratio": lambda s: s.ram_ratio.tolist(),
    "disk_allocation_ratio": lambda s: s.disk_ratio.tolist(),
}
CAPABILITY_ATTRIBUTES = frozenset(_STATIC_CAPABILITIES) | frozenset(_DYNAMIC_CAPABILITIES)


class HostStates:
    """The columns. Public arrays (length ``len(self)``):

    total_ram_mb, free_ram_mb, vcpus, vcpus_used, total_disk_gb, free_disk_mb,
    num_instances, num_io_ops, hypervisor_version (int64); cpu_ratio,
    ram_ratio, disk_ratio, heartbeat, updated (float64); disabled, forced_down
    (bool); host_code, cell_code (int32: index into host_names, cell_uuids_known).
    hv_spec_member is (rows x len(hv_specs)) bool, aggregate_member is
    (rows x len(aggregates)) bool.
    """

    def __init__(self, records=(), aggregates=(), defaults=HostDefaults()):
        self.lock = threading.RLock()
        self.defaults = defaults
        self._groups = {}  # server group uuid -> Counter(host name -> members on it)
        self._load(list(records))
        self.set_aggregates(aggregates)

    def __len__(self):
        return len(self.uuids)

    # --- building ------------------------------------------------------------

    def _load(self, records):
        n = len(records)
        self.records = records
        self.uuids = [r.uuid for r in records]
        self.hosts = [r.host for r in records]
        self.nodes = [r.nodename for r in records]
        self.cell_uuids = [r.cell_uuid for r in records]
        self.hypervisor_types = [r.hypervisor_type for r in records]
        self.cpu_infos = [r.cpu_info for r in records]
        self.host_ips = [r.host_ip for r in records]
        self.stats = [dict(r.stats or {}) for r in records]
        self._row_of_uuid = {u: i for i, u in enumerate(self.uuids)}
        if len(self._row_of_uuid) != n:
            raise ValueError("two compute node records have the same uuid")
        self._row_of_node = {(h, nd): i for i, (h, nd) in enumerate(zip(self.hosts, self.nodes))}

        self.host_names = list(dict.fromkeys(self.hosts))
        self._host_code_of = {h: c for c, h in enumerate(self.host_names)}
        self.host_code = np.array([self._host_code_of[h] for h in self.hosts], dtype=np.int32)
        self._rows_of_host = collections.defaultdict(list)
        for i, h in enumerate(self.hosts):
            self._rows_of_host[h].append(i)
        self._host_codes_of_lower = collections.defaultdict(list)
        for code, h in enumerate(self.host_names):
            self._host_codes_of_lower[h.lower()].append(code)
        self.cell_uuids_known = list(dict.fromkeys(self.cell_uuids))
        cell_code = {c: k for k, c in enumerate(self.cell_uuids_known)}
        self.cell_code = np.array([cell_code[c] for c in self.cell_uuids], dtype=np.int32)

        def ints(values):
            return np.array(values, dtype=np.int64).reshape(n)

        def floats(values):
            return np.array(values, dtype=np.float64).reshape(n)

        d = self.defaults
        self.total_ram_mb = ints([r.memory_mb for r in records])
        self.vcpus = ints([r.vcpus for r in records])
        self.total_disk_gb = ints([r.local_gb for r in records])
        self.hypervisor_version = ints([r.hypervisor_version or 0 for r in records])
        # None or 0.0 in the record: the [DEFAULT] option applies.
        self.cpu_ratio = floats([r.cpu_allocation_ratio or d.cpu_allocation_ratio for r in records])
        self.ram_ratio = floats([r.ram_allocation_ratio or d.ram_allocation_ratio for r in records])
        self.disk_ratio = floats(
            [r.disk_allocation_ratio or d.disk_allocation_ratio for r in records])
        self.disabled = np.array([bool(r.disabled) for r in records], dtype=bool).reshape(n)
        self.forced_down = np.array([bool(r.forced_down) for r in records], dtype=bool).reshape(n)
        self.heartbeat = floats([_or_nan(r.last_heartbeat) for r in records])
        # What a placement changes:
        self.free_ram_mb = ints([r.free_ram_mb for r in records])
        self.free_disk_mb = ints([_free_disk_mb(r) for r in records])
        self.vcpus_used = ints([r.vcpus_used for r in records])
        self.num_instances = ints([_int_stat(r.stats, "num_instances") for r in records])
        self.num_io_ops = ints([_int_stat(r.stats, "io_workload") for r in records])
        self.updated = floats([_or_nan(r.updated_at) for r in records])

        self._load_hv_specs()
        self._capabilities = {}

    def _load_hv_specs(self):
        """supported_instances as a (rows x distinct specs) membership matrix."""
        column_of = {}
        rows, cols = [], []
        for i, record in enumerate(self.records):
            for spec in record.supported_instances or ():
                spec = utils.canonical_hv_spec(spec)
                rows.append(i)
                cols.append(column_of.setdefault(spec, len(column_of)))
        self.hv_specs = list(column_of)
        self.hv_spec_member = np.zeros((len(self.records), len(column_of)), dtype=bool)
        self.hv_spec_member[rows, cols] = True

    def set_aggregates(self, aggregates):
        """Replace the aggregates (membership and metadata, availability zones)."""
        with self.lock:
            self.aggregates = list(aggregates)
            n = len(self)
            self.aggregate_member = np.zeros((n, len(self.aggregates)), dtype=bool)
            self.aggregate_metadata = []  # per aggregate: key -> frozenset of values
            az_rows = collections.defaultdict(list)
            in_some_az = np.zeros(n, dtype=bool)
            for a, aggregate in enumerate(self.aggregates):
                rows = [i for h in aggregate.hosts for i in self._rows_of_host.get(h, ())]
                self.aggregate_member[rows, a] = True
                metadata = {k: utils.aggregate_values(v) for k, v in aggregate.metadata.items()}
                self.aggregate_metadata.append(metadata)
                for zone in metadata.get(AZ_KEY, ()):
                    az_rows[zone].extend(rows)
                if AZ_KEY in metadata:
                    in_some_az[rows] = True
            self._az_masks = {}
            for zone, rows in az_rows.items():
                mask = np.zeros(n, dtype=bool)
                mask[rows] = True
                self._az_masks[zone] = mask
            default = self.defaults.default_availability_zone
            named = self._az_masks.get(default, np.zeros(n, dtype=bool))
            self._az_masks[default] = named | ~in_some_az
            self._no_host = np.zeros(n, dtype=bool)

    def set_group_hosts(self, group_uuid, hosts):
        """Where the members of a server group run: one host name per member."""
        with self.lock:
            self._groups[group_uuid] = collections.Counter(hosts)

    def forget_group(self, group_uuid):
        with self.lock:
            self._groups.pop(group_uuid, None)

    # --- reading -------------------------------------------------------------

    def row(self, host, nodename):
        """The row of a (host, node) pair, or None."""
        return self._row_of_node.get((host, nodename))

    def row_of_uuid(self, compute_node_uuid):
        return self._row_of_uuid.get(compute_node_uuid)

    def label(self, i):
        """How logs name row i: the host, and the node when it differs."""
        host, node = self.hosts[i], self.nodes[i]
        return host if node == host else f"{host}:{node}"

    def service_up(self, service_down_time, now=None):
        """A mask of rows whose service sent a heartbeat in the last
        service_down_time seconds and is not forced down."""
        now = time.time() if now is None else now
        with np.errstate(invalid="ignore"):
            fresh = np.abs(now - self.heartbeat) <= service_down_time
        return fresh & ~self.forced_down

    def az_mask(self, zone):
        """Rows in availability zone ``zone`` (do not modify the result)."""
        return self._az_masks.get(zone, self._no_host)

    def rows_of_hosts(self, names):
        """A mask of the rows whose host name is one of ``names``, compared
        without regard to case as upstream compares forced and ignored hosts."""
        lut = np.zeros(len(self.host_names), dtype=bool)
        for name in names:
            lut[self._host_codes_of_lower.get(name.lower(), [])] = True
        return lut[self.host_code]

    def rows_of_exact_hosts(self, names):
        """A mask of the rows whose host name is one of ``names`` exactly (the
        hosts instances run on, as the cell databases name them)."""
        lut = np.zeros(len(self.host_names), dtype=bool)
        lut[[self._host_code_of[name] for name in names if name in self._host_code_of]] = True
        return lut[self.host_code]

    def rows_of_uuids(self, compute_node_uuids):
        """A mask of the rows whose compute node uuid is one of ``compute_node_uuids``."""
        mask = np.zeros(len(self), dtype=bool)
        rows = [self._row_of_uuid[u] for u in compute_node_uuids if u in self._row_of_uuid]
        mask[rows] = True
        return mask

    def rows_of_nodes(self, nodenames):
        """A mask of the rows whose node name is one of ``nodenames``."""
        wanted = set(nodenames)
        return np.fromiter((n in wanted for n in self.nodes), dtype=bool, count=len(self))

    def group_counts(self, group_uuid):
        """Counter(host name -> members of the group on it); empty if unknown."""
        return self._groups.get(group_uuid, collections.Counter())

    def group_count_column(self, group_uuid):
        """Members of the group on each row's host."""
        lut = np.zeros(len(self.host_names), dtype=np.int64)
        for host, count in self.group_counts(group_uuid).items():
            code = self._host_code_of.get(host)
            if code is not None:
                lut[code] = count
        return lut[self.host_code]

    def capability(self, path):
        """A capability as a categorical column: (codes, values), values[codes[i]]
        being row i's value as a string, None when the host has no such value,
        or ABSENT when the first name is neither an attribute nor a stat.

        ``path`` is the key's components, e.g. ('cpu_info', 'arch') for
        'capabilities:cpu_info:arch'. A string met on the way is read as JSON.
        """
        path = tuple(path)
        if path[0] in _DYNAMIC_CAPABILITIES:
            if len(path) > 1:
                return np.zeros(len(self), dtype=np.intp), [None]
            values, codes = np.unique(getattr(self, path[0]), return_inverse=True)
            return codes, [str(v) for v in values.tolist()]
        cached = self._capabilities.get(path)
        if cached is None:
            cached = self._capabilities[path] = self._static_capability(path)
        return cached

    def _static_capability(self, path):
        key, rest = path[0], path[1:]
        getter = _STATIC_CAPABILITIES.get(key)
        attribute = getter(self) if getter else None
        parsed = {}

        def descend(value, name):
            if isinstance(value, str):
                if value not in parsed:
                    try:
                        parsed[value] = json.loads(value)
                    except ValueError:
                        parsed[value] = None
                value = parsed[value]
            return value.get(name) if isinstance(value, dict) else None

        code_of, values, codes = {}, [], np.empty(len(self), dtype=np.intp)
        for i, stats in enumerate(self.stats):
            value = attribute[i] if attribute is not None else None
            if value is None:
                if key in stats:
                    value = stats[key]
                elif attribute is None:
                    value = ABSENT
            for name in rest:
                if value is None or value is ABSENT:
                    value = None
                    break
                value = descend(value, name)
            if value is not None and value is not ABSENT:
                value = str(value)
            code = code_of.get(value)
            if code is None:
                code = code_of[value] = len(values)
                values.append(value)
            codes[i] = code
        return codes, values

    # --- changing ------------------------------------------------------------

    def consume(self, i, spec, now=None):
        """Take one instance of ``spec`` from row i: its RAM, disk and vCPUs, an
        instance and an I/O operation, and a member of its server group."""
        flavor = spec.flavor
        self.free_ram_mb[i] -= flavor.memory_mb
        self.free_disk_mb[i] -= spec.consumed_disk_mb
        self.vcpus_used[i] += flavor.vcpus
        self.num_instances[i] += 1
        self.num_io_ops[i] += 1
        self.updated[i] = time.time() if now is None else now
        if spec.instance_group is not None:
            counts = self._groups.setdefault(spec.instance_group.uuid, collections.Counter())
            counts[self.hosts[i]] += 1

    def release(self, i, spec):
        """Undo ``consume(i, spec)``: the instance did not go there after all."""
        flavor = spec.flavor
        self.free_ram_mb[i] += flavor.memory_mb
        self.free_disk_mb[i] += spec.consumed_disk_mb
        self.vcpus_used[i] -= flavor.vcpus
        self.num_instances[i] -= 1
        self.num_io_ops[i] -= 1
        if spec.instance_group is not None:
            counts = self._groups.get(spec.instance_group.uuid)
            if counts is not None and counts[self.hosts[i]] > 0:
                counts[self.hosts[i]] -= 1
                if not counts[self.hosts[i]]:
                    del counts[self.hosts[i]]

    def refresh(self, records=(), removed=()):
        """Take in new reports: ``records`` overwrite the rows of the same uuid,
        or add rows; ``removed`` compute node uuids are dropped.

        A record's service state (disabled, forced down, heartbeat) always
        applies; its resource usage does not when the row was consumed after
        the record was written (updated_at), as upstream's HostState keeps it.
        Overwriting rows is done in place; adding or removing rows (or a node
        that moved to another host) rebuilds the columns and keeps every
        surviving row's consumed resources.
        """
        with self.lock:
            added, removed = [], set(removed)
            for record in records:
                i = self._row_of_uuid.get(record.uuid)
                if i is not None and (self.hosts[i], self.nodes[i]) != (record.host,
                                                                        record.nodename):
                    removed.add(record.uuid)
                    i = None
                if i is None:
                    added.append(record)
                else:
                    stale = record.updated_at is not None and self.updated[i] > record.updated_at
                    # The record the row holds, again (only its service may
                    # have changed: heartbeat, disabled), and nothing placed
                    # on the row since: its resources are already written.
                    unchanged = (self.updated[i] == record.updated_at
                                 and _same_node(self.records[i], record))
                    self._write_row(i, record, resources=not stale and not unchanged)
            removed = {u for u in removed if u in self._row_of_uuid}
            if added or removed:
                self._restructure(added, removed)

    def _write_row(self, i, r, resources=True):
        d = self.defaults
        self.disabled[i] = bool(r.disabled)
        self.forced_down[i] = bool(r.forced_down)
        self.heartbeat[i] = _or_nan(r.last_heartbeat)
        if not resources:
            return
        self.records[i] = r
        self.hypervisor_types[i] = r.hypervisor_type
        self.cpu_infos[i] = r.cpu_info
        self.host_ips[i] = r.host_ip
        self.stats[i] = dict(r.stats or {})
        self.total_ram_mb[i] = r.memory_mb
        self.vcpus[i] = r.vcpus
        self.total_disk_gb[i] = r.local_gb
        self.hypervisor_version[i] = r.hypervisor_version or 0
        self.cpu_ratio[i] = r.cpu_allocation_ratio or d.cpu_allocation_ratio
        self.ram_ratio[i] = r.ram_allocation_ratio or d.ram_allocation_ratio
        self.disk_ratio[i] = r.disk_allocation_ratio or d.disk_allocation_ratio
        self.free_ram_mb[i] = r.free_ram_mb
        self.free_disk_mb[i] = _free_disk_mb(r)
        self.vcpus_used[i] = r.vcpus_used
        self.num_instances[i] = _int_stat(r.stats, "num_instances")
        self.num_io_ops[i] = _int_stat(r.stats, "io_workload")
        self.updated[i] = _or_nan(r.updated_at)
        specs = {utils.canonical_hv_spec(s) for s in r.supported_instances or ()}
        if not specs.issubset(self.hv_specs):
            self._load_hv_specs()
        else:
            self.hv_spec_member[i] = [s in specs for s in self.hv_specs]
        self._capabilities.clear()

    # Columns that may be newer than self.records: kept across a rebuild.
    _CARRIED = ("free_ram_mb", "free_disk_mb", "vcpus_used", "num_instances", "num_io_ops",
                "updated", "disabled", "forced_down", "heartbeat")

    def _restructure(self, added, removed):
        keep = [i for i, u in enumerate(self.uuids) if u not in removed]
        carried = {name: getattr(self, name)[keep] for name in self._CARRIED}
        self._load([self.records[i] for i in keep] + list(added))
        for name, values in carried.items():
            getattr(self, name)[:len(keep)] = values
        self.set_aggregates(self.aggregates)

    def nbytes(self):
        """Bytes held by the NumPy columns."""
        return sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray)) + \
            sum(m.nbytes for m in self._az_masks.values())


# What a HostRecord says of its service rather than of its node.
_SERVICE_FIELDS = frozenset(("disabled", "forced_down", "last_heartbeat"))
_node_fields = operator.attrgetter(
    *(f.name for f in dataclasses.fields(HostRecord) if f.name not in _SERVICE_FIELDS))


def _same_node(old, new):
    """Whether two records of a node say the same of it (their service aside)."""
    return old is new or _node_fields(old) == _node_fields(new)


def _or_nan(value):
    return np.nan if value is None else value


def _free_disk_mb(record):
    """Free disk as upstream's HostState counts it: the smaller of free_disk_gb
    and disk_available_least (what the images may still grow to use)."""
    free_gb = record.free_disk_gb
    if record.disk_available_least is not None:
        free_gb = min(free_gb, record.disk_available_least)
    return free_gb * 1024


def _int_stat(stats, key):
    try:
        return int((stats or {}).get(key) or 0)
    except (TypeError, ValueError):
        return 0
