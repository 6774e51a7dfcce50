"""LibvirtDriver: instances as libvirt domains (compute_driver = libvirt.LibvirtDriver).

The connection is [libvirt] connection_uri (empty: qemu:///system), domains
are of type [libvirt] virt_type (kvm, or qemu for TCG emulation). Disks are
files under [DEFAULT] instances_path (disks.py), the domain XML comes from
domain.py, host facts from host.py.

How the contract's operations map onto libvirt:

- spawn: image into the cache, qcow2 overlay, defineXML + create. Any failure
  removes what was made (InstanceSpawnError: the build may go elsewhere).
- destroy: destroy + undefine (with its managed-save image) + the disks.
- power_off: shutdown (ACPI) re-sent every retry_interval until timeout, then
  destroy. power_on: create (a suspended domain resumes from its save).
- reboot: SOFT is shutdown, wait up to [libvirt] wait_soft_reboot_seconds,
  create; HARD (or a guest that ignored the shutdown) destroy + create.
- pause/unpause: libvirt suspend/resume (vCPUs stop, memory stays).
- suspend/resume: managedSave (memory to disk, domain off) / create.
  A shut-off domain with a managed-save image is SUSPENDED.
- snapshot: the domain is paused while `qemu-img convert` flattens its root
  disk into a standalone qcow2; that file (already unlinked) is the
  SnapshotImage that nova-compute uploads to Glance.
- resize and cold migration: the source renames its directory to
  <uuid>_resize and copies the disks to <uuid>; the destination grows them to
  the new flavor and defines the domain. Confirm removes <uuid>_resize (and,
  on another host, the source domain); revert moves it back and redefines
  the saved XML. The copy goes through the filesystem: a resize on the same
  host always works; a migration to another host needs instances_path on
  storage both hosts share (finish_migration says so when the copy is not
  there). Copies over ssh are not built.
- config drive: ``block_device_info["configdrive_path"]`` (an ISO made by the
  compute manager) is attached as a read-only cdrom; it is copied to the
  instance directory as disk.config so that it moves along with a resize.
- consoles: VNC on [vnc] server_listen when [vnc] enabled (port chosen by
  libvirt); the serial console goes to console.log through virtlogd, which
  rotates it (console.log.0, ...); get_console_output reads its last
  CONSOLE_LOG_BYTES.

Images come through ``image_fetcher(context, image_id, path)``, by default
nova_runtime.image.glance.download with the request's token; tests pass
their own.
"""

import contextlib
import functools
import json
import logging
import os
import shutil
import time

import libvirt
from oslo_utils import timeutils

from nova_runtime.states import power_state, task_states
from nova_runtime.conf import libvirt as libvirt_conf, network as network_conf
from nova_runtime.network import linux_net
from nova_runtime.virt import driver, exceptions
from nova_runtime.virt.libvirt import disks, domain, host, stats

LOG = logging.getLogger(__name__)

_POLL_SECONDS = 0.2
# How much of the end of the console log get_console_output reads (upstream's 100 KiB).
CONSOLE_LOG_BYTES = 100 * 1024

_POWER_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: power_state.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: power_state.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: power_state.RUNNING,  # running, waiting on I/O
    libvirt.VIR_DOMAIN_PAUSED: power_state.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: power_state.SHUTDOWN,  # shutting down
    libvirt.VIR_DOMAIN_SHUTOFF: power_state.SHUTDOWN,
    libvirt.VIR_DOMAIN_CRASHED: power_state.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: power_state.SUSPENDED,
}


def _libvirt_errors(method):
    """Raise the contract's exceptions for libvirt errors that escape ``method``
    (e.g. a domain undefined meanwhile: InstanceNotFound)."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except libvirt.libvirtError as error:
            raise host.translate(error) from None
    return wrapper


def _seconds_since(launched_at):
    """Whole seconds from ``launched_at`` (a datetime or ISO text, UTC) to now."""
    if not launched_at:
        return None
    if isinstance(launched_at, str):
        launched_at = timeutils.parse_isotime(launched_at)
    return int((timeutils.utcnow() - timeutils.normalize_time(launched_at)).total_seconds())


def read_log_tail(path, size):
    """The last ``size`` bytes of the log at ``path``, continued from the
    files virtlogd rotated it to (path.0 the newest) when it is shorter; b""
    while the guest has written nothing."""
    pieces, wanted = [], size
    for name in [path] + [f"{path}.{index}" for index in range(10)]:
        try:
            with open(name, "rb") as log:
                end = log.seek(0, os.SEEK_END)
                log.seek(max(0, end - wanted))
                piece = log.read(wanted)
        except FileNotFoundError:
            break
        pieces.insert(0, piece)
        wanted -= len(piece)
        if wanted <= 0:
            break
    return b"".join(pieces)


def prepare_console_log(path):
    """Create the serial console's log before its guest starts, owned by
    nova-compute's user: virtlogd (root) appends to a log that exists and
    leaves its owner, but makes a missing one root's, mode 0600, which a
    nova-compute running as nova cannot read back. A log that exists is left
    as it is (appended to across reboots)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640))


