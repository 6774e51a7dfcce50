"""The virt driver contract: what nova-compute asks of a hypervisor.

A driver is a ComputeDriver subclass named by [DEFAULT] compute_driver
("fake.FakeDriver" is class FakeDriver of nova_runtime.virt.fake). One
nova-compute process has one driver; it may call it from several threads (RPC
calls run concurrently), so drivers guard their own state.

Arguments shared by the methods:

``instance``
    The instance record: a dict of the instances row as nova-conductor returns
    it. Drivers read ``uuid`` (the hypervisor's name for the instance),
    ``vcpus``, ``memory_mb``, ``root_gb``, ``ephemeral_gb``, ``image_ref``,
    ``hostname``, ``user_data``, ``key_data``; they never write it: they
    return results, nova-compute records them.
``context``
    The RequestContext of the request being served (for image and network
    calls made on the user's behalf).
``network_info``
    A list of interface dicts on nova's flat network (nova_runtime.network):
    ``id``, ``address`` (the MAC, as upstream's VIF), ``fixed_ip``, ``bridge``,
    ``gateway``, ``cidr``, ``dns``. May be empty.
``image_meta``
    The image's metadata from the image service: ``id``, ``disk_format``,
    ``container_format``, ``min_disk``, ``min_ram``, ``properties`` (dict).
``block_device_info``
    None, or {"configdrive_path": an ISO 9660 config drive to attach read-only
    (nova_runtime.virt.configdrive); the file is the caller's: copy it}.
    There is no block storage service, so no volumes.

Power states are nova_runtime.states.power_state's. Errors are
nova_runtime.virt.exceptions': each method lists the ones it may raise.

Optional capabilities: the ``capabilities`` mapping says which optional groups
of methods work; a method of a group that the driver does not support raises
NotSupported (the base class does exactly that). tests/virt/test_driver_contract.py
checks every driver against this contract.
"""

import abc
import dataclasses
import datetime
import importlib

from nova_runtime.virt import exceptions

# The capability keys every driver's ``capabilities`` has, and what each promises.
CAPABILITIES = {
    "supports_pause": "pause() and unpause() work",
    "supports_suspend": "suspend() and resume() work",
    "supports_snapshot": "snapshot() works",
    "supports_resize": "migrate_disk_and_power_off(), finish_migration(), "
                       "confirm_migration() and finish_revert_migration() work "
                       "(resize and cold migration)",
    "supports_migrate_to_same_host": "a resize may keep the instance on its host",
    "supports_vnc_console": "get_vnc_console() works",
    "supports_console_output": "get_console_output() works",
}

# Keys of get_available_resource()'s result, with their types.
RESOURCE_KEYS = {
    "vcpus": int,
    "memory_mb": int,
    "local_gb": int,
    "vcpus_used": int,
    "memory_mb_used": int,
    "local_gb_used": int,
    "disk_available_least": int,
    "hypervisor_type": str,
    "hypervisor_version": int,
    "hypervisor_hostname": str,
    "cpu_info": dict,
    "supported_instances": list,
}

REBOOT_SOFT = "SOFT"
REBOOT_HARD = "HARD"


@dataclasses.dataclass(frozen=True)
class InstanceInfo:
    """What get_info() tells of an instance."""

    state: int  # a power_state value
    internal_id: str | None = None  # the hypervisor's own id, for logs


@dataclasses.dataclass(frozen=True)
class SnapshotImage:
    """What snapshot() captured: ``data`` is bytes or a binary file object
    (nova-compute closes it after the upload), in ``disk_format`` and
    ``container_format`` as Glance names them."""

    data: object
    disk_format: str = "raw"
    container_format: str = "bare"


@dataclasses.dataclass(frozen=True)
class ConsoleVNC:
    """Where nova-novncproxy connects to reach an instance's VNC server."""

    host: str
    port: int
    internal_access_path: str | None = None


class DriverLoadError(Exception):
    """[DEFAULT] compute_driver names no usable driver; the message says why."""


