"""Domain XML of the libvirt driver (nova_runtime.virt.libvirt.domain), parsed back."""

import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("libvirt")

from nova_runtime.virt.libvirt import domain  # noqa: E402

UUID = "6c1a0f3e-8f1e-4d0b-9d55-3c8e2f4b7a10"
INSTANCE = {"uuid": UUID, "hostname": "web-1", "vcpus": 2, "memory_mb": 1536, "root_gb": 5,
            "ephemeral_gb": 1, "image_ref": "img-1"}
VIFS = [
    {"address": "fa:16:3e:00:00:01", "fixed_ip": "10.0.0.5", "bridge": "br100",
     "cidr": "10.0.0.0/24", "gateway": "10.0.0.1"},
    {"address": "FA:16:3E:00:00:02", "fixed_ip": "10.0.1.5", "bridge": "br200"},
]
DISKS = [domain.Disk("/i/disk", "qcow2", "root"), domain.Disk("/i/disk.eph0", "qcow2", "ephemeral"),
         domain.Disk("/i/disk.config", "raw", "config")]


def build(properties=None, virt_type="qemu", vnc_listen="192.0.2.10", vifs=VIFS, disks=DISKS,
          instance=INSTANCE):
    xml = domain.build(instance, {"id": "img-1", "properties": properties or {}}, vifs, disks,
                       virt_type=virt_type, vnc_listen=vnc_listen, console_log="/i/console.log",
                       host_arch="x86_64")
    return ET.fromstring(xml)


def disks_of(root):
    return [(d.get("device"), d.find("source").get("file"), d.find("driver").get("type"),
             d.find("target").get("dev"), d.find("target").get("bus"),
             d.find("readonly") is not None)
            for d in root.findall("./devices/disk")]


def test_defaults_from_flavor_and_network():
    root = build()
    assert root.get("type") == "qemu"
    assert root.findtext("name") == f"instance-{UUID}"
    assert root.findtext("uuid") == UUID
    assert root.find("memory").attrib == {"unit": "MiB"} and root.findtext("memory") == "1536"
    assert root.findtext("vcpu") == "2"
    assert root.find("./os/type").get("arch") == "x86_64"
    assert root.find("./os/type").get("machine") is None  # QEMU's default machine
    assert root.find("cpu") is None  # TCG: QEMU's default CPU model
    assert root.find("./clock").get("offset") == "utc"
    assert root.find("./features/acpi") is not None  # clean shutdowns need ACPI
    assert disks_of(root) == [
        ("disk", "/i/disk", "qcow2", "vda", "virtio", False),
        ("disk", "/i/disk.eph0", "qcow2", "vdb", "virtio", False),
        ("cdrom", "/i/disk.config", "raw", "hda", "ide", True),
    ]
    interfaces = [(i.get("type"), i.find("mac").get("address"), i.find("source").get("bridge"),
                   i.find("model").get("type")) for i in root.findall("./devices/interface")]
    assert interfaces == [("bridge", "fa:16:3e:00:00:01", "br100", "virtio"),
                          ("bridge", "fa:16:3e:00:00:02", "br200", "virtio")]
    graphics = root.find("./devices/graphics")
    assert graphics.attrib == {"type": "vnc", "autoport": "yes", "listen": "192.0.2.10"}
    assert root.find("./devices/video/model").get("type") == "vga"
    # ttyS0 on a pty, logged by virtlogd (which bounds the file) and kept across restarts.
    serial = root.find("./devices/serial")
    assert serial.get("type") == "pty" and serial.find("target").get("port") == "0"
    assert serial.find("log").attrib == {"file": "/i/console.log", "append": "on"}
    console = root.find("./devices/console")
    assert console.get("type") == "pty"
    assert console.find("target").attrib == {"type": "serial", "port": "0"}
    system = {e.get("name"): e.text for e in root.findall("./sysinfo/system/entry")}
    assert system["product"] == "OpenStack Nova" and system["serial"] == UUID


