"""nova-conductor's build orchestration: from a build request to a compute.

The super-conductor (a nova-conductor with [api_database] connection, on the
API level's message queue; in a single-cell deployment the cell's own
nova-conductor) runs ``schedule_and_build_instances``:

1. it asks nova-scheduler for a host and alternates per instance;
2. for each instance, in the chosen host's cell: creates the instance record
   (vm_state building, task_state scheduling), its 'create' action and the
   conductor_schedule_and_build_instances event; points the instance mapping
   at the cell and deletes the build request; gives it a fixed address of
   the cell's flat network (nova_runtime.network); casts build_and_run_instance
   to the compute, over the cell's message queue, with the alternates;
3. when no host is valid (or the scheduler fails), it "buries" each instance
   in cell0: record in ERROR, the event in error, a fault carrying the
   scheduler's summary (which filter removed the last hosts), mapping to
   cell0, build request deleted.

A cell's conductor runs ``build_instances`` when a compute failed a build:
the next alternate not yet tried gets the build, until [scheduler]
max_attempts builds were tried or no alternate is left; then the instance is
in ERROR (in its cell) with a fault that says so. The cell conductor needs no
scheduler and no API database for that, as upstream's since alternates.
With Placement, the failed host's allocation is released first, and the
build goes to the first alternate whose allocation request (carried by its
selection) can still be claimed.

A server deleted while it is scheduled has lost its build request when the
conductor wants to place it: the instance created meanwhile is deleted again
and no compute is asked.

[quota] recheck_quota (default true, as upstream): the instance is created
in its cell only after its project's quota (and its server group's members)
were counted again under the project's lock (objects.quotas); one that no
longer fits is kept in cell0 in ERROR with upstream's "Quota exceeded" fault.

Every failure ends the build with a fault: before the instance is in its
cell (its build request still there) in cell0, after that in its cell, in
ERROR; the fault's message is the error's own for nova_runtime's errors and
only the class name for any other (a database's DataError...), as upstream
writes faults; its details hold the traceback.
"""

import contextlib
import copy
import logging
import traceback

from oslo_db import exception as db_exc

from nova_runtime import cells, placement, rpc
from nova_runtime.compute import rpcapi as compute_rpcapi
from nova_runtime.states import task_states, vm_states
from nova_runtime.db import engines
from nova_runtime.network import api as network_api
from nova_runtime.objects import availability_zones, build_requests, instance_actions, instances
from nova_runtime.objects import instance_groups
from nova_runtime.objects import quotas
from nova_runtime.objects import exceptions as record_exc
from nova_runtime.scheduler import rpcapi as scheduler_rpcapi
from nova_runtime.scheduler.errors import NoValidHost

LOG = logging.getLogger(__name__)

EVENT = "conductor_schedule_and_build_instances"


