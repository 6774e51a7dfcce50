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

Placement (when [placement] has auth_type; otherwise one warning at start
and every node is a candidate): before the filters, GET
/allocation_candidates for the flavor's resources and traits, at most
[scheduler] max_placement_results of them (Placement's ``limit``; decisions
that need the same query at the same time share one answer:
scheduler.coalesce; later decisions reuse an answer for [scheduler]
placement_candidates_max_age seconds after it came, until a claim is refused,
and a decision that finds no host on a kept answer is made again on a fresh
one); only the compute nodes it offers are filtered and weighed. Once the hosts are chosen,
each instance's allocation request is claimed on its host (PUT
/allocations/{instance}); a host that another scheduler filled meanwhile
refuses the claim, and the instance's alternates are tried in order. Each
selection carries its allocation request, so that a reschedule (in
nova-conductor) can claim on an alternate. No candidate, a Placement that does
not answer, or no claim that succeeds: NoValidHost, naming Placement.
"""

import collections
import dataclasses
import logging
import threading
import time

import oslo_messaging as messaging

from nova_runtime import cells, placement, rpc, service
from nova_runtime.db import engines
from nova_runtime.placement import claims as placement_claims
from nova_runtime.placement import resources as placement_resources
from nova_runtime.objects import exceptions as record_exc
from nova_runtime.objects import instance_groups, instance_mappings, instances
from nova_runtime.cells import session
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
from nova_runtime.scheduler.coalesce import Coalescer
from nova_runtime.objects import cell_mappings

LOG = logging.getLogger(__name__)

# How many recent placements the scheduler remembers for server groups.
_PLACED_MEMORY = 10000


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


def selection_dict(selection, allocation_requests=None):
    """A Selection as the RPC API sends it; with Placement, its node's
    allocation request (None without)."""
    allocation_request = (allocation_requests or {}).get(selection.compute_node_uuid)
    return {"host": selection.host, "nodename": selection.nodename,
            "compute_node_uuid": selection.compute_node_uuid,
            "cell_uuid": selection.cell_uuid, "limits": dict(selection.limits),
            "weight": selection.weight, "allocation_request": allocation_request}


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
        self.placement = placement.from_conf(conf)  # PlacementConfigError: cannot start
        # Claims of decisions made at the same time go to Placement together.
        self._claims = placement_claims.ClaimQueue()
        self._candidate_queries = Coalescer(
            max_age=conf.scheduler.placement_candidates_max_age, clock=clock)
        if self.placement is None:
            placement.warn_without_placement(LOG, "nova-scheduler")

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
        began = self._clock()
        try:
            self._refresh_if_due()
        except service.Unavailable as exc:
            LOG.warning("Scheduling on host states read before: %s", exc)
        refreshed = self._clock()
        wanted = request_spec_from_dict(request_spec, instance_uuids)
        wanted = self._with_hint_hosts(wanted, request_spec.get("scheduler_hints") or {})
        spec, kept = self._allocation_candidates(context, wanted)
        try:
            (offered, decided), host_lists = self._decide(
                context, spec, request_spec, return_alternates)
        except NoValidHost:
            if not kept:
                raise
            # The kept answer may lack what changed since it came: decide once
            # more on Placement's answer of now.
            spec, _ = self._allocation_candidates(context, wanted, fresh=True)
            (offered, decided), host_lists = self._decide(
                context, spec, request_spec, return_alternates)
        ended = self._clock()
        LOG.info("Selected %s for %s in %.0f ms (host states %.0f, Placement candidates %.0f, "
                 "filters and weighers %.0f, claims %.0f)", ", ".join(
                     _label(host_list[0]) for host_list in host_lists),
                 ", ".join(spec.instance_uuids) or f"{spec.num_instances} instance(s)",
                 *(1000 * (end - start) for start, end in (
                     (began, ended), (began, refreshed), (refreshed, offered),
                     (offered, decided), (decided, ended))))
        return [[selection_dict(selection, spec.allocation_requests) for selection in host_list]
                for host_list in host_lists]

    def _decide(self, context, spec, request_spec, return_alternates):
        """Filter, weigh and claim: ((clock before, clock after the filters),
        the host lists as claimed). Raises NoValidHost."""
        offered = self._clock()
        group = spec.instance_group
        with self.hosts.lock:
            if group is not None:
                # Under the lock: a request for the same group decided just
                # before is among the members, with the host it was given.
                self.hosts.set_group_hosts(group.uuid, self._group_hosts(group.uuid))
            host_lists = self.driver.select_destinations(
                self.hosts, spec, return_alternates=return_alternates)
            for instance_uuid, host_list in zip(spec.instance_uuids, host_lists):
                self._remember(instance_uuid, host_list[0].host)
        decided = self._clock()
        return (offered, decided), self._claim_allocations(
            context, spec, host_lists, request_spec)

    # --- Placement ------------------------------------------------------------------

    def _allocation_candidates(self, context, spec, fresh=False):
        """(``spec`` narrowed to the compute nodes Placement offers for it,
        with their allocation requests; whether that answer was a kept one).
        ``spec`` unchanged without Placement. Raises NoValidHost when
        Placement offers none or does not answer."""
        if self.placement is None:
            return spec, False
        flavor = dataclasses.asdict(spec.flavor)
        try:
            required, forbidden = placement_resources.flavor_traits(flavor)
            query = placement_resources.candidates_query(
                placement_resources.flavor_resources(flavor), required, forbidden)
        except placement_resources.BadRequest as exc:
            raise NoValidHost("No valid host was found", [f"Placement: {exc}"]) from None
        # As upstream: at most this many candidates to filter and weigh.
        query["limit"] = str(self.conf.scheduler.max_placement_results)
        key = tuple(sorted(query.items()))
        try:
            answer, kept = self._candidate_queries.answer(
                key, lambda: self.placement.allocation_candidates(query), fresh=fresh)
        except placement.PlacementError as exc:
            LOG.error("Cannot get allocation candidates from Placement: %s", exc)
            raise NoValidHost("No valid host was found",
                              [f"Placement did not answer: {exc}"]) from None
        requests = node_allocation_requests(answer)
        if not requests and kept:
            self._candidate_queries.forget(key)
            return self._allocation_candidates(context, spec, fresh=True)
        if not requests:
            self._candidate_queries.forget(key)
            LOG.info("Placement has no allocation candidate for %s",
                     placement_resources.describe(query))
            raise NoValidHost("No valid host was found", [
                f"Placement: no allocation candidate for {placement_resources.describe(query)}"])
        return dataclasses.replace(self.restrict_to_nodes(spec, requests),
                                   allocation_requests=requests), kept

    def restrict_to_nodes(self, spec, node_uuids):
        """``spec`` with only the compute nodes ``node_uuids`` as candidates."""
        return dataclasses.replace(spec, candidate_nodes=frozenset(node_uuids))

    def _claim_allocations(self, context, spec, host_lists, request_spec):
        """Claim each instance's resources on its chosen host, or on the first
        of its alternates that still has room; the host lists as claimed.
        When an instance gets no claim, the claims made for the request are
        released and NoValidHost raised. Without Placement (or for a request
        without instance uuids) nothing is claimed."""
        if self.placement is None or not spec.instance_uuids:
            return host_lists
        project_id = request_spec.get("project_id") or context.project_id
        user_id = request_spec.get("user_id") or context.user_id
        claimed = []
        for instance_uuid, host_list in zip(spec.instance_uuids, host_lists):
            try:
                kept = self._claim_one(spec, instance_uuid, host_list, project_id, user_id)
            except placement.PlacementError as exc:
                LOG.error("Cannot claim resources for instance %s in Placement: %s",
                          instance_uuid, exc)
                kept, reason = None, f"Placement: cannot claim resources: {exc}"
            else:
                reason = ("Placement: no room left on " + ", ".join(map(_label, host_list))
                          + " (taken by other requests meanwhile)")
            if kept is None:
                self._undo_claims(spec, claimed, host_lists[len(claimed):])
                raise NoValidHost("No valid host was found", [reason])
            claimed.append((instance_uuid, kept))
        return [host_list for _, host_list in claimed]

    def _claim_one(self, spec, instance_uuid, host_list, project_id, user_id):
        """The host list from the first selection whose claim succeeded (the
        host state's consumption moved to it), or None."""
        for index, selection in enumerate(host_list):
            allocation_request = spec.allocation_requests.get(selection.compute_node_uuid)
            if allocation_request is not None and self._claims.claim(
                    self.placement, instance_uuid, allocation_request, project_id, user_id):
                if index:
                    self._move_consumption(spec, host_list[0], selection)
                    self._remember(instance_uuid, selection.host)
                    LOG.info("Instance %s goes to alternate %s: %s has no room left in "
                             "Placement", instance_uuid, _label(selection),
                             ", ".join(map(_label, host_list[:index])))
                return host_list[index:]
            LOG.info("Host %s has no room left in Placement for instance %s",
                     _label(selection), instance_uuid)
            self._candidate_queries.forget()  # a kept answer offered it: ask again
        return None

    def _move_consumption(self, spec, taken_from, given_to):
        with self.hosts.lock:
            for selection, move in ((taken_from, self.hosts.release),
                                    (given_to, self.hosts.consume)):
                row = self.hosts.row_of_uuid(selection.compute_node_uuid)
                if row is not None:
                    move(row, spec)

    def _undo_claims(self, spec, claimed, unclaimed):
        """Release the Placement claims of ``claimed`` [(uuid, host list)] and
        the host states' consumption of every chosen host."""
        for instance_uuid, _ in claimed:
            try:
                placement_claims.release(self.placement, instance_uuid)
            except placement.PlacementError as exc:
                LOG.error("Cannot release the claim of instance %s in Placement: %s",
                          instance_uuid, exc)
        with self.hosts.lock:
            for host_list in [kept for _, kept in claimed] + list(unclaimed):
                row = self.hosts.row_of_uuid(host_list[0].compute_node_uuid)
                if row is not None:
                    self.hosts.release(row, spec)

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
                mappings = [cell for cell in cell_mappings.list_cells(self.api_url)
                            if cell.uuid != cells.CELL0_UUID and not cell.disabled]
                with session(self.api_url) as db:
                    host_cells = scheduler_db.load_host_cells(db)
                    aggregates = scheduler_db.load_aggregates(db)
            except cells.DOWN_ERRORS as exc:
                raise service.Unavailable(
                    f"the API database {engines.mask_password(self.api_url)}: "
                    f"{service.db_error_reason(exc)}") from None
            records, failed, unmapped = [], set(), set()
            for cell in mappings:
                try:
                    with session(cell.database_connection) as db:
                        cell_records = scheduler_db.load_cell(db, cell.uuid)
                except cells.DOWN_ERRORS as exc:
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
            created = cell_mappings.discover_hosts(self.api_url)
        except cells.DOWN_ERRORS as exc:
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
            return self._instance_hosts(members)
        except cells.DOWN_ERRORS as exc:
            raise service.Unavailable(
                f"cannot read the members of server group {group_uuid}: "
                f"{service.db_error_reason(exc)}") from None

    def _with_hint_hosts(self, spec, hints):
        """``spec`` with the hosts of the instances its same_host and
        different_host hints name (a uuid or a list of them)."""
        found = {}
        for name in ("same_host", "different_host"):
            uuids = hints.get(name)
            if isinstance(uuids, str):
                uuids = [uuids]
            if not uuids:
                continue
            try:
                found[name] = frozenset(self._instance_hosts(list(uuids)))
            except cells.DOWN_ERRORS as exc:
                raise service.Unavailable(
                    f"cannot read the hosts of the {name} hint's instances: "
                    f"{service.db_error_reason(exc)}") from None
        return dataclasses.replace(spec, **found) if found else spec

    def _instance_hosts(self, uuids):
        """The host of each live instance of ``uuids`` (a host once per
        instance); one on its way to its compute counts on the host this
        scheduler chose for it."""
        mappings = instance_mappings.get_many(self.api_url, uuids)
        hosts, by_cell = [], collections.defaultdict(list)
        for uuid in uuids:
            mapping = mappings.get(uuid)
            if mapping is None or mapping["queued_for_delete"]:
                continue
            cell = mapping["cell"]
            if cell is None:  # on its way: the scheduler may have chosen its host
                hosts.append(self._placed.get(uuid))
            elif cell.uuid != cells.CELL0_UUID:
                by_cell[cell.database_connection].append(uuid)
        for url, members in by_cell.items():
            live = instances.hosts_of(url, members)
            hosts += [live[uuid] or self._placed.get(uuid) for uuid in members if uuid in live]
        return [host for host in hosts if host]

    def _remember(self, instance_uuid, host):
        self._placed[instance_uuid] = host
        self._placed.move_to_end(instance_uuid)
        while len(self._placed) > _PLACED_MEMORY:
            self._placed.popitem(last=False)


def node_allocation_requests(answer):
    """{compute node uuid: allocation request} from GET
    /allocation_candidates' answer: the first request of each root provider
    (a compute node) whose allocations all lie in that node's tree."""
    summaries = answer.get("provider_summaries") or {}
    requests = {}
    for request in answer.get("allocation_requests") or ():
        roots = {(summaries.get(provider) or {}).get("root_provider_uuid") or provider
                 for provider in request["allocations"]}
        if len(roots) == 1:
            requests.setdefault(roots.pop(), {"allocations": request["allocations"]})
    return requests