class ComputeDriver(abc.ABC):
    """Base of every virt driver. Abstract methods are the lifecycle every
    driver has; the others belong to an optional capability and raise
    NotSupported here."""

    capabilities = {key: False for key in CAPABILITIES}

    def __init__(self, conf):
        self.conf = conf

    # --- the host -------------------------------------------------------------

    @abc.abstractmethod
    def init_host(self, host):
        """Prepare the hypervisor when nova-compute starts on ``host``.

        Raises HypervisorUnavailable while the hypervisor cannot be reached
        (nova-compute then waits and retries)."""

    def cleanup_host(self, host):
        """Release what init_host set up, when nova-compute stops."""

    def get_host_uptime(self):
        """The host's uptime as uptime(1) prints it (what upstream's API shows
        as a hypervisor's uptime): every driver here runs on the host it
        manages, so the base class reads it from /proc."""
        return host_uptime()

    @abc.abstractmethod
    def get_available_nodes(self, refresh=False):
        """Names of the hypervisor nodes this host manages (usually one)."""

    @abc.abstractmethod
    def get_available_resource(self, nodename):
        """The node's resources: a dict with the keys of RESOURCE_KEYS.

        Totals are physical (allocation ratios are nova-compute's business);
        the *_used values are the hypervisor's view (the resource tracker
        computes usage from instance records). cpu_info describes the host
        CPU (arch, model, vendor, topology, features); supported_instances
        lists [architecture, hypervisor type, vm mode] triples."""

    # --- instances: the lifecycle every driver has ------------------------------

    @abc.abstractmethod
    def list_instances(self):
        """UUIDs of the instances the hypervisor has on this host."""

    @abc.abstractmethod
    def get_info(self, instance):
        """InstanceInfo of the instance. Raises InstanceNotFound."""

    @abc.abstractmethod
    def spawn(self, context, instance, image_meta, injected_files, admin_password,
              network_info=None, block_device_info=None):
        """Create the instance from its image and start it: RUNNING on return.

        ``injected_files`` is a list of (path, contents) pairs for the config
        drive. Raises InstanceExists if the hypervisor has it already, and
        InstanceSpawnError if it could not be created; then nothing is left
        behind and the build may be tried on another host."""

    @abc.abstractmethod
    def destroy(self, context, instance, network_info=None, block_device_info=None,
                destroy_disks=True):
        """Stop the instance and remove it from the hypervisor (its disks too,
        unless destroy_disks is False). An instance that does not exist is
        not an error: destroy is safe to repeat."""

    @abc.abstractmethod
    def power_off(self, instance, timeout=0, retry_interval=0):
        """Stop the instance: SHUTDOWN on return. With a timeout, ask the guest
        to shut down cleanly first, re-asking every retry_interval seconds,
        then force it off. Raises InstanceNotFound."""

    @abc.abstractmethod
    def power_on(self, context, instance, network_info=None, block_device_info=None):
        """Start a stopped instance: RUNNING on return (already running: no
        change). Raises InstanceNotFound."""

    @abc.abstractmethod
    def reboot(self, context, instance, network_info=None, reboot_type=REBOOT_SOFT,
               block_device_info=None):
        """Restart the instance: RUNNING on return. SOFT asks the guest and
        falls back to HARD; HARD also starts a stopped instance. Raises
        InstanceNotFound."""

    def rebuild(self, context, instance, image_meta, injected_files, admin_password,
                network_info=None, block_device_info=None):
        """Replace the instance's root disk with a new one from ``image_meta``
        in the hypervisor's own way, keeping the instance: RUNNING on return.

        Optional: the base class raises NotSupported, and nova-compute then
        rebuilds with destroy() and spawn()."""
        raise exceptions.NotSupported(f"{type(self).__name__} has no rebuild of its own")

    # --- optional: supports_pause ---------------------------------------------

    def pause(self, instance):
        """Freeze a RUNNING instance in memory: PAUSED. Raises
        InstanceInvalidState if it is not running, InstanceNotFound."""
        raise exceptions.NotSupported(f"{type(self).__name__} cannot pause instances")

    def unpause(self, instance):
        """Resume a PAUSED instance: RUNNING. Raises InstanceInvalidState if it
        is not paused, InstanceNotFound."""
        raise exceptions.NotSupported(f"{type(self).__name__} cannot unpause instances")

    # --- optional: supports_suspend -------------------------------------------

    def suspend(self, context, instance):
        """Save a RUNNING instance's memory to disk and stop it: SUSPENDED.
        Raises InstanceInvalidState if it is not running, InstanceNotFound."""
        raise exceptions.NotSupported(f"{type(self).__name__} cannot suspend instances")

    def resume(self, context, instance, network_info=None, block_device_info=None):
        """Restore a SUSPENDED instance: RUNNING. Raises InstanceInvalidState
        if it is not suspended, InstanceNotFound."""
        raise exceptions.NotSupported(f"{type(self).__name__} cannot resume instances")

    # --- optional: supports_snapshot ------------------------------------------

    def snapshot(self, context, instance, image_id, update_task_state):
        """Capture the instance's root disk for the (already created, queued)
        Glance image ``image_id``: returns a SnapshotImage, whose data
        nova-compute uploads to Glance with the user's token (drivers need
        no image service client).

        Calls ``update_task_state(task_state=IMAGE_PENDING_UPLOAD)`` once the
        disk is captured (see states.task_states); nova-compute sets
        IMAGE_UPLOADING itself. The instance's power state is the same after
        as before. Raises InstanceNotFound."""
        raise exceptions.NotSupported(f"{type(self).__name__} cannot snapshot instances")

    # --- optional: supports_resize (resize and cold migration) ----------------

    def migrate_disk_and_power_off(self, context, instance, dest, flavor, network_info=None,
                                   block_device_info=None, timeout=0, retry_interval=0):
        """On the source host: stop the instance (SHUTDOWN) and copy its disks
        to host ``dest``, sized for ``flavor`` (dict: vcpus, memory_mb,
        root_gb, ephemeral_gb). The source copy stays until confirm or revert.

        Returns disk_info, a JSON string handed to finish_migration. Raises
        MigrationError (e.g. shrinking a disk), leaving the instance as it was."""
        raise exceptions.NotSupported(f"{type(self).__name__} cannot migrate instances")

    def finish_migration(self, context, migration, instance, disk_info, network_info,
                         image_meta, resize_instance, block_device_info=None, power_on=True):
        """On the destination host: define the instance from the copied disks
        (grown to the instance's new flavor if ``resize_instance``), RUNNING if
        ``power_on`` else SHUTDOWN. ``migration`` is the migration record."""
        raise exceptions.NotSupported(f"{type(self).__name__} cannot migrate instances")

    def confirm_migration(self, context, migration, instance, network_info=None):
        """On the source host: remove the source copy once the user confirmed
        the resize."""
        raise exceptions.NotSupported(f"{type(self).__name__} cannot migrate instances")

    def finish_revert_migration(self, context, instance, network_info, migration,
                                block_device_info=None, power_on=True):
        """On the source host: bring the source copy back (RUNNING if
        ``power_on``), after the destination destroyed its copy."""
        raise exceptions.NotSupported(f"{type(self).__name__} cannot migrate instances")

    # --- optional: consoles ------------------------------------------------------

    def get_vnc_console(self, context, instance):
        """ConsoleVNC of a running instance. Raises InstanceNotFound."""
        raise exceptions.NotSupported(f"{type(self).__name__} has no VNC consoles")

    def get_console_output(self, context, instance):
        """The guest's serial console log so far, as str (its end, when the
        driver keeps a bounded log): what the API's os-getConsoleOutput
        shows, cut to the last lines there. Also while the instance is shut
        off, paused or suspended: the log outlives the guest's run. "" when
        the guest wrote nothing yet. Raises InstanceNotFound."""
        raise exceptions.NotSupported(f"{type(self).__name__} has no console output")

    # --- optional: diagnostics ---------------------------------------------------

    def get_diagnostics(self, instance):
        """The instance's counters as the driver names them (a flat dict of
        numbers): what the API shows before 2.48. Raises InstanceNotFound."""
        raise exceptions.NotSupported(f"{type(self).__name__} has no diagnostics")

    def get_instance_diagnostics(self, instance):
        """The instance's diagnostics in the standard form (virt.diagnostics
        .standard): what the API shows from 2.48. Raises InstanceNotFound."""
        raise exceptions.NotSupported(f"{type(self).__name__} has no diagnostics")

    # --- optional: crash dump ----------------------------------------------------

    def trigger_crash_dump(self, instance):
        """Send the guest a non-maskable interrupt (the API's
        trigger_crash_dump): a guest configured for it dumps its memory
        and reboots. Raises InstanceNotFound, InstanceInvalidState (not
        running)."""
        raise exceptions.NotSupported(f"{type(self).__name__} cannot inject an NMI")