class BuildTasks:
    def __init__(self, conf, db_url, api_url=None):
        self.conf = conf
        self.db_url = db_url  # this cell's database
        self.api_url = api_url  # set for a super-conductor
        self._scheduler = None
        self.computes = compute_rpcapi.CellClients(conf)
        self.dbs = cells.Databases(api_url) if api_url else None  # a super-conductor's cells
        # Instances' claims in Placement (does nothing when [placement] has no auth_type).
        self.allocations = placement.Allocations.from_conf(conf)

    @property
    def scheduler(self):
        if self._scheduler is None:
            self._scheduler = scheduler_rpcapi.SchedulerAPI(rpc.get_transport(self.conf))
        return self._scheduler

    # --- the super-conductor ---------------------------------------------------------

    def schedule_and_build_instances(self, context, instance_uuids, request_spec, image,
                                     admin_password=None, injected_files=None,
                                     requested_networks=None):
        if not self.api_url:
            LOG.error("Cannot build instances %s: this nova-conductor has no [api_database] "
                      "connection; schedule_and_build_instances goes to the super-conductor",
                      ", ".join(instance_uuids))
            return
        try:
            host_lists = self.scheduler.select_destinations(
                context, request_spec, instance_uuids, return_alternates=True)
        except NoValidHost as exc:
            LOG.info("No valid host for instances %s: %s", ", ".join(instance_uuids),
                     str(exc).replace("\n", ";"))
            for uuid in instance_uuids:
                self._bury_in_cell0(context, uuid, exc, fault_message(exc), str(exc))
            return
        except Exception as exc:
            LOG.error("Scheduling instances %s failed: %s", ", ".join(instance_uuids), exc)
            for uuid in instance_uuids:
                self._bury_in_cell0(context, uuid, exc, f"Scheduling failed: {exc}",
                                    traceback.format_exc())
            return
        missing = instance_uuids[len(host_lists):]
        if missing:  # a scheduler that answered for fewer: those would wait forever
            exc = NoValidHost("No valid host was found. The scheduler returned no host for "
                              "this instance", [])
            for uuid in missing:
                self._bury_in_cell0(context, uuid, exc, str(exc), str(exc))
        for uuid, host_list in zip(instance_uuids, host_lists):
            try:
                self._build_in_cell(context, uuid, request_spec, host_list, image,
                                    admin_password, injected_files, requested_networks)
            except quotas.OverQuota as exc:
                # Upstream's recheck: the instance ends in ERROR with its quota fault.
                LOG.info("Instance %s is over its quota: %s", uuid, exc)
                self.allocations.release(uuid)
                self._bury_in_cell0(context, uuid, exc, str(exc), str(exc))
            except Exception as exc:
                # Nothing of it is in a cell (_build_in_cell saw to that): cell0 keeps it.
                # No traceback in the log: the fault's details keep it.
                LOG.error("Cannot build instance %s on %s: %s", uuid, host_list[0]["host"],
                          describe(exc))
                self.allocations.release(uuid)
                self._bury_in_cell0(context, uuid, exc, f"Build failed: {fault_text(exc)}",
                                    traceback.format_exc())

    def _build_in_cell(self, context, uuid, request_spec, host_list, image, admin_password,
                       injected_files, requested_networks):
        selection, alternates = host_list[0], host_list[1:]
        host, node = selection["host"], selection["nodename"]
        cell = self.dbs.cell_by_uuid(selection["cell_uuid"])
        try:
            request = build_requests.get(self.api_url, uuid)
        except record_exc.BuildRequestNotFound:
            LOG.info("Instance %s was deleted before it reached a cell", uuid)
            return
        values, flavor, metadata, system_metadata, tags = split_instance(request["instance"])
        if not values.get("availability_zone"):
            values["availability_zone"] = availability_zones.host_zone(
                self.api_url, host, self.conf.default_availability_zone)
        url = cell.database_connection
        group = (request_spec.get("instance_group") or {}).get("uuid")
        with self._admission(request["instance"], group):
            instance = instances.create(url, values, flavor=flavor, metadata=metadata,
                                        system_metadata=system_metadata, tags=tags)
        try:
            placed = build_requests.mark_placed(self.api_url, uuid, cell.id)
        except Exception:
            # Still mapped to no cell: the record in the cell goes, cell0 gets the one in
            # ERROR (a record left here would stay in BUILD and count against the quota).
            self._quietly_destroy(url, uuid)
            raise
        if not placed:
            LOG.info("Instance %s was deleted while it was scheduled", uuid)
            self.allocations.release(uuid)
            self._quietly_destroy(url, uuid)
            return
        # From here on the instance is found in its cell: a failure leaves it there, in
        # ERROR, and nothing propagates (cell0 must not get a second record).
        try:
            spec = dict(copy.deepcopy(request_spec), instance_uuid=uuid, num_instances=1,
                        retry={"num_attempts": 1, "hosts": [[host, node]]})
            self._record_create(context, url, instance, result="Success")
            # Its fixed address, before the compute plugs it in (no address left: ERROR).
            network_api.allocate_for_instance(self.conf, url, uuid)
            self.computes.get(cell).build_and_run_instance(
                context, host, instance, node=node, limits=selection["limits"], image=image,
                request_spec=spec, host_list=alternates, admin_password=admin_password,
                injected_files=injected_files, requested_networks=requested_networks)
        except Exception as exc:
            LOG.error("Cannot send instance %s to %s: %s", uuid, host, describe(exc))
            self.allocations.release(uuid)  # no compute will use or free its claim
            self._build_failed(context, uuid, f"Build failed: {fault_text(exc)}", url,
                               details=traceback.format_exc())
            return
        LOG.info("Instance %s goes to %s (node %s) in cell %s, with %d alternate(s)",
                 uuid, host, node, cell.name or cell.uuid, len(alternates))

    def _admission(self, instance, group_uuid=None):
        """[quota] recheck_quota: the project's quota (and its server group's
        members) counted again, and the instance created, under the
        project's quota lock (objects.quotas says why); OverQuota when it no
        longer fits."""
        if not self.conf.quota.recheck_quota:
            return contextlib.nullcontext()
        return _admitted(self.conf, self.api_url, self._cell_urls(), instance, group_uuid)

    def _cell_urls(self):
        """Every cell's database, cell0's too."""
        return [cell.database_connection for cell in self.dbs.cells()]

    def _bury_in_cell0(self, context, uuid, exc, message, details):
        """The instance could not reach a cell: keep it in cell0, in ERROR.
        Values its own cell refused (a DataError: a field too long for its
        column) are refused by cell0 too: then the record keeps only what
        identifies it, and the fault says why."""
        try:
            cell0 = self.dbs.cell_by_uuid(cells.CELL0_UUID)
            try:
                request = build_requests.get(self.api_url, uuid)
            except record_exc.BuildRequestNotFound:
                return  # deleted by its user meanwhile: nothing to keep
            values, flavor, metadata, system_metadata, tags = split_instance(
                request["instance"])
            values.update(vm_state=vm_states.ERROR, task_state=None)
            url = cell0.database_connection
            try:
                instance = instances.create(url, values, flavor=flavor, metadata=metadata,
                                            system_metadata=system_metadata, tags=tags)
            except (db_exc.DBDataError, record_exc.InvalidField):
                instance = instances.create(url, essential(values), flavor=flavor)
            self._record_create(context, url, instance, result="Error", details=details)
            instance_actions.fault_create(url, instance_uuid=uuid,
                                          code=getattr(exc, "code", 500), message=message,
                                          details=details)
            if not build_requests.mark_placed(self.api_url, uuid, cell0.id):
                instances.destroy(url, uuid, {"vm_state": vm_states.DELETED})
                return
        except Exception as error:
            # The API database or cell0 does not answer: the build request stays
            # (still BUILD, deletable) for whoever looks at build requests next.
            LOG.error("Cannot put instance %s in cell0 after: %s (%s)", uuid, message,
                      describe(error))
            return
        LOG.info("Instance %s is in ERROR in cell0: %s", uuid, message)

    def _quietly_destroy(self, url, uuid):
        try:
            instances.destroy(url, uuid, {"vm_state": vm_states.DELETED, "task_state": None})
        except record_exc.InstanceNotFound:
            pass
        except Exception as exc:
            LOG.error("Cannot remove instance %s from %s: %s", uuid,
                      engines.mask_password(url), describe(exc))

    @staticmethod
    def _record_create(context, url, instance, result, details=None):
        instance_actions.action_with_event(
            url, instance_uuid=instance["uuid"], request_id=context.request_id, action="create",
            user_id=instance["user_id"], project_id=instance["project_id"], event=EVENT,
            result=result, traceback=details)

    # --- a cell's conductor: reschedules ------------------------------------------------

    def build_instances(self, context, instances_, request_spec, host_lists, image,
                        admin_password=None, injected_files=None, requested_networks=None,
                        reason=None):
        for instance, host_list in zip(instances_, host_lists):
            try:
                self._reschedule(context, instance, request_spec, host_list or [], image,
                                 admin_password, injected_files, requested_networks, reason)
            except Exception as exc:
                LOG.error("Cannot reschedule instance %s: %s", instance["uuid"], describe(exc))
                self.allocations.release(instance["uuid"])  # an alternate's claim, if made
                self._build_failed(context, instance["uuid"],
                                   f"Reschedule failed: {fault_text(exc)}",
                                   details=traceback.format_exc())

    def _reschedule(self, context, instance, request_spec, host_list, image, admin_password,
                    injected_files, requested_networks, reason):
        uuid = instance["uuid"]
        spec = copy.deepcopy(request_spec)
        retry = spec.setdefault("retry", {"num_attempts": 1, "hosts": []})
        tried = {tuple(pair) for pair in retry["hosts"]}
        max_attempts = self.conf.scheduler.max_attempts
        alternates = self._group_allows(spec, uuid, [
            s for s in host_list if (s["host"], s["nodename"]) not in tried])
        self.allocations.release(uuid)  # the failed host's claim in Placement
        fresh = None
        if retry["num_attempts"] < max_attempts:
            # A server group's member asks the scheduler again rather than take
            # an alternate chosen before the other members' builds went anywhere.
            fresh = self._schedule_group_member_again(context, uuid, spec, tried)
            alternates = fresh or alternates
        if retry["num_attempts"] >= max_attempts or not alternates:
            why = (f"Exceeded maximum number of retries ({max_attempts})"
                   if retry["num_attempts"] >= max_attempts else "No alternate host left")
            self._build_failed(
                context, uuid, f"{why}: exhausted all hosts available for retrying build "
                f"failures for instance {uuid}. Last failure: {reason}")
            return
        try:
            instance = instances.get_by_uuid(self.db_url, uuid)
        except record_exc.InstanceNotFound:
            return  # deleted meanwhile
        if instance["task_state"] != task_states.SCHEDULING:
            LOG.info("Not rescheduling instance %s: its task_state is %s", uuid,
                     instance["task_state"])
            return
        # With Placement: the first alternate on which its resources can still be claimed
        # (the scheduler claimed a fresh choice itself).
        claimed = (fresh[0], fresh[1:]) if fresh else \
            self.allocations.claim_alternate(uuid, spec, alternates)
        if claimed is None:
            self._build_failed(context, uuid, "No alternate host has room left in Placement "
                               f"for instance {uuid}. Last failure: {reason}")
            return
        selection, rest = claimed
        retry["num_attempts"] += 1
        retry["hosts"].append([selection["host"], selection["nodename"]])
        LOG.info("Rescheduling instance %s to %s (attempt %d of %d) after: %s", uuid,
                 selection["host"], retry["num_attempts"], max_attempts, reason)
        self.computes.get().build_and_run_instance(
            context, selection["host"], instance, node=selection["nodename"],
            limits=selection["limits"], image=image, request_spec=spec, host_list=rest,
            admin_password=admin_password, injected_files=injected_files,
            requested_networks=requested_networks)

    def _schedule_group_member_again(self, context, uuid, spec, tried):
        """A member of an (anti-)affinity server group whose alternates its
        group's policy no longer allows (other members took them meanwhile:
        schedulers deciding at once): a super-conductor asks the scheduler
        again, which now sees where the members are. The new host list, or
        None (no group, no API database, no valid host)."""
        group = spec.get("instance_group") or {}
        if group.get("policy") not in ("anti-affinity", "affinity") or not self.api_url:
            return None
        again = dict(spec, ignore_hosts=sorted(set(spec.get("ignore_hosts") or [])
                                               | {host for host, _ in tried}))
        try:
            [host_list] = self.scheduler.select_destinations(
                context, again, [uuid], return_alternates=True)
        except Exception as exc:  # no valid host now: the build fails as before
            LOG.info("Instance %s: no other host for server group %s: %s", uuid,
                     group.get("uuid"), describe(exc))
            return None
        return host_list

    def group_member_hosts(self, group_uuid, exclude=None):
        """The hosts of the server group's live members (every cell) but
        ``exclude``, one entry per member (None: on no host yet). Needs the
        API database."""
        members = set(instance_groups.get(self.api_url, group_uuid)["members"]) - {exclude}
        hosts = []
        for url in self._cell_urls():
            hosts.extend(instances.hosts_of(url, members).values())
        return hosts

    def _group_allows(self, spec, uuid, alternates):
        """The alternates a server group's policy still allows, as its
        members are placed now (the scheduler chose them before the other
        members' builds went anywhere: with two schedulers at work, the
        first alternates of every member tend to be the same hosts). Without
        the API database, all of them: the compute's late check refuses."""
        group = spec.get("instance_group") or {}
        if group.get("policy") not in ("anti-affinity", "affinity") or not self.api_url:
            return alternates
        try:
            hosts = self.group_member_hosts(group["uuid"], exclude=uuid)
        except Exception as exc:  # the alternates as they are; the compute checks again
            LOG.warning("Cannot read server group %s: %s", group["uuid"], describe(exc))
            return alternates
        if group["policy"] == "anti-affinity":
            limit = int((group.get("rules") or {}).get("max_server_per_host", 1))
            return [s for s in alternates if hosts.count(s["host"]) < limit]
        taken = {host for host in hosts if host}
        return [s for s in alternates if not taken or s["host"] in taken]

    def _build_failed(self, context, uuid, message, url=None, details=None):
        """The build is over: ERROR with a fault, in the cell at ``url``
        (default: this conductor's). Never raises: a database that does not
        answer leaves the instance in BUILD, logged (the compute's
        [DEFAULT] instance_build_timeout ends it once it was claimed)."""
        url = url or self.db_url
        LOG.warning("Instance %s is in ERROR: %s", uuid, message)
        try:
            instances.update(url, uuid, {"vm_state": vm_states.ERROR, "task_state": None})
            instance_actions.fault_create(url, instance_uuid=uuid, code=500, message=message,
                                          details=details or message)
        except record_exc.InstanceNotFound:
            return
        except Exception as exc:
            LOG.error("Cannot put instance %s in ERROR: %s", uuid, describe(exc))


