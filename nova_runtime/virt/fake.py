"""A virt driver without a hypervisor: instances live in the nova-compute process.

FakeDriver honours the whole contract of driver.ComputeDriver, with every
capability, and reports the resources [fake_driver] configures. Its subclasses
fail on purpose, for tests of what nova does when a hypervisor fails:

- SpawnFailsDriver: every spawn() raises InstanceSpawnError (reschedules;
  a rebuild, which spawns again, fails too);
- MigrationFailsDriver: migrate_disk_and_power_off() raises MigrationError
  (failed resizes and cold migrations).

Power states follow the operations (pause needs RUNNING, unpause PAUSED,
...); a resize or migration keeps the source copy, shut off, until confirm
(removed) or revert (running again); a snapshot returns a small payload that
names the instance and the image (snapshot_payload), and ``snapshots``
records which instance each image came from. FakeDriver has no rebuild of its
own: nova-compute destroys and spawns.

The fake guest writes its console log as a real one would (the last
CONSOLE_LINES lines are kept): at each boot what it was given (the image,
its interfaces and addresses, the config drive, the hostname, the key's
fingerprint as ssh-keygen -l shows it), then a line per power change.
"""

import base64
import collections
import dataclasses
import hashlib
import json
import threading
import time

from nova_runtime.states import power_state, task_states
from nova_runtime.virt import diagnostics, driver, exceptions

HYPERVISOR_TYPE = "fake"
HYPERVISOR_VERSION = 1000
VNC_BASE_PORT = 5900
CONSOLE_LINES = 1000  # the console log is bounded, as libvirt's (virtlogd rotates it)

# What the fake "host CPU" looks like to ComputeCapabilitiesFilter and friends.
_CPU_MODEL = "Fake Processor"
# Names of the legacy (before 2.48) diagnostics counters, per disk and per NIC.
_DISK_COUNTERS = ("read", "read_req", "write", "write_req", "errors")
_NIC_COUNTERS = ("rx", "rx_packets", "rx_errors", "rx_drop", "tx", "tx_packets", "tx_errors",
                 "tx_drop")


@dataclasses.dataclass
class FakeInstance:
    uuid: str
    state: int
    vcpus: int
    memory_mb: int
    disk_gb: int
    console_port: int
    nmi_count: int = 0  # trigger_crash_dump's NMIs
    console_log: collections.deque = dataclasses.field(
        default_factory=lambda: collections.deque(maxlen=CONSOLE_LINES))
    # What spawn was given: the interfaces, and the config drive's bytes (the
    # caller removes its file once spawn returns).
    network_info: list = dataclasses.field(default_factory=list)
    config_drive: bytes | None = None


