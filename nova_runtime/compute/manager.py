"""nova-compute's manager: the virt driver, the resource tracker, and the RPC
endpoint on topic 'compute' (server: this host).

It has no database access: records come and go through nova-conductor.

The instance lifecycle (RPC 1.1, all casts). Each call records its step as an
action event (compute_<method>) on the action that the caller's request
started, and works on one instance at a time (a lock per instance):

- build_and_run_instance: claim on the node within the scheduler's limits,
  task_state spawning, driver.spawn, then vm_state active, power_state
  running. When the claim or the spawn fails, the event and a fault record
  the error, the claim is released, and the build goes back to this cell's
  nova-conductor (build_instances) with the remaining alternates: it tries
  the next one, or puts the instance in ERROR once none is left.
- terminate_instance: driver.destroy, then the record is soft-deleted
  (vm_state deleted) and the node's usage reported.
- stop_instance / start_instance: driver.power_off / power_on, then vm_state
  stopped / active with the driver's power state.
"""

import contextlib
import logging
import threading
import traceback

import oslo_messaging as messaging

from nova_runtime import rpc, service
from nova_runtime.compute import power_state, resource_tracker, task_states, vm_states
from nova_runtime.conductor import rpcapi as conductor_rpcapi
from nova_runtime.db.base import utcnow
from nova_runtime.objects import exceptions as record_exc
from nova_runtime.virt import exceptions as virt_exc

LOG = logging.getLogger(__name__)

# A clean shutdown asks the guest first (upstream's [DEFAULT] shutdown_timeout
# and its retry interval).
SHUTDOWN_TIMEOUT = 60
SHUTDOWN_RETRY_INTERVAL = 10

# The instance was deleted while this compute worked on it.
_GONE = (record_exc.InstanceNotFound, record_exc.UnexpectedTaskState)