def _glance_fetch(conf):
    def fetch(context, image_id, path):
        from nova_runtime.image import glance  # only computes that boot images need it
        glance.download(context, image_id, path, conf=conf)
    return fetch


class LibvirtDriver(driver.ComputeDriver):
    capabilities = {key: True for key in driver.CAPABILITIES}

    def __init__(self, conf, image_fetcher=None):
        super().__init__(conf)
        self.capabilities = dict(type(self).capabilities,
                                 supports_vnc_console=bool(conf.vnc.enabled))
        self.host = None
        self.virt_type = conf.libvirt.virt_type
        self.instances_path = conf.instances_path
        self.image_fetcher = image_fetcher or _glance_fetch(conf)
        self._host = host.Host(libvirt_conf.connection_uri(conf))
        # FlatDHCPManager: this host serves DHCP and metadata on the flat bridge.
        self._flat = linux_net.FlatHost(conf) \
            if conf.network_manager == network_conf.FLAT_DHCP_MANAGER else None

    # --- the host -------------------------------------------------------------------------

    def init_host(self, host_name):
        self.host = host_name
        os.makedirs(self.instances_path, exist_ok=True)
        if not (self._host.is_test_driver or self._host.supported_instances(self.virt_type)):
            hint = " (is /dev/kvm there? else set [libvirt] virt_type = qemu)" \
                if self.virt_type == "kvm" else ""
            raise exceptions.HypervisorUnavailable(
                f"libvirt at {self._host.uri} cannot run {self.virt_type} guests{hint}")
        if self._flat is not None:
            # After a host reboot nothing of it runs; instances deleted while
            # nova-compute was down are forgotten.
            self._flat.sync(self.list_instances())

    def cleanup_host(self, host_name):
        self._host.close()

    @property
    def nodename(self):
        # One nova-compute manages one libvirt host: the node is named after it.
        return self.host or self.conf.host

    def get_available_nodes(self, refresh=False):
        return [self.nodename]

    @_libvirt_errors
    def get_available_resource(self, nodename):
        vcpus, memory_mb, vcpus_used, memory_used = self._host.cpu_and_memory()
        total, free = host.disk_usage(self.instances_path)
        thin = disks.overcommit_bytes(
            path for uuid in self.list_instances()
            for path in (self._files(uuid).root, self._files(uuid).ephemeral))
        return {
            "vcpus": vcpus,
            "memory_mb": memory_mb,
            "local_gb": total // disks.GiB,
            "vcpus_used": vcpus_used,
            "memory_mb_used": memory_used,
            "local_gb_used": (total - free) // disks.GiB,
            "disk_available_least": (free - thin) // disks.GiB,
            "hypervisor_type": self._host.hypervisor_type(),
            "hypervisor_version": self._host.version(),
            "hypervisor_hostname": nodename,
            "cpu_info": self._host.cpu_info(),
            "supported_instances": self._host.supported_instances(self.virt_type),
        }

    # --- lifecycle ------------------------------------------------------------------------

    @_libvirt_errors
    def list_instances(self):
        return sorted(dom.UUIDString() for dom in self._host.domains(domain.NAME_PREFIX))

    @_libvirt_errors
    def get_info(self, instance):
        dom = self._host.lookup(instance["uuid"])
        return driver.InstanceInfo(state=self._power_state(dom), internal_id=dom.name())

    def spawn(self, context, instance, image_meta, injected_files, admin_password,
              network_info=None, block_device_info=None):
        uuid = instance["uuid"]
        if self._host.find(uuid) is not None:
            raise exceptions.InstanceExists(f"instance {uuid} has a domain already")
        files = self._files(uuid)
        dom = None
        try:
            os.makedirs(files.dir, exist_ok=True)
            self._create_disks(context, instance, image_meta, files)
            self._attach_config_drive(files, block_device_info)
            dom = self._define(instance, image_meta, network_info, files)
            self._plug(instance, network_info)
            dom.create()
        except Exception as error:
            with contextlib.suppress(exceptions.VirtError):
                self._remove_domain(dom)
            self._unplug(uuid)
            disks.remove_dir(files.dir)
            LOG.warning("Spawn of instance %s failed: %s", uuid, error)
            raise exceptions.InstanceSpawnError(f"spawn of instance {uuid} failed: {error}") \
                from error

    @_libvirt_errors
    def destroy(self, context, instance, network_info=None, block_device_info=None,
                destroy_disks=True):
        self._remove_domain(self._host.find(instance["uuid"]))
        if not self._source_of_resize(instance["uuid"]):
            self._unplug(instance["uuid"])  # this host's copy of a resize keeps its lease
        if destroy_disks:
            disks.remove_dir(self._files(instance["uuid"]).dir)

    @_libvirt_errors
    def power_off(self, instance, timeout=0, retry_interval=0):
        dom = self._host.lookup(instance["uuid"])
        if not dom.isActive():
            if dom.hasManagedSaveImage(0):
                dom.managedSaveRemove(0)  # a stopped instance forgets its suspended memory
            return
        if timeout and dom.info()[0] != libvirt.VIR_DOMAIN_PAUSED:
            if self._clean_shutdown(dom, timeout, retry_interval):
                return
            LOG.info("Instance %s did not shut down within %s s: forcing it off",
                     instance["uuid"], timeout)
        self._force_off(dom)

    @_libvirt_errors
    def power_on(self, context, instance, network_info=None, block_device_info=None):
        dom = self._host.lookup(instance["uuid"])
        state = dom.info()[0]
        if state == libvirt.VIR_DOMAIN_PAUSED:
            self._call(dom.resume)
        elif not dom.isActive():
            self._call(dom.create)

    @_libvirt_errors
    def reboot(self, context, instance, network_info=None, reboot_type=driver.REBOOT_SOFT,
               block_device_info=None):
        dom = self._host.lookup(instance["uuid"])
        running = dom.info()[0] in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED)
        if reboot_type == driver.REBOOT_SOFT and running:
            if self._clean_shutdown(dom, self.conf.libvirt.wait_soft_reboot_seconds, 0):
                self._call(dom.create)
                return
            LOG.info("Soft reboot of instance %s timed out: rebooting it hard", instance["uuid"])
        self._force_off(dom)
        if dom.hasManagedSaveImage(0):
            dom.managedSaveRemove(0)  # a hard reboot boots afresh, not from a suspend
        self._call(dom.create)

    # --- pause and suspend ----------------------------------------------------------------

    @_libvirt_errors
    def pause(self, instance):
        dom = self._in_state(instance, power_state.RUNNING, "pause")
        self._call(dom.suspend)

    @_libvirt_errors
    def unpause(self, instance):
        dom = self._in_state(instance, power_state.PAUSED, "unpause")
        self._call(dom.resume)

    @_libvirt_errors
    def suspend(self, context, instance):
        dom = self._in_state(instance, power_state.RUNNING, "suspend")
        self._call(dom.managedSave, 0)

    @_libvirt_errors
    def resume(self, context, instance, network_info=None, block_device_info=None):
        dom = self._in_state(instance, power_state.SUSPENDED, "resume")
        self._call(dom.create)

    # --- snapshot -------------------------------------------------------------------------

    @_libvirt_errors
    def snapshot(self, context, instance, image_id, update_task_state):
        dom = self._host.lookup(instance["uuid"])
        files = self._files(instance["uuid"])
        snapshot_dir = os.path.join(self.instances_path, "snapshots")
        os.makedirs(snapshot_dir, exist_ok=True)
        payload = os.path.join(snapshot_dir, f"{image_id}.qcow2")
        # Paused, the guest cannot write while the disk is read: the copy is
        # consistent as after a power cut.
        was_running = dom.info()[0] in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED)
        try:
            if was_running:
                self._call(dom.suspend)
            try:
                disks.flatten_to_qcow2(files.root, payload)
            finally:
                if was_running:
                    self._call(dom.resume)
            data = open(payload, "rb")  # noqa: SIM115 (nova-compute closes it after the upload)
        except disks.DiskError as error:
            raise exceptions.VirtError(
                f"snapshot of instance {instance['uuid']} failed: {error}") from error
        finally:
            # The open file stays readable; nothing is left on disk once it is closed.
            if os.path.exists(payload):
                os.unlink(payload)
        try:
            update_task_state(task_state=task_states.IMAGE_PENDING_UPLOAD)
        except BaseException:
            data.close()
            raise
        return driver.SnapshotImage(data=data, disk_format="qcow2", container_format="bare")

    # --- resize and cold migration --------------------------------------------------------

    @_libvirt_errors
    def migrate_disk_and_power_off(self, context, instance, dest, flavor, network_info=None,
                                   block_device_info=None, timeout=0, retry_interval=0):
        uuid = instance["uuid"]
        dom = self._host.lookup(uuid)
        for key in ("root_gb", "ephemeral_gb"):
            if (flavor.get(key) or 0) < (instance.get(key) or 0):
                raise exceptions.MigrationError(
                    f"cannot shrink {key} of instance {uuid} from {instance.get(key)} GB "
                    f"to {flavor.get(key) or 0} GB")
        files = self._files(uuid)
        if os.path.exists(files.resize_dir):
            raise exceptions.MigrationError(
                f"instance {uuid} has an unfinished resize ({files.resize_dir}): "
                "confirm or revert it first")
        was_active = dom.isActive()
        self.power_off(instance, timeout, retry_interval)
        try:
            os.rename(files.dir, files.resize_dir)
            disks.write(os.path.join(files.resize_dir, "migration.json"),
                        json.dumps({"source": self.host, "dest": dest}))
            copied = disks.copy_for_migration(files)
        except (OSError, disks.DiskError) as error:
            # Back to how it was: the source directory, the domain running.
            disks.remove_dir(files.dir)
            if os.path.exists(files.resize_dir):
                os.rename(files.resize_dir, files.dir)
            if was_active:
                self._call(dom.create)
            raise exceptions.MigrationError(
                f"copying the disks of instance {uuid} failed: {error}") from error
        return json.dumps({"source_host": self.host, "disks": copied})

    def finish_migration(self, context, migration, instance, disk_info, network_info,
                         image_meta, resize_instance, block_device_info=None, power_on=True):
        uuid = instance["uuid"]
        try:
            copied = json.loads(disk_info)["disks"]
        except (ValueError, KeyError, TypeError) as error:
            raise exceptions.MigrationError(f"disk_info of instance {uuid} is not "
                                            f"migrate_disk_and_power_off's: {error}") from None
        files = self._files(uuid)
        missing = [name for name in copied if not os.path.exists(os.path.join(files.dir, name))]
        if missing or "disk" not in copied:
            raise exceptions.MigrationError(
                f"the disks of instance {uuid} are not in {files.dir} on {self.host}: "
                "a migration between hosts needs [DEFAULT] instances_path on storage "
                "both hosts share")
        try:
            self._ensure_backing(context, instance, image_meta, files.root)
            if resize_instance:
                disks.grow(files.root, instance.get("root_gb") or 0)
                self._resize_ephemeral(files, instance.get("ephemeral_gb") or 0)
            if "disk.config" in copied:
                block_device_info = dict(block_device_info or {},
                                         configdrive_path=files.config_drive)
            self._attach_config_drive(files, block_device_info)
            dom = self._define(instance, image_meta, network_info, files)
            self._plug(instance, network_info)
            if power_on:
                dom.create()
        except (OSError, disks.DiskError, domain.DomainConfigError,
                libvirt.libvirtError, linux_net.FlatHostError) as error:
            raise exceptions.MigrationError(
                f"finishing the migration of instance {uuid} failed: {error}") from error

    @_libvirt_errors
    def confirm_migration(self, context, migration, instance, network_info=None):
        files = self._files(instance["uuid"])
        try:
            with open(os.path.join(files.resize_dir, "migration.json"), encoding="utf-8") as f:
                moved_to = json.load(f)["dest"]
        except (OSError, ValueError, KeyError):
            moved_to = None
        if moved_to is not None and moved_to != self.host:
            # The instance lives on another host now; this one's domain is the old copy.
            dom = self._host.find(instance["uuid"])
            if dom is not None and not dom.isActive():
                self._remove_domain(dom)
            self._unplug(instance["uuid"])  # the destination serves its lease now
        disks.remove_dir(files.resize_dir)

    @_libvirt_errors
    def finish_revert_migration(self, context, instance, network_info, migration,
                                block_device_info=None, power_on=True):
        uuid = instance["uuid"]
        files = self._files(uuid)
        if not os.path.isdir(files.resize_dir):
            raise exceptions.InstanceNotFound(f"instance {uuid} has no source copy to revert to "
                                              f"({files.resize_dir})")
        dom = self._host.find(uuid)
        if dom is not None and dom.isActive():
            self._force_off(dom)  # the resized copy on this same host
        saved_xml = files.saved_domain_xml()
        disks.remove_dir(files.dir)
        os.rename(files.resize_dir, files.dir)
        os.unlink(os.path.join(files.dir, "migration.json"))
        dom = self._call(self._host.conn.defineXML, saved_xml)
        if power_on:
            self._call(dom.create)

    # --- consoles -------------------------------------------------------------------------

    @_libvirt_errors
    def get_vnc_console(self, context, instance):
        if not self.capabilities["supports_vnc_console"]:
            raise exceptions.NotSupported("[vnc] enabled is false: instances have no VNC server")
        dom = self._host.lookup(instance["uuid"])
        if not dom.isActive():
            raise exceptions.InstanceInvalidState(
                f"instance {instance['uuid']} is not running: its VNC server is off")
        port = domain.vnc_port(dom.XMLDesc(0))
        if port is None:
            # qemu:///system assigns one at start; libvirt's test driver never does.
            raise exceptions.InstanceInvalidState(
                f"libvirt at {self._host.uri} assigned no VNC port to instance {instance['uuid']}")
        return driver.ConsoleVNC(host=self.conf.vnc.server_proxyclient_address, port=port)

    @_libvirt_errors
    def get_console_output(self, context, instance):
        self._host.lookup(instance["uuid"])
        path = self._files(instance["uuid"]).console_log
        try:
            tail = read_log_tail(path, CONSOLE_LOG_BYTES)
        except PermissionError as error:
            # virtlogd made it (a log from before prepare_console_log, or a
            # new one after a rotation): root's, mode 0600.
            raise exceptions.VirtError(
                f"the console log of instance {instance['uuid']} cannot be read by "
                f"nova-compute: {error}") from None
        return tail.decode("utf-8", errors="replace")

    # --- diagnostics ------------------------------------------------------------------------

    @_libvirt_errors
    def get_diagnostics(self, instance):
        return stats.legacy(self._host.lookup(instance["uuid"]))

    @_libvirt_errors
    def get_instance_diagnostics(self, instance):
        dom = self._host.lookup(instance["uuid"])
        return stats.standard(
            dom, state=power_state.NAMES[self._power_state(dom)], hypervisor=self.virt_type,
            uptime=_seconds_since(instance.get("launched_at")),
            config_drive=bool(instance.get("config_drive")))

    # --- crash dump -------------------------------------------------------------------------

    @_libvirt_errors
    def trigger_crash_dump(self, instance):
        """An NMI to the guest (virDomainInjectNMI); libvirt refuses it for
        a domain that is not running (InstanceInvalidState)."""
        dom = self._host.lookup(instance["uuid"])
        try:
            dom.injectNMI(0)
        except libvirt.libvirtError as error:
            if error.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT:
                raise exceptions.NotSupported(
                    f"the hypervisor cannot inject an NMI: {error}") from None
            raise

    # --- helpers --------------------------------------------------------------------------

    def _files(self, uuid):
        return disks.InstanceFiles(self.instances_path, uuid)

    def _power_state(self, dom):
        state = dom.info()[0]
        if state == libvirt.VIR_DOMAIN_SHUTOFF and dom.hasManagedSaveImage(0):
            return power_state.SUSPENDED
        return _POWER_STATES.get(state, power_state.NOSTATE)

    def _in_state(self, instance, required, action):
        dom = self._host.lookup(instance["uuid"])
        current = self._power_state(dom)
        if current != required:
            raise exceptions.InstanceInvalidState(
                f"cannot {action} instance {instance['uuid']}: it is "
                f"{power_state.NAMES[current]}, not {power_state.NAMES[required]}")
        return dom

    @staticmethod
    def _call(method, *args):
        try:
            return method(*args)
        except libvirt.libvirtError as error:
            raise host.translate(error) from None

    def _clean_shutdown(self, dom, timeout, retry_interval):
        """Ask the guest to shut down until it has or ``timeout`` passed; True if it did."""
        deadline = time.monotonic() + timeout
        next_request = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_request:
                try:
                    dom.shutdown()
                except libvirt.libvirtError:
                    if not dom.isActive():
                        return True
                    raise
                next_request = time.monotonic() + (retry_interval or timeout)
            if not dom.isActive():
                return True
            time.sleep(_POLL_SECONDS)
        return not dom.isActive()

    def _force_off(self, dom):
        try:
            dom.destroy()
        except libvirt.libvirtError as error:
            if dom.isActive():
                raise host.translate(error) from None

    def _remove_domain(self, dom):
        if dom is None:
            return
        self._force_off(dom)
        try:
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
        except libvirt.libvirtError as error:
            if error.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                raise host.translate(error) from None

    def _image_path(self, context, image_id, expected_format=None):
        return disks.cached_image(
            self.instances_path, image_id,
            lambda image, path: self.image_fetcher(context, image, path), expected_format)

    def _create_disks(self, context, instance, image_meta, files):
        image_id = (image_meta or {}).get("id") or instance.get("image_ref")
        if not image_id:
            raise disks.DiskError("the instance has no image (booting from volumes is not "
                                  "supported by nova_runtime)")
        base, base_format = self._image_path(context, image_id,
                                             (image_meta or {}).get("disk_format"))
        disks.create_root(files.root, base, base_format, instance.get("root_gb") or 0)
        if instance.get("ephemeral_gb"):
            disks.create_blank(files.ephemeral, instance["ephemeral_gb"])

    def _resize_ephemeral(self, files, size_gb):
        if not size_gb:
            return
        if os.path.exists(files.ephemeral):
            disks.grow(files.ephemeral, size_gb)
        else:
            disks.create_blank(files.ephemeral, size_gb)

    def _ensure_backing(self, context, instance, image_meta, root):
        """Fetch the root disk's image into this host's cache if it is not there."""
        backing = disks.info(root).get("full-backing-filename")
        if backing and not os.path.exists(backing):
            image_id = (image_meta or {}).get("id") or instance.get("image_ref")
            path, _fmt = self._image_path(context, image_id)
            if path != backing:
                raise disks.DiskError(f"the root disk's image {backing} is not on this host "
                                      f"and the cache holds it at {path}")

    @staticmethod
    def _attach_config_drive(files, block_device_info):
        source = (block_device_info or {}).get("configdrive_path")
        if source and os.path.abspath(source) != files.config_drive:
            shutil.copyfile(source, files.config_drive)

    # --- the flat network (network/linux_net.py) -----------------------------------------

    def _plug(self, instance, network_info):
        if self._flat is not None:
            self._flat.plug(instance, network_info)

    def _unplug(self, uuid):
        """Forget the instance's lease; a failure is logged, not raised: the
        instance goes anyway, and the next start of nova-compute forgets it."""
        if self._flat is None:
            return
        try:
            self._flat.unplug(uuid)
        except linux_net.FlatHostError as error:
            LOG.error("Instance %s: cannot remove its lease from bridge %s: %s",
                      uuid, self._flat.bridge, error)

    def _source_of_resize(self, uuid):
        """Whether this host holds the source copy of the instance's resize or
        migration (a same-host resize reverting destroys the new copy only)."""
        try:
            with open(os.path.join(self._files(uuid).resize_dir, "migration.json"),
                      encoding="utf-8") as f:
                return json.load(f)["source"] == self.host
        except (OSError, ValueError, KeyError):
            return False

    def _define(self, instance, image_meta, network_info, files):
        disk_list = [domain.Disk(files.root, "qcow2", "root")]
        if os.path.exists(files.ephemeral):
            disk_list.append(domain.Disk(files.ephemeral, "qcow2", "ephemeral"))
        if os.path.exists(files.config_drive):
            disk_list.append(domain.Disk(files.config_drive, "raw", "config"))
        xml = domain.build(
            instance, image_meta, network_info, disk_list, virt_type=self.virt_type,
            vnc_listen=self.conf.vnc.server_listen if self.conf.vnc.enabled else None,
            console_log=files.console_log)
        prepare_console_log(files.console_log)
        disks.write(files.domain_xml, xml)
        return self._host.conn.defineXML(xml)
