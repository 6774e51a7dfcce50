"""Domain XML: what an instance looks like to libvirt.

``build`` turns the instance's flavor (vcpus, memory_mb), its image's
properties and its network interfaces into a <domain> document; it is a pure
function (no libvirt call), so tests parse its output back. The image
properties read, as upstream Nova names them:

- ``hw_disk_bus`` (virtio, scsi, ide, sata, usb; default virtio) and
  ``hw_cdrom_bus`` (ide, sata, scsi, usb; default ide, sata on q35 machines);
- ``hw_vif_model`` (virtio, e1000, e1000e, rtl8139, ne2k_pci, pcnet; default virtio);
- ``hw_video_model`` (vga, cirrus, virtio, qxl; default vga);
- ``hw_machine_type`` (e.g. pc, q35; default: QEMU's default machine);
- ``hw_architecture`` or ``architecture`` (default: the host's);
- ``os_type``: windows gets a local-time clock and Hyper-V enlightenments.

A bad value is a DomainConfigError naming the property. Every interface is a
bridge port (nova's flat network, no Neutron): ``bridge`` is the host bridge,
``mac`` (or ``address`` when it holds a MAC) the guest's MAC address.

The domain is named ``instance-<uuid>`` and has the instance's UUID, so the
driver finds it by UUID and tells nova's domains from others by the name.
"""

import dataclasses
import platform
import re
import xml.etree.ElementTree as ET

NAME_PREFIX = "instance-"
METADATA_NS = "http://openstack.org/xmlns/libvirt/nova/1.1"

DISK_BUSES = ("virtio", "scsi", "ide", "sata", "usb")
CDROM_BUSES = ("ide", "sata", "scsi", "usb")
VIF_MODELS = ("virtio", "e1000", "e1000e", "rtl8139", "ne2k_pci", "pcnet")
VIDEO_MODELS = ("vga", "cirrus", "virtio", "qxl")

# Device name prefix per bus: vda, hda, sda...
_DEVICE_PREFIX = {"virtio": "vd", "ide": "hd", "scsi": "sd", "sata": "sd", "usb": "sd"}
_IDE_SLOTS = 4  # two controllers, two units each
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_BRIDGE = re.compile(r"^[A-Za-z0-9_.\-]{1,15}$")
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_X86 = ("x86_64", "i686")


class DomainConfigError(ValueError):
    """The flavor, image or network cannot be expressed as a domain; the
    message names the value at fault."""


@dataclasses.dataclass(frozen=True)
class Disk:
    """One disk of the instance: ``kind`` is root, ephemeral or config (the
    config drive, a read-only cdrom)."""

    path: str
    format: str  # qcow2 or raw
    kind: str = "root"

    @property
    def is_cdrom(self):
        return self.kind == "config"


def domain_name(uuid):
    return f"{NAME_PREFIX}{uuid}"


