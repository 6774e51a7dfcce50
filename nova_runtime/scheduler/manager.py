"""nova-scheduler's manager: the RPC endpoint on topic 'scheduler' and the
host states it decides on.

The host states (scheduler.HostStates, one row per compute node) are read
from every enabled cell's database, through the cell mappings of the API
database, at start; they are read again when they are older than [scheduler]
host_state_refresh_interval, before a decision and in the periodic task.
Between two reads the scheduler counts what it placed itself (HostStates
consumes the chosen rows), and a compute node's report only overwrites a row
when it is newer than the last placement on it.

Only compute nodes whose host is mapped to the cell they were read from
(nova-manage cell_v2 discover_hosts, or the periodic discovery below) are
scheduled to: the conductor could not reach an unmapped one.

Where a server group's members run is read from the API database (members,
instance mappings) and the cells (instances.host); a member still on its way
to its compute has no host in the database yet, so the host this scheduler
chose for it counts instead.

Placement is not used yet: ``_allocation_candidates`` and
``_claim_allocations`` are the two places it joins (see their docstrings).
"""

import collections
import dataclasses
import logging
import threading
import time

import oslo_messaging as messaging
from oslo_db import exception as db_exc

from nova_runtime import cells, rpc, service
from nova_runtime.db import engines
from nova_runtime.objects import exceptions as record_exc
from nova_runtime.objects import instance_groups, instance_mappings, instances
from nova_runtime.objects._db import session
from nova_runtime.scheduler import (
    Flavor,
    HostDefaults,
    HostStates,
    InstanceGroup,
    NoValidHost,
    RequestSpec,
    db as scheduler_db,
    get_scheduler,
)

LOG = logging.getLogger(__name__)

# How many recent placements the scheduler remembers for server groups.
_PLACED_MEMORY = 10000

_DB_ERRORS = (engines.DatabaseUnavailable, db_exc.DBError)


def request_spec_from_dict(spec, instance_uuids=()):
    """The library's RequestSpec from the request spec dict of the RPC API."""
    flavor = spec["flavor"]
    group = spec.get("instance_group")
    retry = spec.get("retry") or {}
    return RequestSpec(
        flavor=Flavor(
            memory_mb=int(flavor["memory_mb"]), vcpus=int(flavor["vcpus"]),
            root_gb=int(flavor.get("root_gb") or 0),
            ephemeral_gb=int(flavor.get("ephemeral_gb") or 0),
            swap=int(flavor.get("swap") or 0),
            extra_specs=dict(flavor.get("extra_specs") or {}), name=flavor.get("name") or ""),
        image_properties=dict((spec.get("image") or {}).get("properties") or {}),
        availability_zone=spec.get("availability_zone"),
        instance_group=InstanceGroup(group["uuid"], group["policy"], group.get("rules") or {})
        if group else None,
        retry_hosts=tuple(tuple(pair) for pair in retry.get("hosts") or ()),
        ignore_hosts=tuple(spec.get("ignore_hosts") or ()),
        force_hosts=tuple(spec.get("force_hosts") or ()),
        force_nodes=tuple(spec.get("force_nodes") or ()),
        num_instances=int(spec.get("num_instances") or 1),
        instance_uuids=tuple(instance_uuids or ()))


def selection_dict(selection):
    return {"host": selection.host, "nodename": selection.nodename,
            "compute_node_uuid": selection.compute_node_uuid,
            "cell_uuid": selection.cell_uuid, "limits": dict(selection.limits),
            "weight": selection.weight}


def _label(selection):
    if selection.nodename == selection.host:
        return selection.host
    return f"{selection.host}:{selection.nodename}"


def _end_of_its_second(record):
    """MySQL's DATETIME keeps whole seconds: a compute's report written just
    after a placement, within the same second, would look older than the
    placement, and HostStates would keep counting the placement on top of the
    report that includes it, until the compute's next change. A report in
    whole seconds is taken as written at the end of its second instead: the
    lesser error is to drop a placement made just before the report, which
    the compute's claim checks anyway."""
    if record.updated_at is not None and float(record.updated_at).is_integer():
        return dataclasses.replace(record, updated_at=record.updated_at + 0.999)
    return record