def test_image_properties():
    root = build({"hw_disk_bus": "scsi", "hw_cdrom_bus": "sata", "hw_vif_model": "e1000",
                  "hw_machine_type": "q35", "hw_video_model": "virtio", "os_type": "windows",
                  "hw_architecture": "x86_64"}, virt_type="kvm")
    assert root.get("type") == "kvm"
    assert root.find("cpu").get("mode") == "host-model"
    assert root.find("./os/type").get("machine") == "q35"
    assert disks_of(root) == [
        ("disk", "/i/disk", "qcow2", "sda", "scsi", False),
        ("disk", "/i/disk.eph0", "qcow2", "sdb", "scsi", False),
        ("cdrom", "/i/disk.config", "raw", "sdc", "sata", True),
    ]
    assert root.find("./devices/controller[@type='scsi']").get("model") == "virtio-scsi"
    assert {i.find("model").get("type") for i in root.findall("./devices/interface")} == {"e1000"}
    assert root.find("./devices/video/model").get("type") == "virtio"
    assert root.find("./clock").get("offset") == "localtime"
    assert root.find("./features/hyperv/relaxed").get("state") == "on"


def test_q35_puts_the_config_drive_on_sata():
    cdrom = disks_of(build({"hw_machine_type": "q35"}))[-1]
    assert cdrom[0] == "cdrom" and cdrom[4] == "sata"


def test_no_graphics_without_vnc_and_no_interfaces_without_network():
    root = build(vnc_listen=None, vifs=[])
    assert root.find("./devices/graphics") is None
    assert root.find("./devices/video") is None
    assert root.findall("./devices/interface") == []


@pytest.mark.parametrize("properties, message", [
    ({"hw_disk_bus": "floppy"}, "hw_disk_bus='floppy' is not supported"),
    ({"hw_vif_model": "vmxnet3"}, "hw_vif_model='vmxnet3' is not supported"),
    ({"hw_cdrom_bus": "virtio"}, "hw_cdrom_bus='virtio' is not supported"),
    ({"hw_machine_type": "pc'/><evil"}, "hw_machine_type=.* is not a valid name"),
    ({"hw_machine_type": "q35", "hw_disk_bus": "ide"}, "q35 has no IDE bus"),
    ({"hw_machine_type": "pc-q35-7.2", "hw_cdrom_bus": "ide"}, "has no IDE bus"),
])
def test_bad_image_properties_are_named(properties, message):
    with pytest.raises(domain.DomainConfigError, match=message):
        build(properties)


@pytest.mark.parametrize("vif, message", [
    ({"address": "10.0.0.5", "bridge": "br100"}, "has no MAC address"),
    ({"address": "fa:16:3e:00:00:01"}, "no valid bridge name"),
    ({"address": "fa:16:3e:00:00:01", "bridge": "br 100; rm"}, "no valid bridge name"),
])
def test_bad_network_info(vif, message):
    with pytest.raises(domain.DomainConfigError, match=message):
        build(vifs=[vif])


@pytest.mark.parametrize("field, value", [("vcpus", 0), ("memory_mb", None), ("vcpus", "2")])
def test_bad_flavor(field, value):
    with pytest.raises(domain.DomainConfigError, match=field):
        build(instance=dict(INSTANCE, **{field: value}))


def test_ide_has_four_slots():
    disks = [domain.Disk(f"/i/d{n}", "qcow2", "ephemeral") for n in range(5)]
    with pytest.raises(domain.DomainConfigError, match="IDE bus has 4 slots"):
        build({"hw_disk_bus": "ide"}, disks=disks)


def test_many_virtio_disks_get_distinct_names():
    disks = [domain.Disk(f"/i/d{n}", "qcow2", "ephemeral") for n in range(28)]
    names = [entry[3] for entry in disks_of(build(disks=disks))]
    assert names[:2] == ["vda", "vdb"] and names[25:] == ["vdz", "vdaa", "vdab"]
    assert len(set(names)) == 28


@pytest.mark.parametrize("graphics, port", [
    ("<graphics type='vnc' port='5901' autoport='yes' listen='127.0.0.1'/>", 5901),
    ("<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>", None),
    ("<graphics type='spice' port='5930'/>", None),
    ("", None),
])
def test_vnc_port_from_live_xml(graphics, port):
    assert domain.vnc_port(f"<domain><devices>{graphics}</devices></domain>") == port