def build(instance, image_meta, network_info, disks, *, virt_type, vnc_listen=None,
          console_log=None, host_arch=None):
    """The domain XML (str) of ``instance``.

    ``disks``: Disk list, root first. ``vnc_listen``: address of the VNC
    server, None for no graphics. ``console_log``: file that receives the
    serial console (see _serial_console)."""
    props = (image_meta or {}).get("properties") or {}
    arch = _token(props, "hw_architecture", props.get("architecture")
                  or host_arch or platform.machine())
    machine = _token(props, "hw_machine_type", None)
    is_q35 = bool(machine) and "q35" in machine
    disk_bus = _choice(props, "hw_disk_bus", DISK_BUSES, "virtio")
    cdrom_bus = _choice(props, "hw_cdrom_bus", CDROM_BUSES, "sata" if is_q35 else "ide")
    vif_model = _choice(props, "hw_vif_model", VIF_MODELS, "virtio")
    video_model = _choice(props, "hw_video_model", VIDEO_MODELS, "vga")
    windows = str(props.get("os_type", "")).lower() == "windows"
    if is_q35 and "ide" in (disk_bus, cdrom_bus):
        raise DomainConfigError(f"machine type {machine} has no IDE bus: set hw_disk_bus "
                                "and hw_cdrom_bus to sata, scsi or virtio")

    memory_mb, vcpus = _positive(instance, "memory_mb"), _positive(instance, "vcpus")
    domain = ET.Element("domain", type=virt_type)
    ET.SubElement(domain, "name").text = domain_name(instance["uuid"])
    ET.SubElement(domain, "uuid").text = instance["uuid"]
    _metadata(domain, instance, image_meta)
    ET.SubElement(domain, "memory", unit="MiB").text = str(memory_mb)
    ET.SubElement(domain, "currentMemory", unit="MiB").text = str(memory_mb)
    ET.SubElement(domain, "vcpu").text = str(vcpus)
    _sysinfo(domain, instance)

    os_el = ET.SubElement(domain, "os")
    type_el = ET.SubElement(os_el, "type", arch=arch)
    type_el.text = "hvm"
    if machine:
        type_el.set("machine", machine)
    ET.SubElement(os_el, "boot", dev="hd")
    ET.SubElement(os_el, "smbios", mode="sysinfo")

    if arch in _X86:
        features = ET.SubElement(domain, "features")
        ET.SubElement(features, "acpi")  # a clean shutdown is an ACPI power button press
        ET.SubElement(features, "apic")
        if windows:
            hyperv = ET.SubElement(features, "hyperv")
            ET.SubElement(hyperv, "relaxed", state="on")
            ET.SubElement(hyperv, "vapic", state="on")
            ET.SubElement(hyperv, "spinlocks", state="on", retries="8191")
    if virt_type == "kvm":
        ET.SubElement(domain, "cpu", mode="host-model")
    ET.SubElement(domain, "clock", offset="localtime" if windows else "utc")
    for event, action in (("on_poweroff", "destroy"), ("on_reboot", "restart"),
                          ("on_crash", "destroy")):
        ET.SubElement(domain, event).text = action

    devices = ET.SubElement(domain, "devices")
    _disks(devices, disks, disk_bus, cdrom_bus)
    for index, vif in enumerate(network_info or []):
        _interface(devices, index, vif, vif_model)
    if console_log:
        _serial_console(devices, console_log)
    if vnc_listen:
        ET.SubElement(devices, "input", type="tablet", bus="usb")  # absolute pointer for VNC
        ET.SubElement(devices, "graphics", type="vnc", autoport="yes", listen=vnc_listen)
        video = ET.SubElement(devices, "video")
        ET.SubElement(video, "model", type=video_model)
    ET.SubElement(devices, "memballoon", model="virtio")
    ET.indent(domain)
    return ET.tostring(domain, encoding="unicode")


def vnc_port(domain_xml):
    """The port of the domain's VNC server in its live XML; None until
    libvirt assigned one (autoport shows -1 while the domain is off)."""
    graphics = ET.fromstring(domain_xml).find("./devices/graphics[@type='vnc']")
    if graphics is None:
        return None
    port = int(graphics.get("port", "-1"))
    return port if port > 0 else None


def vif_mac(vif):
    """The MAC address of a network_info entry (its ``address``)."""
    value = str(vif.get("address") or "").lower()
    if _MAC.match(value):
        return value
    raise DomainConfigError(f"network interface {vif!r} has no MAC address (address)")


# --- pieces -------------------------------------------------------------------------------

def _choice(props, name, allowed, default):
    value = props.get(name)
    if value in (None, ""):
        return default
    value = str(value).lower()
    if value not in allowed:
        raise DomainConfigError(
            f"image property {name}={value!r} is not supported; use one of {', '.join(allowed)}")
    return value


def _token(props, name, default):
    value = props.get(name) or default
    if value is None:
        return None
    value = str(value)
    if not _TOKEN.match(value):
        raise DomainConfigError(f"image property {name}={value!r} is not a valid name")
    return value


def _positive(instance, key):
    value = instance.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DomainConfigError(f"instance {instance.get('uuid')}: {key}={value!r} "
                                "must be a positive integer")
    return value


