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
"""

import copy
import logging
import traceback

from nova_runtime import cells, placement, rpc
from nova_runtime.compute import rpcapi as compute_rpcapi
from nova_runtime.compute import task_states, vm_states
from nova_runtime.network import api as network_api
from nova_runtime.objects import availability_zones, build_requests, instance_actions, instances
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
        self._computes = {}  # transport URL -> compute_rpcapi.ComputeAPI
        self._cells = cells.CellCache(api_url) if api_url else None
        # Instances' claims in Placement (does nothing when [placement] has no auth_type).
        self.allocations = placement.Allocations.from_conf(conf)

    @property
    def scheduler(self):
        if self._scheduler is None:
            self._scheduler = scheduler_rpcapi.SchedulerAPI(rpc.get_transport(self.conf))
        return self._scheduler

    def compute_api(self, cell=None):
        """The compute RPC client over ``cell``'s message queue (default: this
        conductor's own, which is its cell's)."""
        url = cell.transport_url if cell is not None else self.conf.transport_url
        if url not in self._computes:
            transport = (rpc.get_cell_transport(self.conf, cell) if cell is not None
                         else rpc.get_transport(self.conf))
            self._computes[url] = compute_rpcapi.ComputeAPI(transport)
        return self._computes[url]

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
        for uuid, host_list in zip(instance_uuids, host_lists):
            try:
                self._build_in_cell(context, uuid, request_spec, host_list, image,
                                    admin_password, injected_files, requested_networks)
            except Exception as exc:
                LOG.exception("Cannot build instance %s on %s", uuid, host_list[0]["host"])
                self.allocations.release(uuid)
                self._bury_in_cell0(context, uuid, exc, f"Build failed: {exc}",
                                    traceback.format_exc())

    def _build_in_cell(self, context, uuid, request_spec, host_list, image, admin_password,
                       injected_files, requested_networks):
        selection, alternates = host_list[0], host_list[1:]
        host, node = selection["host"], selection["nodename"]
        cell = self._cells.get(selection["cell_uuid"])
        try:
            request = build_requests.get(self.api_url, uuid)
        except record_exc.BuildRequestNotFound:
            LOG.info("Instance %s was deleted before it reached a cell", uuid)
            return
        values, flavor, metadata, system_metadata = split_instance(request["instance"])
        if not values.get("availability_zone"):
            values["availability_zone"] = availability_zones.host_zone(
                self.api_url, host, self.conf.default_availability_zone)
        url = cell.database_connection
        instance = instances.create(url, values, flavor=flavor, metadata=metadata,
                                    system_metadata=system_metadata)
        if not build_requests.mark_placed(self.api_url, uuid, cell.id):
            LOG.info("Instance %s was deleted while it was scheduled", uuid)
            self.allocations.release(uuid)
            instances.destroy(url, uuid, {"vm_state": vm_states.DELETED, "task_state": None})
            return
        # From here on the instance is found in its cell: a failure leaves it there, in ERROR.
        spec = dict(copy.deepcopy(request_spec), instance_uuid=uuid, num_instances=1,
                    retry={"num_attempts": 1, "hosts": [[host, node]]})
        try:
            self._record_create(context, url, instance, result="Success")
            # Its fixed address, before the compute plugs it in (no address left: ERROR).
            network_api.allocate_for_instance(self.conf, url, uuid)
            self.compute_api(cell).build_and_run_instance(
                context, host, instance, node=node, limits=selection["limits"], image=image,
                request_spec=spec, host_list=alternates, admin_password=admin_password,
                injected_files=injected_files, requested_networks=requested_networks)
        except Exception as exc:
            LOG.exception("Cannot send instance %s to %s", uuid, host)
            self._build_failed(context, uuid, f"Build failed: {exc}", url)
            return
        LOG.info("Instance %s goes to %s (node %s) in cell %s, with %d alternate(s)",
                 uuid, host, node, cell.name or cell.uuid, len(alternates))

    def _bury_in_cell0(self, context, uuid, exc, message, details):
        """The instance could not reach a cell: keep it in cell0, in ERROR."""
        try:
            cell0 = self._cells.get(cells.CELL0_UUID)
            try:
                request = build_requests.get(self.api_url, uuid)
            except record_exc.BuildRequestNotFound:
                return  # deleted by its user meanwhile: nothing to keep
            values, flavor, metadata, system_metadata = split_instance(request["instance"])
            values.update(vm_state=vm_states.ERROR, task_state=None)
            url = cell0.database_connection
            instance = instances.create(url, values, flavor=flavor, metadata=metadata,
                                        system_metadata=system_metadata)
            self._record_create(context, url, instance, result="Error", details=details)
            instance_actions.fault_create(url, instance_uuid=uuid, code=500, message=message,
                                          details=details)
            if not build_requests.mark_placed(self.api_url, uuid, cell0.id):
                instances.destroy(url, uuid, {"vm_state": vm_states.DELETED})
                return
        except Exception:
            LOG.exception("Cannot put instance %s in cell0 after: %s", uuid, message)
            return
        LOG.info("Instance %s is in ERROR in cell0: %s", uuid, message)

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
                LOG.exception("Cannot reschedule instance %s", instance["uuid"])
                self._build_failed(context, instance["uuid"], f"Reschedule failed: {exc}")

    def _reschedule(self, context, instance, request_spec, host_list, image, admin_password,
                    injected_files, requested_networks, reason):
        uuid = instance["uuid"]
        spec = copy.deepcopy(request_spec)
        retry = spec.setdefault("retry", {"num_attempts": 1, "hosts": []})
        tried = {tuple(pair) for pair in retry["hosts"]}
        max_attempts = self.conf.scheduler.max_attempts
        alternates = [s for s in host_list if (s["host"], s["nodename"]) not in tried]
        self.allocations.release(uuid)  # the failed host's claim in Placement
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
        # With Placement: the first alternate on which its resources can still be claimed.
        claimed = self.allocations.claim_alternate(uuid, spec, alternates)
        if claimed is None:
            self._build_failed(context, uuid, "No alternate host has room left in Placement "
                               f"for instance {uuid}. Last failure: {reason}")
            return
        selection, rest = claimed
        retry["num_attempts"] += 1
        retry["hosts"].append([selection["host"], selection["nodename"]])
        LOG.info("Rescheduling instance %s to %s (attempt %d of %d) after: %s", uuid,
                 selection["host"], retry["num_attempts"], max_attempts, reason)
        self.compute_api().build_and_run_instance(
            context, selection["host"], instance, node=selection["nodename"],
            limits=selection["limits"], image=image, request_spec=spec, host_list=rest,
            admin_password=admin_password, injected_files=injected_files,
            requested_networks=requested_networks)

    def _build_failed(self, context, uuid, message, url=None):
        """The build is over: ERROR with a fault, in the cell at ``url``
        (default: this conductor's)."""
        url = url or self.db_url
        LOG.warning("Instance %s is in ERROR: %s", uuid, message)
        try:
            instances.update(url, uuid, {"vm_state": vm_states.ERROR, "task_state": None})
        except record_exc.InstanceNotFound:
            return
        instance_actions.fault_create(url, instance_uuid=uuid, code=500, message=message,
                                      details=message)


def fault_message(exc):
    """A NoValidHost's fault message: its reason and the filter that removed
    the last hosts ("No valid host was found: RamFilter: 3 -> 0 host(s), ...")."""
    reason, *lines = str(exc).split("\n")
    return f"{reason}: {lines[-1].strip()}" if lines else reason


def split_instance(instance):
    """A build request's instance (as nova_runtime.compute.api writes it) as
    (instances columns, flavor, metadata, system_metadata)."""
    values = dict(instance)
    flavor = values.pop("flavor", None)
    metadata = values.pop("metadata", None) or {}
    system_metadata = values.pop("system_metadata", None) or {}
    return values, flavor, metadata, system_metadata