class ComputeManager(service.Manager):
    target = messaging.Target(version="1.1")

    def __init__(self, conf, host, driver, conductor):
        super().__init__(conf, host)
        self.driver = driver
        self.conductor = conductor
        self.resource_tracker = resource_tracker.ResourceTracker(conf, host, driver, conductor)
        self._locks = {}  # instance uuid -> [lock, users]
        self._locks_guard = threading.Lock()

    def init_host(self, context):
        try:
            self.driver.init_host(self.host)
        except virt_exc.HypervisorUnavailable as exc:
            raise service.Unavailable(f"the hypervisor: {exc}") from None
        self._update_available_resource(context)

    def periodic_tasks(self, context):
        self._update_available_resource(context)

    def cleanup_host(self):
        self.driver.cleanup_host(self.host)

    def _update_available_resource(self, context):
        with conductor_rpcapi.conductor_errors():
            return self.resource_tracker.update_available_resource(context, self.service["id"])

    # --- RPC API 1.0 ----------------------------------------------------------------

    @rpc.expose
    def ping(self, context):
        answer = super().ping(context)
        answer.update(driver=type(self.driver).__name__,
                      nodes=self.driver.get_available_nodes())
        return answer

    @rpc.expose
    def refresh_resources(self, context):
        return self._update_available_resource(context)

    # --- RPC API 1.1: build -------------------------------------------------------------

    @rpc.expose
    def build_and_run_instance(self, context, instance, node, limits, image, request_spec,
                               host_list, admin_password=None, injected_files=None,
                               requested_networks=None):
        uuid = instance["uuid"]
        event = "compute_build_and_run_instance"
        with self._instance_lock(uuid):
            self._event_start(context, uuid, event)
            try:
                self._claim_and_spawn(context, instance, node, limits, image,
                                      admin_password, injected_files or [])
            except _GONE:
                LOG.info("Instance %s was deleted during its build on %s", uuid, self.host)
                self._event_finish(context, uuid, event, "Error", traceback.format_exc())
                return
            except Exception as exc:
                details = traceback.format_exc()
                reason = _reason(exc)
                LOG.warning("Build of instance %s failed on %s: %s", uuid, self.host, reason)
                self._event_finish(context, uuid, event, "Error", details)
                self._fault(context, uuid, exc, details)
                self._reschedule(context, instance, request_spec, host_list, image,
                                 admin_password, injected_files, requested_networks, reason)
                return
            self._event_finish(context, uuid, event, "Success")
            LOG.info("Instance %s is active on %s (node %s)", uuid, self.host, node)

    def _claim_and_spawn(self, context, instance, node, limits, image, admin_password,
                         injected_files):
        uuid = instance["uuid"]
        instance = self.resource_tracker.instance_claim(
            context, self.service["id"], instance, node, limits)
        try:
            instance = self.conductor.instance_update(
                context, uuid, {"vm_state": vm_states.BUILDING,
                                "task_state": task_states.SPAWNING},
                expected_task_states=[task_states.SCHEDULING])
            self.driver.spawn(context, instance, image or {}, injected_files, admin_password,
                              network_info=[])
            state = self.driver.get_info(instance).state
            return self.conductor.instance_update(
                context, uuid, {"vm_state": vm_states.ACTIVE, "task_state": None,
                                "power_state": state, "launched_at": utcnow()},
                expected_task_states=[task_states.SPAWNING])
        except BaseException:
            self._undo_build(context, instance, node)
            raise

    def _undo_build(self, context, instance, node):
        """Remove what a failed build left: the domain, if any, and the claim."""
        try:
            self.driver.destroy(context, instance, network_info=[])
        except Exception:
            LOG.exception("Cannot clean up instance %s after its failed build",
                          instance["uuid"])
        self.resource_tracker.abort_instance_claim(
            context, self.service["id"], instance, node)

    def _reschedule(self, context, instance, request_spec, host_list, image, admin_password,
                    injected_files, requested_networks, reason):
        uuid = instance["uuid"]
        try:
            instance = self.conductor.instance_update(
                context, uuid, {"vm_state": vm_states.BUILDING,
                                "task_state": task_states.SCHEDULING},
                expected_task_states=[task_states.SCHEDULING, task_states.SPAWNING])
        except _GONE:
            LOG.info("Not rescheduling instance %s: it was deleted", uuid)
            return
        try:
            self.conductor.build_instances(
                context, [instance], request_spec, [host_list], image=image,
                admin_password=admin_password, injected_files=injected_files,
                requested_networks=requested_networks, reason=reason)
        except (messaging.MessagingException, rpc.ServiceTooOld) as exc:
            LOG.error("Cannot reschedule instance %s: %s", uuid, exc)
            self._set_error(context, uuid)

    # --- RPC API 1.1: delete, stop, start -----------------------------------------------

    @rpc.expose
    def terminate_instance(self, context, instance):
        uuid = instance["uuid"]
        event = "compute_terminate_instance"
        with self._instance_lock(uuid):
            self._event_start(context, uuid, event)
            try:
                instance = self.conductor.instance_get_by_uuid(context, uuid)
                self.driver.destroy(context, instance, network_info=[])
                self.conductor.instance_destroy(
                    context, uuid, {"vm_state": vm_states.DELETED, "task_state": None,
                                    "power_state": power_state.NOSTATE,
                                    "terminated_at": utcnow()})
            except record_exc.InstanceNotFound:
                LOG.info("Instance %s was deleted already", uuid)
            except Exception as exc:
                self._failed(context, uuid, event, exc, vm_states.ERROR)
                return
            if instance.get("node") and instance.get("host") == self.host:
                self.resource_tracker.update_node(context, self.service["id"], instance["node"])
            self._event_finish(context, uuid, event, "Success")
            LOG.info("Instance %s deleted from %s", uuid, self.host)

    @rpc.expose
    def stop_instance(self, context, instance, clean_shutdown=True):
        def power_off(record):
            timeout = SHUTDOWN_TIMEOUT if clean_shutdown else 0
            self.driver.power_off(record, timeout, SHUTDOWN_RETRY_INTERVAL)

        self._power(context, instance["uuid"], "compute_stop_instance", power_off,
                    task_states.POWERING_OFF, vm_states.STOPPED)

    @rpc.expose
    def start_instance(self, context, instance):
        def power_on(record):
            self.driver.power_on(context, record, network_info=[])

        self._power(context, instance["uuid"], "compute_start_instance", power_on,
                    task_states.POWERING_ON, vm_states.ACTIVE)

    def _power(self, context, uuid, event, action, task_state, vm_state):
        with self._instance_lock(uuid):
            self._event_start(context, uuid, event)
            try:
                instance = self.conductor.instance_get_by_uuid(context, uuid)
                action(instance)
                self.conductor.instance_update(
                    context, uuid, {"vm_state": vm_state, "task_state": None,
                                    "power_state": self.driver.get_info(instance).state},
                    expected_task_states=[task_state])
            except _GONE:
                LOG.info("Instance %s was deleted during %s", uuid, event)
                self._event_finish(context, uuid, event, "Error", traceback.format_exc())
                return
            except Exception as exc:
                self._failed(context, uuid, event, exc, vm_state=None)
                return
            self._event_finish(context, uuid, event, "Success")

    # --- helpers ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _instance_lock(self, uuid):
        with self._locks_guard:
            entry = self._locks.setdefault(uuid, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._locks_guard:
                entry[1] -= 1
                if not entry[1]:
                    del self._locks[uuid]

    def _failed(self, context, uuid, event, exc, vm_state):
        """A lifecycle step failed: log, fault, event Error, and the task
        state cleared (vm_state set too when given)."""
        details = traceback.format_exc()
        LOG.error("%s of instance %s failed: %s", event, uuid, _reason(exc))
        self._fault(context, uuid, exc, details)
        values = {"task_state": None}
        if vm_state is not None:
            values["vm_state"] = vm_state
        self._quietly(self.conductor.instance_update, context, uuid, values)
        self._event_finish(context, uuid, event, "Error", details)

    def _set_error(self, context, uuid):
        self._quietly(self.conductor.instance_update, context, uuid,
                      {"vm_state": vm_states.ERROR, "task_state": None})

    def _fault(self, context, uuid, exc, details):
        self._quietly(self.conductor.instance_fault_create, context, uuid, 500, _reason(exc),
                      details=details, host=self.host)

    def _event_start(self, context, uuid, event):
        self._quietly(self.conductor.action_event_start, context, uuid, event, host=self.host)

    def _event_finish(self, context, uuid, event, result, details=None):
        self._quietly(self.conductor.action_event_finish, context, uuid, event, result,
                      traceback=details)

    @staticmethod
    def _quietly(function, *args, **kwargs):
        """Bookkeeping (events, faults) must not stop the work: failures are logged."""
        try:
            return function(*args, **kwargs)
        except (record_exc.RecordError, messaging.MessagingException) as exc:
            LOG.warning("%s failed: %s", function.__name__, exc)
        return None


def _reason(exc):
    return str(exc) or type(exc).__name__