@contextlib.contextmanager
def _admitted(conf, api_url, cell_urls, instance, group_uuid):
    with quotas.project_lock(api_url, instance["project_id"]) as locked:
        # Counted after the lock was taken, each cell in a transaction of its own.
        quotas.recheck(conf, api_url, cell_urls, instance, locked)
        if group_uuid:
            quotas.recheck_group_members(conf, api_url, cell_urls, instance, group_uuid)
        yield


def fault_text(exc):
    """A fault's message, as upstream writes it: the message of the
    service's own errors; of any other exception only its class name (a
    driver's or the database's text may hold what users must not see; the
    fault's details keep the traceback for admins)."""
    text = str(exc).splitlines()  # the first line: a remote error's text has its traceback
    if type(exc).__module__.startswith("nova_runtime.") and text:
        return text[0]
    return type(exc).__name__


def describe(exc):
    """One line for the log: the exception's class and text."""
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


# An instance record's columns that identify it and count against quotas.
ESSENTIAL = ("uuid", "project_id", "user_id", "vm_state", "task_state", "power_state",
             "memory_mb", "vcpus", "root_gb", "ephemeral_gb", "instance_type_id",
             "reservation_id", "launch_index", "image_ref", "availability_zone")


def essential(values):
    kept = {key: value for key, value in values.items() if key in ESSENTIAL}
    kept["display_name"] = (values.get("display_name") or "")[:255]  # VARCHAR(255)
    return kept


def fault_message(exc):
    """A NoValidHost's fault message: its reason and the filter that removed
    the last hosts ("No valid host was found: RamFilter: 3 -> 0 host(s), ...")."""
    reason, *lines = str(exc).split("\n")
    return f"{reason}: {lines[-1].strip()}" if lines else reason


def split_instance(instance):
    """A build request's instance (as nova_runtime.compute.api writes it) as
    (instances columns, flavor, metadata, system_metadata, tags)."""
    values = dict(instance)
    flavor = values.pop("flavor", None)
    metadata = values.pop("metadata", None) or {}
    system_metadata = values.pop("system_metadata", None) or {}
    tags = values.pop("tags", None) or []
    return values, flavor, metadata, system_metadata, tags
