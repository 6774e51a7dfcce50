"""The libvirt driver against real QEMU (virt_type = qemu, TCG) on a private libvirtd.

What libvirt's test driver cannot show: QEMU accepts the domain XML and runs
it, binds a VNC port, writes the memory of a suspended instance, and holds
its disk while qemu-img reads it for a snapshot. The guest is the cached test
image (no operating system: SeaBIOS finds nothing to boot and waits), so a
clean shutdown is never answered and power_off has to force it off after its
timeout, as with a hung guest.

Needs root, libvirtd, virtlogd and qemu-system-x86_64 (tools/bootstrap.sh
installs them); about 20 s. Deselect with -m 'not libvirtd'.
"""

import os
import shutil
import socket
import tempfile
import uuid

import pytest

pytest.importorskip("libvirt")

from nova_runtime import config, context as nova_context  # noqa: E402
from nova_runtime.compute import power_state  # noqa: E402
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