class FakeDriver(driver.ComputeDriver):
    capabilities = {key: True for key in driver.CAPABILITIES}

    def __init__(self, conf):
        super().__init__(conf)
        self.host = None
        self._instances = {}  # uuid -> FakeInstance
        self._migrating = {}  # uuid -> FakeInstance: source copies awaiting confirm/revert
        self._lock = threading.Lock()
        self._next_port = VNC_BASE_PORT
        self.snapshots = {}  # image_id -> instance uuid, for tests to inspect

    # --- host ---------------------------------------------------------------------

    def init_host(self, host):
        self.host = host

    def cleanup_host(self, host):
        with self._lock:
            self._instances.clear()
            self._migrating.clear()

    @property
    def nodename(self):
        return self.conf.fake_driver.hypervisor_hostname or self.host or self.conf.host

    def get_available_nodes(self, refresh=False):
        return [self.nodename]

    def get_available_resource(self, nodename):
        settings = self.conf.fake_driver
        with self._lock:
            instances = list(self._instances.values())
            # Source copies of resizes to the same host hold their disk too.
            instances += [copy for copy in self._migrating.values()
                          if all(copy is not other for other in instances)]
        disk_used = sum(instance.disk_gb for instance in instances)
        return {
            "vcpus": settings.vcpus,
            "memory_mb": settings.memory_mb,
            "local_gb": settings.local_gb,
            "vcpus_used": sum(instance.vcpus for instance in instances),
            "memory_mb_used": sum(instance.memory_mb for instance in instances),
            "local_gb_used": disk_used,
            "disk_available_least": settings.local_gb - disk_used,
            "hypervisor_type": HYPERVISOR_TYPE,
            "hypervisor_version": HYPERVISOR_VERSION,
            "hypervisor_hostname": nodename,
            "cpu_info": {
                "arch": "x86_64", "model": _CPU_MODEL, "vendor": "Fake",
                "topology": {"sockets": 1, "cores": settings.vcpus, "threads": 1},
                "features": [],
            },
            "supported_instances": [["x86_64", HYPERVISOR_TYPE, "hvm"],
                                    ["i686", HYPERVISOR_TYPE, "hvm"]],
        }

    # --- lifecycle ------------------------------------------------------------------

    def list_instances(self):
        with self._lock:
            return sorted(self._instances)

    def get_info(self, instance):
        fake = self._get(instance)
        return driver.InstanceInfo(state=fake.state, internal_id=f"fake-{fake.uuid}")

    def spawn(self, context, instance, image_meta, injected_files, admin_password,
              network_info=None, block_device_info=None):
        time.sleep(self.conf.fake_driver.spawn_delay)  # a real spawn takes a while
        with self._lock:
            if instance["uuid"] in self._instances:
                raise exceptions.InstanceExists(f"instance {instance['uuid']} exists already")
            fake = self._new(instance, power_state.RUNNING)
            fake.network_info = list(network_info or [])
            config_drive = (block_device_info or {}).get("configdrive_path")
            if config_drive:
                with open(config_drive, "rb") as handle:
                    fake.config_drive = handle.read()
            _boot(fake, instance, image_meta)
            self._instances[instance["uuid"]] = fake

    def destroy(self, context, instance, network_info=None, block_device_info=None,
                destroy_disks=True):
        with self._lock:
            self._instances.pop(instance["uuid"], None)

    def power_off(self, instance, timeout=0, retry_interval=0):
        self._set_state(instance, power_state.SHUTDOWN, "powered off")

    def power_on(self, context, instance, network_info=None, block_device_info=None):
        fake = self._get(instance)
        with self._lock:
            if fake.state != power_state.RUNNING:
                fake.state = power_state.RUNNING
                _boot(fake, instance, None)

    def reboot(self, context, instance, network_info=None, reboot_type=driver.REBOOT_SOFT,
               block_device_info=None):
        fake = self._get(instance)
        with self._lock:
            fake.state = power_state.RUNNING
            _say(fake, f"reboot ({reboot_type.lower()})")
            _boot(fake, instance, None)

    def pause(self, instance):
        self._transition(instance, power_state.RUNNING, power_state.PAUSED, "pause")

    def unpause(self, instance):
        self._transition(instance, power_state.PAUSED, power_state.RUNNING, "unpause")

    def suspend(self, context, instance):
        self._transition(instance, power_state.RUNNING, power_state.SUSPENDED, "suspend")

    def resume(self, context, instance, network_info=None, block_device_info=None):
        self._transition(instance, power_state.SUSPENDED, power_state.RUNNING, "resume")

    def snapshot(self, context, instance, image_id, update_task_state):
        fake = self._get(instance)
        payload = snapshot_payload(fake, image_id)
        update_task_state(task_state=task_states.IMAGE_PENDING_UPLOAD)
        with self._lock:
            self.snapshots[image_id] = fake.uuid
        return driver.SnapshotImage(data=payload, disk_format="raw", container_format="bare")

    # --- resize and cold migration -------------------------------------------------

    def migrate_disk_and_power_off(self, context, instance, dest, flavor, network_info=None,
                                   block_device_info=None, timeout=0, retry_interval=0):
        fake = self._get(instance)
        old_root_gb = fake.disk_gb - (instance.get("ephemeral_gb") or 0)
        if flavor["root_gb"] < old_root_gb:
            raise exceptions.MigrationError(
                f"cannot shrink the root disk of {fake.uuid} from {old_root_gb} GB "
                f"to {flavor['root_gb']} GB")
        with self._lock:
            # The source copy stays listed, shut off, until confirm or revert.
            fake.state = power_state.SHUTDOWN
            self._migrating[fake.uuid] = fake
        return json.dumps({"disk_gb": fake.disk_gb, "source": self.host})

    def finish_migration(self, context, migration, instance, disk_info, network_info,
                         image_meta, resize_instance, block_device_info=None, power_on=True):
        json.loads(disk_info)  # a malformed disk_info is a bug of the caller
        state = power_state.RUNNING if power_on else power_state.SHUTDOWN
        with self._lock:
            # On a resize to the same host the new copy takes the name; the
            # source copy waits in _migrating.
            fake = self._new(instance, state)
            fake.network_info = list(network_info or [])
            if power_on:
                _boot(fake, instance, image_meta)
            self._instances[instance["uuid"]] = fake

    def confirm_migration(self, context, migration, instance, network_info=None):
        with self._lock:
            source = self._migrating.pop(instance["uuid"], None)
            if source is not None and self._instances.get(instance["uuid"]) is source:
                del self._instances[instance["uuid"]]  # another host has the instance now

    def finish_revert_migration(self, context, instance, network_info, migration,
                                block_device_info=None, power_on=True):
        with self._lock:
            source = self._migrating.pop(instance["uuid"], None)
            if source is None:
                raise exceptions.InstanceNotFound(
                    f"instance {instance['uuid']} has no source copy to revert to")
            source.state = power_state.RUNNING if power_on else power_state.SHUTDOWN
            self._instances[source.uuid] = source

    # --- consoles -----------------------------------------------------------------------

    def get_vnc_console(self, context, instance):
        fake = self._get(instance)
        return driver.ConsoleVNC(host=self.conf.vnc.server_proxyclient_address,
                                 port=fake.console_port)

    def get_console_output(self, context, instance):
        fake = self._get(instance)
        with self._lock:
            return "".join(f"{line}\n" for line in fake.console_log)

    # --- diagnostics ------------------------------------------------------------------
    # The fake guest does no I/O and keeps no CPU clock: its counters are 0.

    def get_diagnostics(self, instance):
        fake = self._get(instance)
        counters = {"memory": fake.memory_mb * 1024}  # KiB, as libvirt counts
        counters.update({f"cpu{index}_time": 0 for index in range(fake.vcpus)})
        if fake.disk_gb:
            counters.update({f"vda_{name}": 0 for name in _DISK_COUNTERS})
        for index in range(len(fake.network_info)):
            counters.update({f"eth{index}_{name}": 0 for name in _NIC_COUNTERS})
        return counters

    def get_instance_diagnostics(self, instance):
        fake = self._get(instance)
        running = fake.state == power_state.RUNNING
        return diagnostics.standard(
            # The API names only real drivers; the fake stands in for libvirt.
            state=power_state.NAMES[fake.state], driver="libvirt", hypervisor="fake",
            config_drive=fake.config_drive is not None,
            memory_maximum=fake.memory_mb, memory_used=fake.memory_mb if running else 0,
            cpus=[diagnostics.cpu(id=index, time=0, utilisation=0)
                  for index in range(fake.vcpus)],
            nics=[diagnostics.nic(mac_address=vif.get("address"),
                                  **dict.fromkeys(diagnostics.NIC_FIELDS[1:], 0))
                  for vif in fake.network_info],
            disks=[diagnostics.disk(**dict.fromkeys(diagnostics.DISK_FIELDS, 0))]
            if fake.disk_gb else [])

    # --- crash dump ---------------------------------------------------------------------

    def trigger_crash_dump(self, instance):
        """Recorded in the guest's console log ("fake-guest: nmi") and
        counted in ``nmi_count``; only a running guest takes it."""
        fake = self._get(instance)
        with self._lock:
            if fake.state != power_state.RUNNING:
                raise exceptions.InstanceInvalidState(
                    f"cannot inject an NMI into instance {fake.uuid}: it is "
                    f"{power_state.NAMES[fake.state]}")
            fake.nmi_count += 1
            _say(fake, "nmi")

    # --- helpers --------------------------------------------------------------------------

    def _new(self, instance, state):
        port = self._next_port
        self._next_port += 1
        return FakeInstance(
            uuid=instance["uuid"], state=state, vcpus=instance.get("vcpus") or 0,
            memory_mb=instance.get("memory_mb") or 0,
            disk_gb=(instance.get("root_gb") or 0) + (instance.get("ephemeral_gb") or 0),
            console_port=port)

    def _get(self, instance):
        with self._lock:
            fake = self._instances.get(instance["uuid"])
        if fake is None:
            raise exceptions.InstanceNotFound(f"instance {instance['uuid']} is not on this host")
        return fake

    def _set_state(self, instance, state, event=None):
        fake = self._get(instance)
        with self._lock:
            fake.state = state
            if event:
                _say(fake, event)

    def _transition(self, instance, required, state, action):
        fake = self._get(instance)
        with self._lock:
            if fake.state != required:
                raise exceptions.InstanceInvalidState(
                    f"cannot {action} instance {fake.uuid}: it is "
                    f"{power_state.NAMES[fake.state]}, not {power_state.NAMES[required]}")
            fake.state = state
            _say(fake, f"{action}d" if action.endswith("e") else f"{action}ed")