class SchedulerManager(service.Manager):
    target = messaging.Target(version="1.0")

    def __init__(self, conf, host, api_url, clock=time.monotonic):
        super().__init__(conf, host)
        self.api_url = api_url
        self.driver = get_scheduler(conf)  # an unknown filter or weigher fails here
        self.hosts = HostStates([], [], HostDefaults.from_conf(conf))
        self._clock = clock
        self._refresh_lock = threading.Lock()
        self._refreshed_at = None
        self._discovered_at = None
        self._placed = collections.OrderedDict()  # instance uuid -> host chosen for it

    # --- service hooks -----------------------------------------------------------

    def init_host(self, context):
        self._discover_hosts_if_due()
        self.refresh_host_states()

    def periodic_tasks(self, context):
        self._discover_hosts_if_due()
        self._refresh_if_due()

    # --- RPC API 1.0 ---------------------------------------------------------------

    @rpc.expose
    @messaging.expected_exceptions(NoValidHost)
    def select_destinations(self, context, request_spec, instance_uuids=None,
                            return_alternates=False):
        """Hosts for the instances of ``request_spec``: one list of selection
        dicts per instance (see rpcapi). NoValidHost is an answer: the server
        logs no traceback for it."""
        return self.schedule(context, request_spec, instance_uuids, return_alternates)

    def schedule(self, context, request_spec, instance_uuids=None, return_alternates=False):
        """select_destinations, for callers in this process. Raises NoValidHost."""
        try:
            self._refresh_if_due()
        except service.Unavailable as exc:
            LOG.warning("Scheduling on host states read before: %s", exc)
        spec = request_spec_from_dict(request_spec, instance_uuids)
        group = spec.instance_group
        spec = self._allocation_candidates(context, spec)
        with self.hosts.lock:
            if group is not None:
                # Under the lock: a request for the same group decided just
                # before is among the members, with the host it was given.
                self.hosts.set_group_hosts(group.uuid, self._group_hosts(group.uuid))
            host_lists = self.driver.select_destinations(
                self.hosts, spec, return_alternates=return_alternates)
            for instance_uuid, host_list in zip(spec.instance_uuids, host_lists):
                self._remember(instance_uuid, host_list[0].host)
        self._claim_allocations(context, spec, host_lists)
        LOG.info("Selected %s for %s", ", ".join(
            _label(host_list[0]) for host_list in host_lists),
            ", ".join(spec.instance_uuids) or f"{spec.num_instances} instance(s)")
        return [[selection_dict(selection) for selection in host_list]
                for host_list in host_lists]

    # --- the Placement seam ----------------------------------------------------------

    def _allocation_candidates(self, context, spec):
        """Narrow the hosts to those Placement offers for ``spec``.

        Upstream asks Placement (GET /allocation_candidates with the flavor's
        resources and traits) before filtering and only filters the compute
        nodes it returns. Without Placement every node is a candidate: this
        returns ``spec`` unchanged. With it: call Placement here and return
        ``restrict_to_nodes(spec, candidate_uuids)``."""
        return spec

    def restrict_to_nodes(self, spec, node_uuids):
        """``spec`` with the hosts that have none of ``node_uuids`` ignored."""
        wanted = set(node_uuids)
        with self.hosts.lock:
            offered = {self.hosts.hosts[i] for i, uuid in enumerate(self.hosts.uuids)
                       if uuid in wanted}
            others = sorted(set(self.hosts.hosts) - offered)
        return dataclasses.replace(spec, ignore_hosts=tuple(spec.ignore_hosts) + tuple(others))

    def _claim_allocations(self, context, spec, host_lists):
        """With Placement: claim each chosen node's allocation for its instance
        (and release the host state's consumption, then try the alternates,
        when a claim fails). Without Placement the compute's resource claim
        is the only check."""

    # --- host states ---------------------------------------------------------------

    def _refresh_if_due(self):
        self.refresh_host_states(only_if_due=True)

    def refresh_host_states(self, only_if_due=False):
        """Read every enabled cell's compute nodes and services, and the
        aggregates (with ``only_if_due``, only when the last read is older
        than host_state_refresh_interval). A cell whose database does not
        answer keeps the rows read before; raises service.Unavailable when the
        API database does not."""
        with self._refresh_lock:
            started = self._clock()
            interval = self.conf.scheduler.host_state_refresh_interval
            if (only_if_due and self._refreshed_at is not None
                    and started - self._refreshed_at < interval):
                return
            try:
                mappings = [cell for cell in cells.list_cells(self.api_url)
                            if cell.uuid != cells.CELL0_UUID and not cell.disabled]
                host_cells = {host: cell.uuid for cell, host in cells.list_hosts(self.api_url)}
                with session(self.api_url) as db:
                    aggregates = scheduler_db.load_aggregates(db)
            except _DB_ERRORS as exc:
                raise service.Unavailable(
                    f"the API database {engines.mask_password(self.api_url)}: "
                    f"{service.db_error_reason(exc)}") from None
            records, failed, unmapped = [], set(), set()
            for cell in mappings:
                try:
                    with session(cell.database_connection) as db:
                        cell_records = scheduler_db.load_cell(db, cell.uuid)
                except _DB_ERRORS as exc:
                    LOG.warning("Cell %s (%s) did not answer; keeping its host states: %s",
                                cell.name, cell.uuid, service.db_error_reason(exc))
                    failed.add(cell.uuid)
                    continue
                for record in cell_records:
                    if host_cells.get(record.host) == cell.uuid:
                        records.append(_end_of_its_second(record))
                    else:
                        unmapped.add(record.host)
            self._apply(records, failed, aggregates, unmapped)
            self._refreshed_at = started

    def _apply(self, records, failed_cells, aggregates, unmapped):
        fresh = {record.uuid for record in records}
        with self.hosts.lock:
            before = len(self.hosts)
            removed = [uuid for uuid, cell in zip(self.hosts.uuids, self.hosts.cell_uuids)
                       if uuid not in fresh and cell not in failed_cells]
            self.hosts.refresh(records, removed=removed)
            self.hosts.set_aggregates(aggregates)
            after = len(self.hosts)
        if after != before or removed:
            LOG.info("Host states: %d compute node(s) in %d cell(s)", after,
                     len(set(self.hosts.cell_uuids)))
        if unmapped:
            LOG.debug("Not scheduling to unmapped compute hosts %s: run 'nova-manage cell_v2 "
                      "discover_hosts'", ", ".join(sorted(unmapped)))

    def _discover_hosts_if_due(self):
        interval = self.conf.scheduler.discover_hosts_in_cells_interval
        if interval <= 0:
            return
        if self._discovered_at is not None and self._clock() - self._discovered_at < interval:
            return
        try:
            created = cells.discover_hosts(self.api_url)
        except _DB_ERRORS as exc:
            raise service.Unavailable(
                f"host discovery: {service.db_error_reason(exc)}") from None
        self._discovered_at = self._clock()
        if created:
            LOG.info("Discovered and mapped compute hosts: %s", ", ".join(created))
            self._refreshed_at = None  # schedule to them from the next decision on

    # --- server groups ---------------------------------------------------------------

    def _group_hosts(self, group_uuid):
        """The host of each live member of the group (a host once per member)."""
        try:
            try:
                members = instance_groups.get(self.api_url, group_uuid)["members"]
            except record_exc.InstanceGroupNotFound:
                return []  # deleted meanwhile: nothing to keep apart or together
            mappings = instance_mappings.get_many(self.api_url, members)
            hosts, by_cell = [], collections.defaultdict(list)
            for uuid in members:
                mapping = mappings.get(uuid)
                if mapping is None or mapping["queued_for_delete"]:
                    continue
                cell = mapping["cell"]
                if cell is None:  # on its way: the scheduler may have chosen its host
                    hosts.append(self._placed.get(uuid))
                elif cell.uuid != cells.CELL0_UUID:
                    by_cell[cell.database_connection].append(uuid)
            for url, uuids in by_cell.items():
                live = instances.hosts_of(url, uuids)
                hosts += [live[uuid] or self._placed.get(uuid) for uuid in uuids if uuid in live]
        except _DB_ERRORS as exc:
            raise service.Unavailable(
                f"cannot read the members of server group {group_uuid}: "
                f"{service.db_error_reason(exc)}") from None
        return [host for host in hosts if host]

    def _remember(self, instance_uuid, host):
        self._placed[instance_uuid] = host
        self._placed.move_to_end(instance_uuid)
        while len(self._placed) > _PLACED_MEMORY:
            self._placed.popitem(last=False)