def host_uptime(proc="/proc", now=None):
    """uptime(1)'s line from /proc/uptime and /proc/loadavg, such as
    ' 05:29:49 up 3 days,  2:05,  load average: 2.28, 2.77, 1.64' (without its
    count of logged-in users, which needs utmp)."""
    with open(f"{proc}/uptime") as uptime_file:
        seconds = int(float(uptime_file.read().split()[0]))
    with open(f"{proc}/loadavg") as loadavg_file:
        loads = loadavg_file.read().split()[:3]
    days, rest = divmod(seconds, 86400)
    hours, minutes = divmod(rest // 60, 60)
    up = f"{days} day{'' if days == 1 else 's'}, " if days else ""
    up += f"{hours:2d}:{minutes:02d}" if hours else f"{minutes} min"
    clock = (now or datetime.datetime.now()).strftime("%H:%M:%S")
    return f" {clock} up {up},  load average: {', '.join(loads)}"


def load_driver(conf, name=None):
    """The driver named by ``name`` (default [DEFAULT] compute_driver), built
    with ``conf``. Raises DriverLoadError with a readable reason."""
    name = name or conf.compute_driver
    module_name, _, class_name = name.rpartition(".")
    if not module_name or not class_name:
        raise DriverLoadError(
            f"compute_driver {name!r} is not of the form MODULE.CLASS, e.g. fake.FakeDriver")
    qualified = f"{__package__}.{module_name}"
    try:
        module = importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if exc.name == qualified:
            raise DriverLoadError(
                f"compute_driver {name!r}: there is no virt driver module {qualified}") from None
        raise DriverLoadError(
            f"compute_driver {name!r} needs the Python module {exc.name}, which is not "
            "installed") from None
    driver_class = getattr(module, class_name, None)
    if not (isinstance(driver_class, type) and issubclass(driver_class, ComputeDriver)):
        raise DriverLoadError(f"compute_driver {name!r}: {qualified} has no driver {class_name}")
    return driver_class(conf)
