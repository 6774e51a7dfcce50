"""The client side of nova-compute's RPC API (topic 'compute', one server per host).

Version history:

1.0 - ping, refresh_resources
1.1 - build_and_run_instance, terminate_instance, stop_instance, start_instance
      (casts)
1.2 - reboot_instance, pause_instance, unpause_instance, suspend_instance,
      resume_instance, rebuild_instance, snapshot_instance; resize and cold
      migration: prep_resize (to the destination), resize_instance (to the
      source), finish_resize (destination), confirm_resize (source),
      revert_resize (destination), finish_revert_resize (source) (casts)
1.3 - get_vnc_console (a call: issues a console token, returns its URL)
1.4 - get_host_uptime (a call: the host's uptime line, for the hypervisors API)
1.5 - get_console_output (a call: the end of an instance's console log)
1.6 - get_diagnostics, get_instance_diagnostics (calls: the driver's counters
      of an instance, for servers/{id}/diagnostics)
1.7 - trigger_crash_dump (a cast: an NMI to the guest)
1.8 - backup_instance, soft_delete_instance, restore_instance (casts)
1.9 - shelve_instance, shelve_offload_instance, unshelve_instance (casts)

Further calls join as 1.x minor versions. Each method asks ``_prepare`` for the version it
needs, so that a client capped to an older compute during a rolling upgrade
raises rpc.ServiceTooOld instead of sending a call the compute does not know;
``can_send_version`` tells callers beforehand.

``instance`` arguments are instance records (dicts of the instances row);
the compute reads the record again through nova-conductor before acting.
"""

import threading

from nova_runtime import rpc

TOPIC = "compute"


class CellClients:
    """One ComputeAPI per message queue, for the processes that talk to the
    computes of several cells (nova-api, the super-conductor): a cell's is on
    its mapping's transport_url; ``get()`` without a cell is this process's
    own, on [DEFAULT] transport_url."""

    def __init__(self, conf):
        self.conf = conf
        self._clients = {}  # transport URL -> ComputeAPI
        self._lock = threading.Lock()

    def get(self, cell=None):
        url = cell.transport_url if cell is not None else self.conf.transport_url
        with self._lock:
            if url not in self._clients:
                transport = (rpc.get_cell_transport(self.conf, cell) if cell is not None
                             else rpc.get_transport(self.conf))
                self._clients[url] = ComputeAPI(transport)
            return self._clients[url]