def _metadata(domain, instance, image_meta):
    """Who the domain is, for operators reading virsh dumpxml."""
    ET.register_namespace("nova", METADATA_NS)
    metadata = ET.SubElement(domain, "metadata")
    nova = ET.SubElement(metadata, f"{{{METADATA_NS}}}instance")
    ET.SubElement(nova, f"{{{METADATA_NS}}}name").text = str(instance.get("hostname") or "")
    ET.SubElement(nova, f"{{{METADATA_NS}}}flavor", memory=str(instance.get("memory_mb")),
                  vcpus=str(instance.get("vcpus")), disk=str(instance.get("root_gb") or 0),
                  ephemeral=str(instance.get("ephemeral_gb") or 0))
    image_id = (image_meta or {}).get("id") or instance.get("image_ref")
    if image_id:
        ET.SubElement(nova, f"{{{METADATA_NS}}}root", type="image", uuid=str(image_id))


def _sysinfo(domain, instance):
    """SMBIOS strings by which cloud-init recognises an OpenStack guest."""
    sysinfo = ET.SubElement(domain, "sysinfo", type="smbios")
    system = ET.SubElement(sysinfo, "system")
    for name, value in (("manufacturer", "OpenStack Foundation"), ("product", "OpenStack Nova"),
                        ("serial", instance["uuid"]), ("uuid", instance["uuid"]),
                        ("family", "Virtual Machine")):
        ET.SubElement(system, "entry", name=name).text = value


def _disks(devices, disks, disk_bus, cdrom_bus):
    used = {}  # device prefix -> next index
    if any(disk.is_cdrom and cdrom_bus == "scsi" or not disk.is_cdrom and disk_bus == "scsi"
           for disk in disks):
        ET.SubElement(devices, "controller", type="scsi", model="virtio-scsi")
    for disk in disks:
        bus = cdrom_bus if disk.is_cdrom else disk_bus
        prefix = _DEVICE_PREFIX[bus]
        index = used.get(prefix, 0)
        used[prefix] = index + 1
        if bus == "ide" and index >= _IDE_SLOTS:
            raise DomainConfigError(f"the IDE bus has {_IDE_SLOTS} slots; "
                                    f"{len(disks)} disks need hw_disk_bus=virtio")
        element = ET.SubElement(devices, "disk", type="file",
                                device="cdrom" if disk.is_cdrom else "disk")
        ET.SubElement(element, "driver", name="qemu", type=disk.format)
        ET.SubElement(element, "source", file=disk.path)
        ET.SubElement(element, "target", dev=prefix + _letters(index), bus=bus)
        if disk.is_cdrom:
            ET.SubElement(element, "readonly")


def _letters(index):
    """0 -> a, 25 -> z, 26 -> aa: the suffix of a disk device name."""
    suffix = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        suffix = chr(ord("a") + rest) + suffix
    return suffix


def _serial_console(devices, log_path):
    """The first serial port (the guest's ttyS0, also its <console>) on a
    pty, as upstream has it, whose output virtlogd writes to ``log_path``:
    virtlogd rotates the file at its max_size (2 MiB by default, keeping
    max_backups old ones as log_path.0, .1, ...), so a chatty guest cannot
    fill the disk. append: the log survives reboots and stop/start, which
    start a new QEMU."""
    serial = ET.SubElement(devices, "serial", type="pty")
    ET.SubElement(serial, "log", file=log_path, append="on")
    ET.SubElement(serial, "target", port="0")
    console = ET.SubElement(devices, "console", type="pty")
    ET.SubElement(console, "target", type="serial", port="0")


def _interface(devices, index, vif, model):
    bridge = str(vif.get("bridge") or "")
    if not _BRIDGE.match(bridge):
        raise DomainConfigError(f"network interface {index} has no valid bridge name: {bridge!r}")
    interface = ET.SubElement(devices, "interface", type="bridge")
    ET.SubElement(interface, "mac", address=vif_mac(vif))
    ET.SubElement(interface, "source", bridge=bridge)
    ET.SubElement(interface, "model", type=model)