def _say(fake, text):
    fake.console_log.append(f"fake-guest: {text}")


def _boot(fake, instance, image_meta):
    """What the fake guest prints as it boots, from what it was given."""
    image_id = (image_meta or {}).get("id") or instance.get("image_ref") or "none"
    _say(fake, f"powered on: {fake.vcpus} vCPU, {fake.memory_mb} MiB, {fake.disk_gb} GB disk")
    _say(fake, f"booting image {image_id}")
    for index, vif in enumerate(fake.network_info):
        _say(fake, f"eth{index} {vif.get('address')} address {vif.get('fixed_ip')} "
                   f"gateway {vif.get('gateway')}")
    _say(fake, f"config drive {len(fake.config_drive)} bytes" if fake.config_drive
         else "no config drive")
    _say(fake, f"hostname {instance.get('hostname') or fake.uuid}")
    _say(fake, f"keys {_key_fingerprint(instance.get('key_data')) or 'none'}")
    _say(fake, f"ready uuid={fake.uuid}")


def _key_fingerprint(public_key):
    """SHA256:... of an OpenSSH public key, as ssh-keygen -l prints it."""
    try:
        blob = base64.b64decode(str(public_key).split()[1], validate=True)
    except (IndexError, ValueError):
        return None
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def snapshot_payload(fake, image_id):
    """The "disk" a FakeDriver snapshot uploads: it names the instance, its
    disk size and the image, so that a test can tell which snapshot it got."""
    return (f"fake disk of instance {fake.uuid}: {fake.disk_gb} GB, "
            f"snapshot image {image_id}\n").encode()


class SpawnFailsDriver(FakeDriver):
    """Every spawn fails, cleanly: the build can be rescheduled elsewhere."""

    def spawn(self, context, instance, image_meta, injected_files, admin_password,
              network_info=None, block_device_info=None):
        raise exceptions.InstanceSpawnError(
            f"spawn of instance {instance['uuid']} failed: injected by SpawnFailsDriver")


class MigrationFailsDriver(FakeDriver):
    """Every resize or cold migration fails at its first step, leaving the instance as it was."""

    def migrate_disk_and_power_off(self, context, instance, dest, flavor, network_info=None,
                                   block_device_info=None, timeout=0, retry_interval=0):
        self._get(instance)
        raise exceptions.MigrationError(
            f"migration of instance {instance['uuid']} failed: injected by MigrationFailsDriver")