class ComputeAPI(rpc.RPCAPI):
    TOPIC = TOPIC
    VERSION = "1.9"

    def ping(self, context, host, timeout=None):
        """{"host", "service_id", "driver", "nodes"} from the compute on ``host``."""
        return self._prepare("1.0", server=host, timeout=timeout).call(context, "ping")

    def refresh_resources(self, context, host):
        """Make ``host`` report its resources now; returns its compute node records."""
        return self._prepare("1.0", server=host).call(context, "refresh_resources")

    # --- 1.1: the instance lifecycle ------------------------------------------------

    def build_and_run_instance(self, context, host, instance, *, node, limits, image,
                               request_spec, host_list, admin_password=None,
                               injected_files=None, requested_networks=None):
        """Build ``instance`` (vm_state building, task_state scheduling) on
        ``node`` of ``host``: claim within ``limits``, spawn, ACTIVE. On a
        failure the compute asks its conductor to reschedule to one of
        ``host_list`` (the remaining alternates, selection dicts)."""
        self._prepare("1.1", server=host).cast(
            context, "build_and_run_instance", instance=instance, node=node, limits=limits,
            image=image, request_spec=request_spec, host_list=host_list,
            admin_password=admin_password, injected_files=injected_files or [],
            requested_networks=requested_networks)

    def terminate_instance(self, context, instance):
        """Destroy the instance (task_state deleting) and soft-delete its record."""
        self._prepare("1.1", server=instance["host"]).cast(
            context, "terminate_instance", instance=instance)

    def stop_instance(self, context, instance, clean_shutdown=True):
        """Power the instance (task_state powering-off) off: vm_state stopped."""
        self._prepare("1.1", server=instance["host"]).cast(
            context, "stop_instance", instance=instance, clean_shutdown=clean_shutdown)

    def start_instance(self, context, instance):
        """Power the instance (task_state powering-on) on: vm_state active."""
        self._prepare("1.1", server=instance["host"]).cast(
            context, "start_instance", instance=instance)

    # --- 1.2: reboot, pause, suspend, rebuild, snapshot ---------------------------------

    def reboot_instance(self, context, instance, reboot_type):
        """Reboot (task_state rebooting or rebooting_hard; reboot_type SOFT
        or HARD): vm_state active."""
        self._prepare("1.2", server=instance["host"]).cast(
            context, "reboot_instance", instance=instance, reboot_type=reboot_type)

    def pause_instance(self, context, instance):
        """Pause (task_state pausing): vm_state paused."""
        self._prepare("1.2", server=instance["host"]).cast(
            context, "pause_instance", instance=instance)

    def unpause_instance(self, context, instance):
        """Unpause (task_state unpausing): vm_state active."""
        self._prepare("1.2", server=instance["host"]).cast(
            context, "unpause_instance", instance=instance)

    def suspend_instance(self, context, instance):
        """Suspend (task_state suspending): vm_state suspended."""
        self._prepare("1.2", server=instance["host"]).cast(
            context, "suspend_instance", instance=instance)

    def resume_instance(self, context, instance):
        """Resume (task_state resuming): vm_state active."""
        self._prepare("1.2", server=instance["host"]).cast(
            context, "resume_instance", instance=instance)

    def rebuild_instance(self, context, instance, image, admin_password=None):
        """Rebuild (task_state rebuilding) from ``image`` (its metadata; the
        record's image_ref is already the new image): the old disk is
        destroyed, the new one spawned; a stopped instance stays stopped."""
        self._prepare("1.2", server=instance["host"]).cast(
            context, "rebuild_instance", instance=instance, image=image,
            admin_password=admin_password)

    def snapshot_instance(self, context, instance, image_id):
        """Snapshot (task_state image_snapshot_pending) into the Glance image
        ``image_id`` (created, queued, by the API with the user's token); the
        compute uploads the data with the token carried in ``context``."""
        self._prepare("1.2", server=instance["host"]).cast(
            context, "snapshot_instance", instance=instance, image_id=image_id)

    # --- 1.2: resize and cold migration ---------------------------------------------
    # prep_resize (destination) -> resize_instance (source) -> finish_resize
    # (destination); then confirm_resize (source), or revert_resize
    # (destination) -> finish_revert_resize (source). ``migration`` is the
    # migration record.

    def prep_resize(self, context, host, instance, *, migration, flavor, image, node, limits,
                    request_spec):
        """To the destination ``host``: claim ``flavor`` on ``node`` within
        ``limits``, then hand on to the source."""
        self._prepare("1.2", server=host).cast(
            context, "prep_resize", instance=instance, migration=migration, flavor=flavor,
            image=image, node=node, limits=limits, request_spec=request_spec)

    def resize_instance(self, context, instance, *, migration, flavor, image):
        """To the source: power off and copy the disks to the destination."""
        self._prepare("1.2", server=migration["source_compute"]).cast(
            context, "resize_instance", instance=instance, migration=migration, flavor=flavor,
            image=image)

    def finish_resize(self, context, instance, *, migration, disk_info, image):
        """To the destination: start the instance from the copy: VERIFY_RESIZE."""
        self._prepare("1.2", server=migration["dest_compute"]).cast(
            context, "finish_resize", instance=instance, migration=migration,
            disk_info=disk_info, image=image)

    def confirm_resize(self, context, instance, migration):
        """To the source: remove the source copy (migration confirming)."""
        self._prepare("1.2", server=migration["source_compute"]).cast(
            context, "confirm_resize", instance=instance, migration=migration)

    def revert_resize(self, context, instance, migration):
        """To the destination: destroy the new copy (migration reverting)."""
        self._prepare("1.2", server=migration["dest_compute"]).cast(
            context, "revert_resize", instance=instance, migration=migration)

    def finish_revert_resize(self, context, instance, migration):
        """To the source: start the source copy again with the old flavor."""
        self._prepare("1.2", server=migration["source_compute"]).cast(
            context, "finish_revert_resize", instance=instance, migration=migration)

    # --- 1.3: consoles ---------------------------------------------------------------

    def get_vnc_console(self, context, instance, console_type):
        """A new console token for the instance's VNC server, stored (hashed)
        in its cell database: {"access_url": the proxy's URL with the token,
        "expires": seconds since the epoch}. Raises virt.exceptions.NotSupported
        (VNC disabled on that host, another console type, a driver without
        VNC) and InstanceNotFound (the hypervisor has no such instance)."""
        return self._prepare("1.3", server=instance["host"]).call(
            context, "get_vnc_console", instance=instance, console_type=console_type)

    # --- 1.4: the host -----------------------------------------------------------------

    def get_host_uptime(self, context, host, timeout=None):
        """The uptime line of ``host`` (virt.driver.ComputeDriver.get_host_uptime)."""
        return self._prepare("1.4", server=host, timeout=timeout).call(
            context, "get_host_uptime")

    # --- 1.5: the console log ------------------------------------------------------------

    def get_console_output(self, context, instance, tail_length=None):
        """The instance's console log (str), its last ``tail_length`` lines
        (None: all of it; 0: nothing). Raises virt.exceptions.NotSupported (a
        driver without a console log) and InstanceNotFound (the hypervisor has
        no such instance)."""
        return self._prepare("1.5", server=instance["host"]).call(
            context, "get_console_output", instance=instance, tail_length=tail_length)

    # --- 1.6: diagnostics ----------------------------------------------------------------

    def get_diagnostics(self, context, instance):
        """The driver's counters of the instance, as it names them (the API
        before 2.48). Raises virt.exceptions.NotSupported, InstanceNotFound."""
        return self._prepare("1.6", server=instance["host"]).call(
            context, "get_diagnostics", instance=instance)

    def get_instance_diagnostics(self, context, instance):
        """The instance's diagnostics in the standard form (virt.diagnostics,
        the API from 2.48)."""
        return self._prepare("1.6", server=instance["host"]).call(
            context, "get_instance_diagnostics", instance=instance)

    # --- 1.7: crash dump -------------------------------------------------------------------

    def trigger_crash_dump(self, context, instance):
        """An NMI to the guest (the driver's trigger_crash_dump); a failure
        becomes the instance's fault and its action event's error."""
        self._prepare("1.7", server=instance["host"]).cast(
            context, "trigger_crash_dump", instance=instance)

    # --- 1.8: backups, soft delete --------------------------------------------------------

    def backup_instance(self, context, instance, image_id, backup_type, rotation):
        """Snapshot (task_state image_backup) into ``image_id`` as
        snapshot_instance does, then delete this server's oldest backups of
        ``backup_type`` so that ``rotation`` remain."""
        self._prepare("1.8", server=instance["host"]).cast(
            context, "backup_instance", instance=instance, image_id=image_id,
            backup_type=backup_type, rotation=rotation)

    def soft_delete_instance(self, context, instance):
        """Power off (task_state soft-deleting): vm_state soft-delete, until
        restored or reclaimed."""
        self._prepare("1.8", server=instance["host"]).cast(
            context, "soft_delete_instance", instance=instance)

    def restore_instance(self, context, instance):
        """Power on a soft-deleted instance (task_state restoring): active."""
        self._prepare("1.8", server=instance["host"]).cast(
            context, "restore_instance", instance=instance)

    # --- 1.9: shelve ----------------------------------------------------------------------

    def shelve_instance(self, context, instance, image_id, clean_shutdown=True):
        """Shelve (task_state shelving): power off, snapshot into the Glance
        image ``image_id`` (created by the API), vm_state shelved; offloaded
        at once when the host's [DEFAULT] shelved_offload_time is 0."""
        self._prepare("1.9", server=instance["host"]).cast(
            context, "shelve_instance", instance=instance, image_id=image_id,
            clean_shutdown=clean_shutdown)

    def shelve_offload_instance(self, context, instance, clean_shutdown=True):
        """Offload a shelved instance (task_state shelving_offloading): the
        guest is destroyed, its resources released: vm_state shelved_offloaded."""
        self._prepare("1.9", server=instance["host"]).cast(
            context, "shelve_offload_instance", instance=instance,
            clean_shutdown=clean_shutdown)

    def unshelve_instance(self, context, host, instance, image=None, node=None, limits=None,
                          request_spec=None):
        """Unshelve (task_state unshelving) on ``host``: a shelved instance
        (its own host, ``image`` None) is powered on; a shelved-offloaded one
        (from the super-conductor, which chose ``host`` and ``node``) is
        claimed within ``limits`` and spawned from ``image``, the shelved
        snapshot's metadata. Then vm_state active."""
        self._prepare("1.9", server=host).cast(
            context, "unshelve_instance", instance=instance, image=image, node=node,
            limits=limits, request_spec=request_spec)
