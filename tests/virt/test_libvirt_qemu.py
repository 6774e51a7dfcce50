"""The libvirt driver against real QEMU (virt_type = qemu, TCG) on a private libvirtd.

What libvirt's test driver cannot show: QEMU accepts the domain XML and runs
it, binds a VNC port, writes the memory of a suspended instance, and holds
its disk while qemu-img reads it for a snapshot. The guest is the cached test
image (no operating system: SeaBIOS finds nothing to boot and waits), so a
clean shutdown is never answered and power_off has to force it off after its
timeout, as with a hung guest.

test_the_serial_console_is_logged boots a disk whose boot sector prints a
line on the first serial port: the line reaches console.log through virtlogd
and get_console_output, and stays there across a stop and a start.

Needs root, libvirtd, virtlogd and qemu-system-x86_64 (tools/bootstrap.sh
installs them); about 30 s. Deselect with -m 'not libvirtd'.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

pytest.importorskip("libvirt")

from nova_runtime import config, context as nova_context  # noqa: E402
from nova_runtime.states import power_state  # noqa: E402
from nova_runtime.virt import driver as virt_driver  # noqa: E402
from tests.virt import libvirt_lab  # noqa: E402

pytestmark = pytest.mark.libvirtd
CONTEXT = nova_context.get_admin_context()


@pytest.fixture(scope="module")
def libvirtd(tmp_path_factory):
    reason = libvirt_lab.PrivateLibvirtd.missing()
    if reason:
        pytest.skip(f"no private libvirtd: {reason}")
    daemon = libvirt_lab.PrivateLibvirtd(str(tmp_path_factory.mktemp("libvirtd"))).start()
    yield daemon
    daemon.stop()


@pytest.fixture
def instances_path():
    # QEMU runs as libvirt-qemu: every directory above the disks must let it
    # through, which pytest's private (0700) tmp_path does not.
    path = tempfile.mkdtemp(prefix="nova-qemu-instances-")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def driver(libvirtd, instances_path, tmp_path):
    conf = config.new_conf()
    conf([])
    conf.set_override("host", "qemu-host")
    conf.set_override("instances_path", instances_path)
    conf.set_override("virt_type", "qemu", group="libvirt")
    conf.set_override("connection_uri", libvirtd.uri, group="libvirt")
    conf.set_override("wait_soft_reboot_seconds", 1, group="libvirt")
    driver = virt_driver.load_driver(conf, "libvirt.LibvirtDriver")
    driver.image_fetcher = libvirt_lab.ImageStore(str(tmp_path / "glance")).fetch
    driver.init_host("qemu-host")
    yield driver
    for instance_uuid in driver.list_instances():
        driver.destroy(CONTEXT, {"uuid": instance_uuid})
    driver.cleanup_host("qemu-host")


def test_a_real_domain_through_its_lifecycle(driver, tmp_path):
    resources = driver.get_available_resource("qemu-host")
    assert resources["hypervisor_type"] == "QEMU"
    assert ["x86_64", "qemu", "hvm"] in resources["supported_instances"]

    instance = {"uuid": str(uuid.uuid4()), "hostname": "tiny", "vcpus": 1, "memory_mb": 64,
                "root_gb": 1, "ephemeral_gb": 0}
    image = {"id": str(uuid.uuid4()), "disk_format": "qcow2", "properties": {}}
    driver.spawn(CONTEXT, instance, image, [], None)
    assert driver.get_info(instance).state == power_state.RUNNING

    console = driver.get_vnc_console(CONTEXT, instance)
    assert console.host == "127.0.0.1" and console.port >= 5900
    with socket.create_connection((driver.conf.vnc.server_listen, console.port), timeout=5) as vnc:
        assert vnc.recv(12).startswith(b"RFB ")  # QEMU's VNC server greets

    driver.pause(instance)
    assert driver.get_info(instance).state == power_state.PAUSED
    driver.unpause(instance)

    snapshot = driver.snapshot(CONTEXT, instance, "snap", lambda **kwargs: None)
    payload = tmp_path / "snapshot.qcow2"
    with snapshot.data as data:
        payload.write_bytes(data.read())
    assert libvirt_lab.image_info(str(payload))["format"] == "qcow2"
    assert driver.get_info(instance).state == power_state.RUNNING

    driver.suspend(CONTEXT, instance)  # QEMU writes the guest's memory out
    assert driver.get_info(instance).state == power_state.SUSPENDED
    driver.resume(CONTEXT, instance)
    assert driver.get_info(instance).state == power_state.RUNNING

    driver.power_off(instance, timeout=1, retry_interval=1)  # the guest ignores ACPI
    assert driver.get_info(instance).state == power_state.SHUTDOWN
    driver.reboot(CONTEXT, instance, reboot_type=virt_driver.REBOOT_HARD)
    assert driver.get_info(instance).state == power_state.RUNNING
    driver.reboot(CONTEXT, instance, reboot_type=virt_driver.REBOOT_SOFT)  # falls back to hard
    assert driver.get_info(instance).state == power_state.RUNNING

    driver.destroy(CONTEXT, instance)
    assert driver.list_instances() == []


SERIAL_MARKER = b"nova-runtime: hello from the boot sector"


def boot_sector(message):
    """A 512-byte MBR (16-bit real mode at 0:7c00) that writes ``message``
    to COM1 (port 0x3f8) and halts; QEMU's UART needs no setup."""
    code = bytes([
        0xFC,                    # cld
        0x31, 0xC0,              # xor ax, ax
        0x8E, 0xD8,              # mov ds, ax
        0xBE, 0x16, 0x7C,        # mov si, 0x7c16 (the message, after this code)
        0xBA, 0xF8, 0x03,        # mov dx, 0x3f8
        0xAC,                    # next: lodsb
        0x84, 0xC0,              # test al, al
        0x74, 0x03,              # jz halt
        0xEE,                    # out dx, al
        0xEB, 0xF8,              # jmp next
        0xF4,                    # halt: hlt
        0xEB, 0xFD,              # jmp halt
    ])
    assert len(code) == 0x16
    sector = code + message + b"\r\n\0"
    return sector.ljust(510, b"\0") + b"\x55\xaa"


