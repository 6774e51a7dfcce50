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
  (vm_state deleted), its Placement allocations deleted and the node's
  usage reported.
- stop_instance / start_instance: driver.power_off / power_on, then vm_state
  stopped / active with the driver's power state.

RPC 1.2 (casts; a failure records a fault and the event's error):

- reboot_instance: task_state reboot_pending(_hard), reboot_started(_hard),
  driver.reboot, vm_state active. A failed reboot leaves a guest that still
  runs ACTIVE, any other in ERROR (as upstream).
- pause/unpause/suspend/resume_instance: the driver's call, then vm_state
  paused / active / suspended / active; a failure only clears the task.
- rebuild_instance: the driver's own rebuild, or destroy (task_state
  rebuild_block_device_mapping) and spawn (rebuild_spawning) from the new
  image; a stopped instance is stopped again. A failure puts it in ERROR.
- snapshot_instance: task_state image_snapshot; the driver captures the disk
  (image_pending_upload) and this compute uploads it to the Glance image
  that the API created, with the user's token (image_uploading); then no
  task. A failure deletes the image and only clears the task.
- resize and cold migration: see compute.resize.

RPC 1.9 (casts): shelve.

- shelve_instance: power off, snapshot into the Glance image the API made
  (task_state shelving, then the upload's two steps as shelving_image_*),
  system metadata shelved_at, shelved_image_id, shelved_host, vm_state
  shelved; with [DEFAULT] shelved_offload_time 0 offloaded at once. A
  failure deletes the image and only clears the task.
- shelve_offload_instance: the guest destroyed, its Placement allocations
  released, the node's usage reported, host and node None: vm_state
  shelved_offloaded. A periodic task offloads what stayed shelved longer
  than shelved_offload_time (> 0; -1 never).
- unshelve_instance: a shelved instance of this host is powered on; a
  shelved-offloaded one, sent here by the super-conductor, is claimed on
  the node and spawned from its shelved image. Then vm_state active, the
  image deleted, the shelved_* system metadata removed. A failed spawn
  leaves it shelved_offloaded (on no host, nothing claimed) with a fault.

At start (init_host), before it serves: what the previous process left
half-done on this host is finished, undone or put in ERROR with a fault, by
compute.recovery's rules, and guests of instances deleted meanwhile are
destroyed. [DEFAULT] instance_build_timeout: a periodic task puts builds
older than that in ERROR. The same task ends, whatever that timeout, a
build no thread here works on any more (its end could not be recorded), and
does a delete whose cast never arrived.

A member of an affinity or anti-affinity server group is checked against
the group once claimed (upstream's _validate_instance_group_policy): one
that breaks the policy is refused and rescheduled. The claim and the check
are one step per group here, so of two members sent to this host at once
the first is kept and only the second refused.
"""

import contextlib
import datetime
import logging
import os
import tempfile
import threading
import traceback

import oslo_messaging as messaging

from nova_runtime import rpc, service
from nova_runtime.compute import recovery, resize, resource_tracker
from nova_runtime.states import power_state, task_states
from nova_runtime.states import vm_states
from nova_runtime.conductor import rpcapi as conductor_rpcapi
from nova_runtime.db.base import utcnow
from nova_runtime.objects import console_auth_tokens, exceptions as record_exc
from nova_runtime.image import glance
from nova_runtime.virt import configdrive, driver as virt_driver, exceptions as virt_exc

LOG = logging.getLogger(__name__)

# A clean shutdown asks the guest first (upstream's [DEFAULT] shutdown_timeout
# and its retry interval).
SHUTDOWN_TIMEOUT = 60
SHUTDOWN_RETRY_INTERVAL = 10

# The instance was deleted while this compute worked on it.
_GONE = (record_exc.InstanceNotFound, record_exc.UnexpectedTaskState)

# A snapshot's task states (the driver reports the middle one), and a shelve's.
_SNAPSHOT_STEPS = (task_states.IMAGE_SNAPSHOT, task_states.IMAGE_PENDING_UPLOAD,
                   task_states.IMAGE_UPLOADING)
_SHELVE_STEPS = (task_states.SHELVING, task_states.SHELVING_IMAGE_PENDING_UPLOAD,
                 task_states.SHELVING_IMAGE_UPLOADING)
# The system metadata of a shelved instance.
_SHELVED_KEYS = ("shelved_at", "shelved_image_id", "shelved_host")


class ComputeManager(resize.ResizeMixin, service.Manager):
    target = messaging.Target(version="1.9")  # 1.9: shelve

    def __init__(self, conf, host, driver, conductor):
        super().__init__(conf, host)
        self.driver = driver
        self.conductor = conductor
        self.resource_tracker = resource_tracker.ResourceTracker(conf, host, driver, conductor)
        self._locks = {}  # instance uuid -> [lock, users]
        self._locks_guard = threading.Lock()
        self._group_locks = {}  # server group uuid -> lock of its late policy check
        self._shutdown_timeout = SHUTDOWN_TIMEOUT
        self._shutdown_retry_interval = SHUTDOWN_RETRY_INTERVAL

    def init_host(self, context):
        try:
            self.driver.init_host(self.host)
        except virt_exc.HypervisorUnavailable as exc:
            raise service.Unavailable(f"the hypervisor: {exc}") from None
        self._update_available_resource(context)  # first: the recovery's steps report nodes
        self._recover_instances(context)

    def periodic_tasks(self, context):
        self._update_available_resource(context)
        with conductor_rpcapi.conductor_errors():
            self._confirm_expired_resizes(context)
            self._check_instance_build_time(context)
            self._reclaim_queued_deletes(context)
            self._offload_shelved_instances(context)

    def _recover_instances(self, context):
        """Before serving: finish, undo or fail what the previous process
        left half-done on this host (compute.recovery's rules), and destroy
        the guests of instances deleted meanwhile. A conductor that does not
        answer makes init_host wait and run this again."""
        with conductor_rpcapi.conductor_errors():
            found = self.conductor.instance_get_all_by_host(context, self.host)
        for instance in found:
            try:
                with conductor_rpcapi.conductor_errors():
                    recovery.recover(self, context, instance)
            except service.Unavailable:
                raise
            except Exception as exc:  # one instance must not keep the host from starting
                LOG.error("Cannot recover instance %s: %s", instance["uuid"], _reason(exc))
        with conductor_rpcapi.conductor_errors():
            recovery.destroy_deleted_guests(self, context, {i["uuid"] for i in found})

    def _check_instance_build_time(self, context):
        """[DEFAULT] instance_build_timeout (as upstream's periodic task of that
        name): an instance of this host still building after that many
        seconds is in ERROR, here with a fault. 0: never.

        Before that, whatever the timeout: a build of this host in
        task_state spawning that no thread of this process works on (the
        build holds the instance's lock from its claim to its end) is one
        whose end could not be recorded (nova-conductor or the database did
        not answer then): it is in ERROR with a fault now."""
        found = self.conductor.instance_get_all_by_host(context, self.host)
        self._end_orphaned_builds(context, found)
        self._retry_lost_deletes(context, found)
        timeout = self.conf.instance_build_timeout
        if not timeout:
            return
        now = utcnow()
        for instance in found:
            created = instance.get("created_at")
            if instance["vm_state"] != vm_states.BUILDING or created is None or \
                    (now - created).total_seconds() < timeout:
                continue
            message = "Instance build timed out. Set to error state."
            # Only if its build did not move on meanwhile (a compare-and-swap).
            if self._quietly(self.conductor.instance_update, context, instance["uuid"],
                             {"vm_state": vm_states.ERROR, "task_state": None},
                             expected_task_states=[instance["task_state"]]) is None:
                continue
            LOG.warning("Instance %s: %s", instance["uuid"], message)
            self._fault(context, instance["uuid"], recovery.Interrupted(message), message)

    def _end_orphaned_builds(self, context, found):
        for instance in found:
            uuid = instance["uuid"]
            if instance["vm_state"] != vm_states.BUILDING or \
                    instance["task_state"] != task_states.SPAWNING:
                continue
            with self._locks_guard:
                if uuid in self._locks:
                    continue  # being built, or deleted, right now
            # Only if nothing moved it on since it was read (a compare-and-swap).
            if self._quietly(self.conductor.instance_update, context, uuid,
                             {"vm_state": vm_states.ERROR, "task_state": None},
                             expected_task_states=[task_states.SPAWNING]) is None:
                continue
            message = (f"Instance failed to spawn: its build on {self.host} ended while "
                       "nova-conductor or its database did not answer")
            LOG.warning("Instance %s: %s", uuid, message)
            self._fault(context, uuid, recovery.Interrupted(message), message)

    def _retry_lost_deletes(self, context, found):
        """An instance of this host in task_state deleting that no thread of
        this process works on, for longer than an RPC call may take: its
        terminate_instance cast was lost (RabbitMQ restarted, a queue not
        declared again yet): this compute deletes it now, as that cast
        would have."""
        wait = getattr(self.conf, "rpc_response_timeout", 60)
        now = utcnow()
        for instance in found:
            changed = instance.get("updated_at") or instance.get("created_at")
            if instance["task_state"] != task_states.DELETING or changed is None or \
                    (now - changed).total_seconds() < wait:
                continue
            with self._locks_guard:
                if instance["uuid"] in self._locks:
                    continue
            LOG.warning("Instance %s has been deleting since %s and this host never got "
                        "the request: deleting it now", instance["uuid"], changed)
            self.terminate_instance(context, instance)

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

    @rpc.expose
    def get_host_uptime(self, context):  # RPC API 1.4
        return self.driver.get_host_uptime()

    # --- RPC API 1.1: build -------------------------------------------------------------

    @rpc.expose
    def build_and_run_instance(self, context, instance, node, limits, image, request_spec,
                               host_list, admin_password=None, injected_files=None,
                               requested_networks=None):
        uuid = instance["uuid"]
        event = "compute_build_and_run_instance"
        with self._instance_lock(uuid):
            try:
                self._claim_and_spawn(context, instance, node, limits, image,
                                      admin_password, injected_files or [], event,
                                      group=(request_spec or {}).get("instance_group"))
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
            LOG.info("Instance %s is active on %s (node %s)", uuid, self.host, node)

    def _claim_and_spawn(self, context, instance, node, limits, image, admin_password,
                         injected_files, event, group=None):
        """Claim, spawn, ACTIVE: two conductor calls when all goes well. The
        claim starts the step ``event``, sets task_state spawning and brings
        the spawn info; the last update ends the step. A member of a server
        ``group`` (the request spec's) is checked against the group's policy
        once claimed (_validate_instance_group_policy)."""
        uuid = instance["uuid"]
        # Claim and check as one step: two members claimed here before either
        # was checked would each see the other, and both would be refused.
        with self._group_lock(group):
            try:
                claimed = self.resource_tracker.instance_claim(
                    context, self.service["id"], instance, node, limits,
                    also={"vm_state": vm_states.BUILDING, "task_state": task_states.SPAWNING},
                    event=event, config_drive=configdrive.required(self.conf, instance))
            except resource_tracker.ClaimFailed:
                self._event_start(context, uuid, event)  # refused here: no step yet
                raise
            instance = claimed["instance"]
            try:
                self._validate_instance_group_policy(context, instance, group)
            except BaseException:
                self._undo_build(context, instance, node)  # its host freed before the next check
                raise
        try:
            with self._spawn_info(context, instance, admin_password, injected_files,
                                  claimed["spawn_info"]) as (network_info, block_device_info):
                self.driver.spawn(context, instance, image or {}, injected_files,
                                  admin_password, network_info=network_info,
                                  block_device_info=block_device_info)
            state = self.driver.get_info(instance).state
            return self.conductor.instance_update(
                context, uuid, {"vm_state": vm_states.ACTIVE, "task_state": None,
                                "power_state": state, "launched_at": utcnow()},
                expected_task_states=[task_states.SPAWNING],
                finish_event={"event": event, "result": "Success"})
        except BaseException:
            self._undo_build(context, instance, node)
            raise

    def _validate_instance_group_policy(self, context, instance, group):
        """Upstream's late check: schedulers working at the same time (two
        workers, two hosts) each saw the group as it was before the other's
        choice, and may both have sent a member of an anti-affinity group
        here. Once this build has claimed (the instance's host is this one),
        the hosts of the group's other members are read again, one group at
        a time in this process: a member that would break the policy is
        refused (GroupPolicyViolated) and its build is rescheduled.
        Soft policies are only preferences: not checked. A conductor that
        cannot read the group (no [api_database] connection, an older one)
        lets the build go on, with a warning. The caller holds the group's
        lock (_group_lock)."""
        if not _hard_policy(group):
            return
        try:
            hosts = self.conductor.instance_group_hosts(context, group["uuid"],
                                                        exclude=instance["uuid"])
        except (record_exc.NotFound, rpc.ServiceTooOld) as exc:
            LOG.warning("Server group %s of instance %s not checked: %s", group["uuid"],
                        instance["uuid"], _reason(exc))
            return
        if group["policy"] == "anti-affinity":
            limit = int((group.get("rules") or {}).get("max_server_per_host", 1))
            if hosts.count(self.host) >= limit:
                raise GroupPolicyViolated("Anti-affinity instance group policy was violated.")
        elif any(hosts) and self.host not in hosts:
            raise GroupPolicyViolated("Affinity instance group policy was violated.")

    @contextlib.contextmanager
    def _group_lock(self, group):
        """This process's lock of a server group with a hard policy: its
        members' claims and late checks here, one at a time."""
        if not _hard_policy(group):
            yield
            return
        with self._locks_guard:
            lock = self._group_locks.setdefault(group["uuid"], threading.Lock())
        with lock:
            yield

    @contextlib.contextmanager
    def _spawn_info(self, context, instance, admin_password, injected_files, info=None):
        """(network_info, block_device_info) for driver.spawn: the instance's
        flat-network interfaces and, when it asked for one, its config drive,
        built here (from the conductor's facts, ``info`` when the caller has
        read them already) and removed once the driver has taken its copy."""
        info = info or self.conductor.instance_spawn_info(context, instance["uuid"])
        network_info = info["network_info"]
        if not configdrive.required(self.conf, instance):
            yield network_info, None
            return
        os.makedirs(self.conf.instances_path, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.conf.instances_path,
                                         prefix=".configdrive-") as workdir:
            path = configdrive.make_config_drive(
                self.conf, os.path.join(workdir, configdrive.FILE_NAME), instance,
                metadata=info["metadata"], flavor=info["flavor"],
                network_info=network_info, admin_password=admin_password,
                injected_files=injected_files)
            yield network_info, {"configdrive_path": path}

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
        except (record_exc.RecordError, messaging.MessagingException) as exc:
            # Still spawning and no longer locked: the next periodic round ends it.
            LOG.error("Cannot reschedule instance %s: %s", uuid, _reason(exc))
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
            self.resource_tracker.delete_allocations(uuid)  # its claim in Placement
            if instance.get("node") and instance.get("host") == self.host:
                try:
                    with conductor_rpcapi.conductor_errors():
                        self.resource_tracker.update_node(context, self.service["id"],
                                                          instance["node"])
                except service.Unavailable as exc:  # the next periodic report makes up for it
                    LOG.warning("Cannot report node %s after deleting instance %s: %s",
                                instance["node"], uuid, exc)
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

    @rpc.expose
    def soft_delete_instance(self, context, instance):  # 1.8
        def power_off(record):
            self.driver.power_off(record, SHUTDOWN_TIMEOUT, SHUTDOWN_RETRY_INTERVAL)

        self._power(context, instance["uuid"], "compute_soft_delete_instance", power_off,
                    task_states.SOFT_DELETING, vm_states.SOFT_DELETED)

    @rpc.expose
    def restore_instance(self, context, instance):  # 1.8
        def power_on(record):
            self.driver.power_on(context, record, network_info=[])

        self._power(context, instance["uuid"], "compute_restore_instance", power_on,
                    task_states.RESTORING, vm_states.ACTIVE)

    def _reclaim_queued_deletes(self, context):
        """[DEFAULT] reclaim_instance_interval (upstream's periodic task of
        that name): a SOFT_DELETED instance of this host deleted longer ago
        than that is deleted for good, as a delete request would."""
        interval = self.conf.reclaim_instance_interval
        if not interval:
            return
        now = utcnow()
        for instance in self.conductor.instance_get_all_by_host(context, self.host):
            deleted_at = instance.get("deleted_at")
            if (instance["vm_state"] != vm_states.SOFT_DELETED or instance["task_state"]
                    or deleted_at is None or (now - deleted_at).total_seconds() < interval):
                continue
            # Only if no restore began meanwhile (a compare-and-swap).
            if self._quietly(self.conductor.instance_update, context, instance["uuid"],
                             {"task_state": task_states.DELETING},
                             expected_task_states=[None]) is None:
                continue
            LOG.info("Reclaiming instance %s, soft-deleted at %s", instance["uuid"], deleted_at)
            self.terminate_instance(context, instance)

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
                self._interrupted(context, uuid, event)
                return
            except Exception as exc:
                self._failed(context, uuid, event, exc, vm_state=None)
                return
            self._event_finish(context, uuid, event, "Success")

    # --- RPC API 1.2: reboot, pause, suspend, rebuild, snapshot ---------------------------

    @rpc.expose
    def reboot_instance(self, context, instance, reboot_type):
        uuid = instance["uuid"]
        event = "compute_reboot_instance"
        soft = reboot_type == virt_driver.REBOOT_SOFT
        steps = ((task_states.REBOOTING, task_states.REBOOT_PENDING, task_states.REBOOT_STARTED)
                 if soft else (task_states.REBOOTING_HARD, task_states.REBOOT_PENDING_HARD,
                               task_states.REBOOT_STARTED_HARD))
        with self._instance_lock(uuid):
            self._event_start(context, uuid, event)
            try:
                record = self.conductor.instance_update(
                    context, uuid, {"task_state": steps[1]}, expected_task_states=list(steps))
                record = self.conductor.instance_update(
                    context, uuid, {"task_state": steps[2]}, expected_task_states=[steps[1]])
                self.driver.reboot(context, record, network_info=[], reboot_type=reboot_type)
                self.conductor.instance_update(
                    context, uuid, {"vm_state": vm_states.ACTIVE, "task_state": None,
                                    "power_state": self._power_state(record)},
                    expected_task_states=[steps[2]])
            except _GONE:
                self._interrupted(context, uuid, event)
                return
            except Exception as exc:
                # A guest still running after a failed reboot stays ACTIVE (as upstream).
                state = self._power_state(instance, default=power_state.NOSTATE)
                self._failed(context, uuid, event, exc,
                             vm_states.ACTIVE if state == power_state.RUNNING else vm_states.ERROR,
                             power_state=state)
                return
            self._event_finish(context, uuid, event, "Success")

    @rpc.expose
    def pause_instance(self, context, instance):
        self._power(context, instance["uuid"], "compute_pause_instance", self.driver.pause,
                    task_states.PAUSING, vm_states.PAUSED)

    @rpc.expose
    def unpause_instance(self, context, instance):
        self._power(context, instance["uuid"], "compute_unpause_instance", self.driver.unpause,
                    task_states.UNPAUSING, vm_states.ACTIVE)

    @rpc.expose
    def suspend_instance(self, context, instance):
        def suspend(record):
            self.driver.suspend(context, record)

        self._power(context, instance["uuid"], "compute_suspend_instance", suspend,
                    task_states.SUSPENDING, vm_states.SUSPENDED)

    @rpc.expose
    def resume_instance(self, context, instance):
        def resume(record):
            self.driver.resume(context, record, network_info=[])

        self._power(context, instance["uuid"], "compute_resume_instance", resume,
                    task_states.RESUMING, vm_states.ACTIVE)

    @rpc.expose
    def rebuild_instance(self, context, instance, image, admin_password=None):
        uuid = instance["uuid"]
        event = "compute_rebuild_instance"
        with self._instance_lock(uuid):
            self._event_start(context, uuid, event)
            try:
                record = self.conductor.instance_get_by_uuid(context, uuid)
                self._rebuild(context, record, image or {}, admin_password)
            except _GONE:
                self._interrupted(context, uuid, event)
                return
            except Exception as exc:
                self._failed(context, uuid, event, exc, vm_states.ERROR,
                             power_state=self._power_state(instance, power_state.NOSTATE))
                return
            self._event_finish(context, uuid, event, "Success")
            LOG.info("Instance %s rebuilt from image %s", uuid, image.get("id"))

    def _rebuild(self, context, record, image, admin_password):
        """The driver's own rebuild, or destroy and spawn; a stopped instance
        is powered off again (vm_state stays stopped, as upstream)."""
        uuid = record["uuid"]
        stopped = record["vm_state"] == vm_states.STOPPED
        record = self.conductor.instance_update(
            context, uuid, {"task_state": task_states.REBUILD_BLOCK_DEVICE_MAPPING},
            expected_task_states=[task_states.REBUILDING])
        try:
            info = self.conductor.instance_spawn_info(context, uuid)
            self.driver.rebuild(context, record, image, [], admin_password,
                                network_info=info["network_info"])
            step = task_states.REBUILD_BLOCK_DEVICE_MAPPING
        except virt_exc.NotSupported:
            self.driver.destroy(context, record, network_info=[])
            record = self.conductor.instance_update(
                context, uuid, {"task_state": task_states.REBUILD_SPAWNING},
                expected_task_states=[task_states.REBUILD_BLOCK_DEVICE_MAPPING])
            with self._spawn_info(context, record, admin_password, [],
                                  info=info) as (network_info, block_device_info):
                self.driver.spawn(context, record, image, [], admin_password,
                                  network_info=network_info,
                                  block_device_info=block_device_info)
            step = task_states.REBUILD_SPAWNING
        if stopped:
            self.driver.power_off(record, 0, 0)
        self.conductor.instance_update(
            context, uuid, {"vm_state": vm_states.STOPPED if stopped else vm_states.ACTIVE,
                            "task_state": None, "power_state": self._power_state(record),
                            "launched_at": utcnow()},
            expected_task_states=[step])

    @rpc.expose
    def snapshot_instance(self, context, instance, image_id):
        self._capture(context, instance["uuid"], image_id, "compute_snapshot_instance",
                      task_states.IMAGE_SNAPSHOT_PENDING)

    @rpc.expose
    def backup_instance(self, context, instance, image_id, backup_type, rotation):  # 1.8
        if self._capture(context, instance["uuid"], image_id, "compute_backup_instance",
                         task_states.IMAGE_BACKUP):
            self._rotate_backups(context, instance["uuid"], backup_type, rotation)

    def _rotate_backups(self, context, uuid, backup_type, rotation):
        """Delete the oldest backups of ``backup_type`` of the instance until
        ``rotation`` remain (upstream's _rotate_backups); Glance lists newest
        first. A backup that cannot be deleted stays, with a warning."""
        try:
            backups = glance.list_images(context, {"instance_uuid": uuid,
                                                   "image_type": "backup",
                                                   "backup_type": backup_type,
                                                   "sort_key": "created_at",
                                                   "sort_dir": "desc"}, conf=self.conf)
        except glance.ImageError as exc:
            LOG.warning("Cannot list the backups of instance %s to rotate them: %s", uuid, exc)
            return
        for image in backups[rotation:]:
            LOG.info("Instance %s: deleting backup %s (rotation %d)", uuid, image["id"],
                     rotation)
            self._quietly_delete_image(context, image["id"])

    def _capture(self, context, uuid, image_id, event, pending):
        """snapshot_instance and backup_instance: True once the image is uploaded."""
        with self._instance_lock(uuid):
            self._event_start(context, uuid, event)
            try:
                record = self.conductor.instance_update(
                    context, uuid, {"task_state": task_states.IMAGE_SNAPSHOT},
                    expected_task_states=[pending])
                self._snapshot(context, record, image_id)
                self.conductor.instance_update(
                    context, uuid, {"task_state": None},
                    expected_task_states=[task_states.IMAGE_UPLOADING])
            except Exception as exc:
                self._quietly_delete_image(context, image_id)
                if isinstance(exc, _GONE):
                    self._interrupted(context, uuid, event)
                else:
                    self._failed(context, uuid, event, exc, vm_state=None)
                return False
            self._event_finish(context, uuid, event, "Success")
            LOG.info("Instance %s snapshot uploaded as image %s", uuid, image_id)
            return True

    def _snapshot(self, context, record, image_id, steps=_SNAPSHOT_STEPS):
        """The driver captures the disk (task_state image_pending_upload);
        this compute uploads it to Glance with the user's token
        (image_uploading); the caller ends the task. ``steps``: the names of
        the three task states (a shelve's own, as upstream's shelve maps
        them)."""
        uuid = record["uuid"]
        named = dict(zip(_SNAPSHOT_STEPS, steps))

        def update_task_state(task_state, expected_state=task_states.IMAGE_SNAPSHOT):
            self.conductor.instance_update(context, uuid, {"task_state": named[task_state]},
                                           expected_task_states=[named[expected_state]])

        snapshot = self.driver.snapshot(context, record, image_id, update_task_state)
        self.conductor.instance_update(
            context, uuid, {"task_state": steps[2]}, expected_task_states=list(steps[1:]))
        glance.set_formats(context, image_id, snapshot.disk_format, snapshot.container_format,
                           conf=self.conf)
        try:
            glance.upload(context, image_id, snapshot.data, conf=self.conf)
        finally:
            if hasattr(snapshot.data, "close"):
                snapshot.data.close()

    def _quietly_delete_image(self, context, image_id):
        """A failed snapshot leaves no half-made image behind (as upstream),
        nor an unshelved server its shelved image."""
        try:
            glance.delete(context, image_id, conf=self.conf)
        except glance.ImageError as exc:
            LOG.warning("Cannot delete image %s: %s", image_id, exc)

    # --- RPC API 1.9: shelve ------------------------------------------------------------

    @rpc.expose
    def shelve_instance(self, context, instance, image_id, clean_shutdown=True):
        uuid = instance["uuid"]
        event = "compute_shelve_instance"
        offload = self.conf.shelved_offload_time == 0
        with self._instance_lock(uuid):
            self._event_start(context, uuid, event)
            record = None
            try:
                record = self.conductor.instance_get_by_uuid(context, uuid)
                record = self._shelve(context, record, image_id, clean_shutdown, offload)
            except Exception as exc:
                self._quietly_delete_image(context, image_id)
                if isinstance(exc, _GONE):
                    self._interrupted(context, uuid, event)
                else:  # as upstream: the task goes, the vm_state stays
                    self._failed(context, uuid, event, exc, vm_state=None,
                                 power_state=self._power_state(record or instance,
                                                               power_state.NOSTATE))
                return
            LOG.info("Instance %s shelved into image %s", uuid, image_id)
            if offload and not self._offload(context, record, event, clean_shutdown=False):
                return
            self._event_finish(context, uuid, event, "Success")

    def _shelve(self, context, record, image_id, clean_shutdown, offload):
        """Power off, snapshot, SHELVED (already shelving_offloading when the
        offload follows at once, as upstream)."""
        uuid = record["uuid"]
        timeout = SHUTDOWN_TIMEOUT if clean_shutdown else 0
        self.driver.power_off(record, timeout, SHUTDOWN_RETRY_INTERVAL)
        self._snapshot(context, record, image_id, steps=_SHELVE_STEPS)
        self.conductor.instance_system_metadata_update(context, uuid, {
            "shelved_at": utcnow().isoformat(), "shelved_image_id": image_id,
            "shelved_host": self.host})
        return self.conductor.instance_update(
            context, uuid, {"vm_state": vm_states.SHELVED,
                            "task_state": task_states.SHELVING_OFFLOADING if offload else None,
                            "power_state": self._power_state(record)},
            expected_task_states=[task_states.SHELVING_IMAGE_UPLOADING])

    @rpc.expose
    def shelve_offload_instance(self, context, instance, clean_shutdown=True):
        uuid = instance["uuid"]
        event = "compute_shelve_offload_instance"
        with self._instance_lock(uuid):
            self._event_start(context, uuid, event)
            try:
                record = self.conductor.instance_get_by_uuid(context, uuid)
            except _GONE:
                self._interrupted(context, uuid, event)
                return
            if self._offload(context, record, event, clean_shutdown):
                self._event_finish(context, uuid, event, "Success")

    def _offload(self, context, record, event, clean_shutdown):
        """The guest destroyed, then the instance on no host and its
        resources released (task_state shelving_offloading). True when done;
        a failure leaves it SHELVED with no task and a fault."""
        uuid = record["uuid"]
        node = record.get("node")
        try:
            try:
                self.driver.power_off(record, SHUTDOWN_TIMEOUT if clean_shutdown else 0,
                                      SHUTDOWN_RETRY_INTERVAL)
            except virt_exc.InstanceNotFound:
                pass  # gone already: offloading it again
            state = self._power_state(record, power_state.NOSTATE)
            self.driver.destroy(context, record, network_info=[])
            self.conductor.instance_update(
                context, uuid, {"vm_state": vm_states.SHELVED_OFFLOADED, "task_state": None,
                                "power_state": state, "host": None, "node": None},
                expected_task_states=[task_states.SHELVING_OFFLOADING])
        except _GONE:
            self._interrupted(context, uuid, event)
            return False
        except Exception as exc:
            self._failed(context, uuid, event, exc, vm_state=None)
            return False
        self._quietly(self.conductor.console_auth_tokens_destroy_for_instance, context, uuid)
        self._release(context, uuid, node)
        LOG.info("Instance %s offloaded from %s", uuid, self.host)
        return True

    def _release(self, context, uuid, node):
        """The instance left this host: its Placement allocations go, and
        the node's usage is reported now (the next periodic run makes up for
        a failure)."""
        self.resource_tracker.delete_allocations(uuid)
        if not node:
            return
        try:
            with conductor_rpcapi.conductor_errors():
                self.resource_tracker.update_node(context, self.service["id"], node)
        except service.Unavailable as exc:
            LOG.warning("Cannot report node %s after instance %s left it: %s", node, uuid, exc)

    def _offload_shelved_instances(self, context):
        """[DEFAULT] shelved_offload_time (upstream's _poll_shelved_instances):
        a SHELVED instance of this host shelved longer ago than that is
        offloaded. 0 (offloaded by the shelve itself) and -1: never here."""
        offload_time = self.conf.shelved_offload_time
        if offload_time <= 0:
            return
        now = utcnow()
        for instance in self.conductor.instance_get_all_by_host(context, self.host):
            if instance["vm_state"] != vm_states.SHELVED or instance["task_state"]:
                continue
            shelved_at = self._quietly(self.conductor.instance_system_metadata_get, context,
                                       instance["uuid"]) or {}
            shelved_at = _parse_time(shelved_at.get("shelved_at"))
            if shelved_at is None or (now - shelved_at).total_seconds() < offload_time:
                continue
            # Only if no unshelve began meanwhile (a compare-and-swap).
            if self._quietly(self.conductor.instance_update, context, instance["uuid"],
                             {"task_state": task_states.SHELVING_OFFLOADING},
                             expected_task_states=[None]) is None:
                continue
            LOG.info("Offloading instance %s, shelved at %s", instance["uuid"], shelved_at)
            self.shelve_offload_instance(context, instance, clean_shutdown=False)

    @rpc.expose
    def unshelve_instance(self, context, instance, image=None, node=None, limits=None,
                          request_spec=None):
        uuid = instance["uuid"]
        event = "compute_unshelve_instance"
        with self._instance_lock(uuid):
            self._event_start(context, uuid, event)
            offloaded = instance["vm_state"] == vm_states.SHELVED_OFFLOADED
            try:
                record = self.conductor.instance_get_by_uuid(context, uuid)
                offloaded = record["vm_state"] == vm_states.SHELVED_OFFLOADED
                if offloaded:
                    record = self._unshelve_spawn(context, record, image or {}, node, limits)
                else:
                    self.driver.power_on(context, record, network_info=[])
                self._unshelved(context, record)
            except _GONE:
                self._interrupted(context, uuid, event)
                return
            except Exception as exc:
                # As upstream: an offloaded one stays offloaded (nothing held
                # anywhere), a shelved one stays shelved; the task goes.
                self._failed(context, uuid, event, exc,
                             vm_states.SHELVED_OFFLOADED if offloaded else None)
                return
            self._event_finish(context, uuid, event, "Success")
            LOG.info("Instance %s unshelved on %s", uuid, self.host)

    def _unshelve_spawn(self, context, record, image, node, limits):
        """Claim on ``node`` and spawn from the shelved image; a failure
        leaves nothing here (guest, claim, allocations)."""
        uuid = record["uuid"]
        try:
            claimed = self.resource_tracker.instance_claim(
                context, self.service["id"], record, node, limits,
                config_drive=configdrive.required(self.conf, record),
                expected=(task_states.UNSHELVING,))
        except resource_tracker.ClaimFailed:
            self.resource_tracker.delete_allocations(uuid)  # the scheduler's claim
            raise
        record = claimed["instance"]
        try:
            with self._spawn_info(context, record, None, [],
                                  claimed["spawn_info"]) as (network_info, block_device_info):
                self.driver.spawn(context, record, image, [], None,
                                  network_info=network_info,
                                  block_device_info=block_device_info)
        except BaseException:
            self.undo_unshelve_claim(context, record, node)
            raise
        return record

    def undo_unshelve_claim(self, context, record, node):
        """A failed (or interrupted) unshelve on this host: no guest, no
        claim, no allocations left."""
        self._undo_build(context, record, node)
        self.resource_tracker.delete_allocations(record["uuid"])

    def _unshelved(self, context, record):
        """ACTIVE; the shelved image deleted and the shelved_* keys removed."""
        uuid = record["uuid"]
        image_id = self.conductor.instance_system_metadata_get(context, uuid).get(
            "shelved_image_id")
        self.conductor.instance_update(
            context, uuid, {"vm_state": vm_states.ACTIVE, "task_state": None,
                            "power_state": self._power_state(record),
                            "launched_at": utcnow()},
            expected_task_states=[task_states.UNSHELVING])
        self._quietly(self.conductor.instance_system_metadata_update, context, uuid,
                      dict.fromkeys(_SHELVED_KEYS))
        if image_id:
            self._quietly_delete_image(context, image_id)

    # --- RPC API 1.3: consoles ---------------------------------------------------------

    @rpc.expose
    @messaging.expected_exceptions(virt_exc.VirtError, record_exc.RecordError)
    def get_vnc_console(self, context, instance, console_type):
        """A console token for the instance's VNC server (the driver says
        where it listens), stored through the conductor by its hash only;
        the URL is this host's [vnc] novncproxy_base_url with the token."""
        if not self.conf.vnc.enabled:
            raise virt_exc.NotSupported(
                f"VNC consoles are disabled on host {self.host} ([vnc] enabled = false)")
        if console_type != console_auth_tokens.NOVNC:
            raise virt_exc.NotSupported(
                f"console type {console_type} is not supported: only "
                f"{console_auth_tokens.NOVNC} is")
        console = self.driver.get_vnc_console(context, instance)
        token = console_auth_tokens.new_token()
        base_url = self.conf.vnc.novncproxy_base_url
        record = self.conductor.console_auth_token_create(
            context, instance["uuid"], token_hash=console_auth_tokens.hash_token(token),
            console_type=console_type, host=console.host, port=console.port,
            ttl=self.conf.consoleauth.token_ttl, access_url_base=base_url,
            internal_access_path=console.internal_access_path)
        LOG.info("Console token for instance %s issued (VNC at %s:%s, expires at %s)",
                 instance["uuid"], console.host, console.port, record["expires"])
        return {"access_url": console_auth_tokens.access_url(base_url, token),
                "expires": record["expires"]}

    # --- RPC API 1.5: the console log ----------------------------------------------------

    @rpc.expose
    @messaging.expected_exceptions(virt_exc.VirtError)
    def get_console_output(self, context, instance, tail_length=None):
        """The driver's console log of the instance, its last ``tail_length``
        lines when given: the pieces between newlines, as upstream cuts them
        (a log ending in a newline keeps an empty last piece)."""
        output = self.driver.get_console_output(context, instance)
        if tail_length is None:
            return output
        if tail_length <= 0:
            return ""
        return "\n".join(output.split("\n")[-tail_length:])

    # --- RPC API 1.6: diagnostics ----------------------------------------------------------

    @rpc.expose
    @messaging.expected_exceptions(virt_exc.VirtError)
    def get_diagnostics(self, context, instance):
        return self.driver.get_diagnostics(instance)

    @rpc.expose
    @messaging.expected_exceptions(virt_exc.VirtError)
    def get_instance_diagnostics(self, context, instance):
        return self.driver.get_instance_diagnostics(instance)

    # --- RPC API 1.7: crash dump -----------------------------------------------------------

    @rpc.expose
    def trigger_crash_dump(self, context, instance):
        """An NMI to the guest. The instance's states do not change; a
        driver's refusal is the instance's fault and the event's error."""
        uuid = instance["uuid"]
        event = "compute_trigger_crash_dump"
        with self._instance_lock(uuid):
            self._event_start(context, uuid, event)
            try:
                self.driver.trigger_crash_dump(instance)
            except virt_exc.VirtError as exc:
                LOG.error("trigger_crash_dump of instance %s failed: %s", uuid, _reason(exc))
                self._fault(context, uuid, exc, traceback.format_exc())
                self._event_finish(context, uuid, event, "Error", traceback.format_exc())
                return
            LOG.info("NMI injected into instance %s", uuid)
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

    def _failed(self, context, uuid, event, exc, vm_state, power_state=None):
        """A lifecycle step failed: log, fault, event Error, and the task
        state cleared (vm_state and power_state set too when given)."""
        details = traceback.format_exc()
        LOG.error("%s of instance %s failed: %s", event, uuid, _reason(exc))
        self._fault(context, uuid, exc, details)
        values = {"task_state": None}
        if vm_state is not None:
            values["vm_state"] = vm_state
        if power_state is not None:
            values["power_state"] = power_state
        self._quietly(self.conductor.instance_update, context, uuid, values)
        self._event_finish(context, uuid, event, "Error", details)

    def _interrupted(self, context, uuid, event):
        """The instance was deleted, or another request took it over (a hard
        reboot interrupting a soft one), while this step ran."""
        LOG.info("Instance %s was deleted or taken over by another request during %s",
                 uuid, event)
        self._event_finish(context, uuid, event, "Error", traceback.format_exc())

    def _power_state(self, instance, default=None):
        """The driver's power state of the instance; ``default`` if it has no
        such instance (when given, else InstanceNotFound)."""
        try:
            return self.driver.get_info(instance).state
        except virt_exc.InstanceNotFound:
            if default is None:
                raise
            return default

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
            # The first line only: a remote error's text carries its traceback.
            LOG.warning("%s failed: %s", function.__name__, (str(exc) or repr(exc)).splitlines()[0])
        return None


def _hard_policy(group):
    return bool(group) and group.get("policy") in ("anti-affinity", "affinity")


class GroupPolicyViolated(Exception):
    """Upstream's RescheduledException of _validate_instance_group_policy."""


def _parse_time(text):
    """A datetime written with isoformat(), or None."""
    try:
        return datetime.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _reason(exc):
    """The error's first line: a remote error's text carries the remote traceback."""
    return (str(exc) or type(exc).__name__).splitlines()[0]