def test_the_serial_console_is_logged(driver, tmp_path):
    disk = tmp_path / "serial-guest.raw"
    disk.write_bytes(boot_sector(SERIAL_MARKER).ljust(1024 * 1024, b"\0"))
    qcow2 = tmp_path / "serial-guest.qcow2"
    subprocess.run(["qemu-img", "convert", "-q", "-O", "qcow2", str(disk), str(qcow2)],
                   check=True)
    driver.image_fetcher = lambda context, image_id, path: shutil.copyfile(qcow2, path)
    instance = {"uuid": str(uuid.uuid4()), "hostname": "serial", "vcpus": 1, "memory_mb": 64,
                "root_gb": 1, "ephemeral_gb": 0}
    image = {"id": str(uuid.uuid4()), "disk_format": "qcow2", "properties": {}}
    driver.spawn(CONTEXT, instance, image, [], None)

    def printed(times):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            output = driver.get_console_output(CONTEXT, instance)
            if output.count(SERIAL_MARKER.decode()) >= times:
                return output
            time.sleep(0.5)
        raise AssertionError(f"the guest's line did not reach the console log: {output!r}")

    printed(1)
    log = os.path.join(driver.instances_path, instance["uuid"], "console.log")
    assert os.path.getsize(log) > 0  # virtlogd wrote the file, in the instance directory
    driver.power_off(instance)
    assert SERIAL_MARKER.decode() in driver.get_console_output(CONTEXT, instance)
    driver.power_on(CONTEXT, instance)
    printed(2)  # the log is appended to: the first boot's line is still there
    driver.destroy(CONTEXT, instance)
