"""What the libvirt driver does beyond the shared contract, on libvirt's test driver:
the domain libvirt was given, disks under instances_path, failures that leave
nothing behind, config drives, resizes that grow disks, migrations that need
shared storage. Each test has its own in-memory libvirt host (libvirt_lab.private_uri).
"""

import os
import sys
import uuid
import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("libvirt")

from nova_runtime import config, context as nova_context  # noqa: E402
from nova_runtime.states import power_state  # noqa: E402
from nova_runtime.conf import libvirt as libvirt_conf  # noqa: E402
from nova_runtime.virt import driver as virt_driver  # noqa: E402
from nova_runtime.virt import exceptions  # noqa: E402
from nova_runtime.virt.libvirt import disks  # noqa: E402
from tests.virt import libvirt_lab  # noqa: E402

CONTEXT = nova_context.get_admin_context()
GiB = 1024 ** 3
VIF = {"address": "fa:16:3e:12:34:56", "fixed_ip": "10.0.0.5", "bridge": "br100",
       "cidr": "10.0.0.0/24", "gateway": "10.0.0.1"}


def image(**properties):
    return {"id": str(uuid.uuid4()), "disk_format": "qcow2", "container_format": "bare",
            "min_disk": 0, "min_ram": 0, "properties": properties}


def new_instance(**fields):
    instance = {"uuid": str(uuid.uuid4()), "hostname": "vm", "vcpus": 1, "memory_mb": 256,
                "root_gb": 1, "ephemeral_gb": 0}
    instance.update(fields)
    return instance


class Lab:
    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.images = libvirt_lab.ImageStore(str(tmp_path / "glance"))
        self.drivers = []

    def driver(self, host="h1", instances_path=None, **vnc):
        conf = config.new_conf()
        conf([])
        conf.set_override("host", host)
        conf.set_override("instances_path", str(instances_path or self.tmp_path / "instances"))
        conf.set_override("virt_type", "qemu", group="libvirt")
        conf.set_override("connection_uri",
                          libvirt_lab.private_uri(str(self.tmp_path / "nodes"), host),
                          group="libvirt")
        for name, value in vnc.items():
            conf.set_override(name, value, group="vnc")
        driver = virt_driver.load_driver(conf, "libvirt.LibvirtDriver")
        driver.image_fetcher = self.images.fetch
        driver.init_host(host)
        self.drivers.append(driver)
        return driver


@pytest.fixture
def lab(tmp_path):
    lab = Lab(tmp_path)
    yield lab
    for driver in lab.drivers:
        driver.cleanup_host(driver.host)


def live_xml(driver, instance):
    return ET.fromstring(driver._host.lookup(instance["uuid"]).XMLDesc(0))


def test_the_domain_libvirt_accepted(lab):
    driver = lab.driver(server_listen="127.0.0.2", server_proxyclient_address="192.0.2.7")
    instance = new_instance(vcpus=2, memory_mb=768)
    driver.spawn(CONTEXT, instance, image(hw_vif_model="e1000", hw_disk_bus="sata"), [], None,
                 network_info=[VIF])
    root = live_xml(driver, instance)
    assert root.get("type") == "qemu"
    assert root.findtext("uuid") == instance["uuid"]
    assert int(root.findtext("memory")) == 768 * 1024  # KiB
    assert root.findtext("vcpu") == "2"
    interface = root.find("./devices/interface")
    assert interface.get("type") == "bridge"
    assert interface.find("source").get("bridge") == "br100"
    assert interface.find("mac").get("address") == VIF["address"]
    assert interface.find("model").get("type") == "e1000"
    disk = root.find("./devices/disk")
    assert disk.find("source").get("file") == os.path.join(driver.instances_path,
                                                           instance["uuid"], "disk")
    assert disk.find("target").get("bus") == "sata"
    assert root.find("./devices/graphics").get("listen") == "127.0.0.2"


def test_root_disk_is_an_overlay_on_the_cached_image(lab):
    driver = lab.driver()
    base = image()
    first, second = new_instance(root_gb=2), new_instance(root_gb=0)
    driver.spawn(CONTEXT, first, base, [], None)
    driver.spawn(CONTEXT, second, base, [], None)
    assert lab.images.fetched == [base["id"]]  # fetched once, cached
    info = disks.info(disks.InstanceFiles(driver.instances_path, first["uuid"]).root)
    assert info["format"] == "qcow2"
    assert info["full-backing-filename"].startswith(
        os.path.join(driver.instances_path, disks.BASE_DIR))
    assert info["virtual-size"] == 2 * GiB
    # root_gb 0: the image's own size
    assert disks.info(disks.InstanceFiles(driver.instances_path, second["uuid"]).root)[
        "virtual-size"] == 64 * 1024 ** 2


def test_ephemeral_disk(lab):
    driver = lab.driver()
    instance = new_instance(ephemeral_gb=3)
    driver.spawn(CONTEXT, instance, image(), [], None)
    files = disks.InstanceFiles(driver.instances_path, instance["uuid"])
    assert disks.info(files.ephemeral)["virtual-size"] == 3 * GiB
    targets = [d.find("target").get("dev") for d in live_xml(driver, instance).findall(
        "./devices/disk")]
    assert targets == ["vda", "vdb"]


def _assert_nothing_left(driver, instance):
    assert instance["uuid"] not in driver.list_instances()
    assert not os.path.exists(os.path.join(driver.instances_path, instance["uuid"]))


@pytest.mark.parametrize("how, message", [
    ("bad property", "hw_disk_bus='floppy' is not supported"),
    ("image too big", r"root disk \(1 GB\) is smaller than the image"),
    ("glance fails", "Glance is down"),
    ("image with a backing file", "refers to other files"),
    ("not qcow2", "claims disk_format qcow2 but is raw"),
])
def test_failed_spawn_leaves_nothing(lab, tmp_path, how, message):
    driver = lab.driver()
    instance, meta = new_instance(), image()
    if how == "bad property":
        meta = image(hw_disk_bus="floppy")
    elif how == "image too big":
        big = str(tmp_path / "big.qcow2")
        disks.qemu_img("create", "-q", "-f", "qcow2", big, "2G")
        driver.image_fetcher = lambda context, image_id, path: os.link(big, path)
    elif how == "glance fails":
        def fetch(context, image_id, path):
            raise RuntimeError("Glance is down")
        driver.image_fetcher = fetch
    elif how == "image with a backing file":
        def fetch(context, image_id, path):  # would let the guest read a host file
            disks.qemu_img("create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/passwd",
                           path, "1M")
        driver.image_fetcher = fetch
    elif how == "not qcow2":
        driver.image_fetcher = lambda context, image_id, path: open(path, "wb").close()
    with pytest.raises(exceptions.InstanceSpawnError, match=message):
        driver.spawn(CONTEXT, instance, meta, [], None)
    _assert_nothing_left(driver, instance)
    if how not in ("bad property", "image too big"):  # a refused image is not kept
        base_dir = os.path.join(driver.instances_path, disks.BASE_DIR)
        assert [name for name in os.listdir(base_dir) if not name.endswith(".lock")] == []


def test_config_drive_is_a_cdrom_that_follows_a_resize(lab, tmp_path):
    driver = lab.driver()
    iso = tmp_path / "configdrive.iso"
    iso.write_bytes(b"config drive contents")
    instance, meta = new_instance(), image()
    driver.spawn(CONTEXT, instance, meta, [], None,
                 block_device_info={"configdrive_path": str(iso)})
    files = disks.InstanceFiles(driver.instances_path, instance["uuid"])
    cdrom = live_xml(driver, instance).find("./devices/disk[@device='cdrom']")
    assert cdrom.find("source").get("file") == files.config_drive
    assert cdrom.find("readonly") is not None
    disk_info = driver.migrate_disk_and_power_off(CONTEXT, instance, "h1",
                                                  {"root_gb": 2, "ephemeral_gb": 0})
    resized = dict(instance, root_gb=2)
    driver.finish_migration(CONTEXT, {}, resized, disk_info, [], meta, resize_instance=True)
    cdrom = live_xml(driver, resized).find("./devices/disk[@device='cdrom']")
    assert cdrom.find("source").get("file") == files.config_drive
    assert open(files.config_drive, "rb").read() == b"config drive contents"


def test_resize_grows_the_disks_and_revert_restores_them(lab):
    driver = lab.driver()
    instance, meta = new_instance(ephemeral_gb=1), image()
    driver.spawn(CONTEXT, instance, meta, [], None)
    files = disks.InstanceFiles(driver.instances_path, instance["uuid"])
    flavor = {"vcpus": 2, "memory_mb": 512, "root_gb": 3, "ephemeral_gb": 2}
    disk_info = driver.migrate_disk_and_power_off(CONTEXT, instance, "h1", flavor)
    resized = dict(instance, **flavor)
    driver.finish_migration(CONTEXT, {}, resized, disk_info, [], meta, resize_instance=True)
    assert disks.info(files.root)["virtual-size"] == 3 * GiB
    assert disks.info(files.ephemeral)["virtual-size"] == 2 * GiB
    assert live_xml(driver, resized).findtext("vcpu") == "2"
    driver.destroy(CONTEXT, resized)
    driver.finish_revert_migration(CONTEXT, instance, [], {})
    assert disks.info(files.root)["virtual-size"] == 1 * GiB
    assert live_xml(driver, instance).findtext("vcpu") == "1"
    assert driver.get_info(instance).state == power_state.RUNNING
    assert not os.path.exists(files.resize_dir)


def test_a_second_resize_waits_for_the_first(lab):
    driver = lab.driver()
    instance = new_instance()
    driver.spawn(CONTEXT, instance, image(), [], None)
    driver.migrate_disk_and_power_off(CONTEXT, instance, "h1", {"root_gb": 2})
    with pytest.raises(exceptions.MigrationError, match="confirm or revert it first"):
        driver.migrate_disk_and_power_off(CONTEXT, instance, "h1", {"root_gb": 3})


def test_migration_between_hosts_needs_shared_instances_path(lab, tmp_path):
    source = lab.driver("h1")
    dest = lab.driver("h2", instances_path=tmp_path / "elsewhere")
    instance, meta = new_instance(), image()
    source.spawn(CONTEXT, instance, meta, [], None)
    disk_info = source.migrate_disk_and_power_off(CONTEXT, instance, "h2", {"root_gb": 1})
    with pytest.raises(exceptions.MigrationError, match="instances_path on storage both hosts"):
        dest.finish_migration(CONTEXT, {}, instance, disk_info, [], meta, resize_instance=False)
    assert instance["uuid"] not in dest.list_instances()
    source.finish_revert_migration(CONTEXT, instance, [], {})
    assert source.get_info(instance).state == power_state.RUNNING


def test_suspended_instance_is_stopped_by_forgetting_its_memory(lab):
    driver = lab.driver()
    instance = new_instance()
    driver.spawn(CONTEXT, instance, image(), [], None)
    driver.suspend(CONTEXT, instance)
    domain = driver._host.lookup(instance["uuid"])
    assert domain.hasManagedSaveImage(0) and not domain.isActive()
    driver.power_off(instance)
    assert driver.get_info(instance).state == power_state.SHUTDOWN
    assert not domain.hasManagedSaveImage(0)


def test_destroy_keeps_disks_when_asked(lab):
    driver = lab.driver()
    instance = new_instance()
    driver.spawn(CONTEXT, instance, image(), [], None)
    driver.destroy(CONTEXT, instance, destroy_disks=False)
    assert instance["uuid"] not in driver.list_instances()
    assert os.path.exists(disks.InstanceFiles(driver.instances_path, instance["uuid"]).root)


def test_other_domains_are_not_instances(lab):
    driver = lab.driver()
    driver._host.conn.defineXML(
        "<domain type='qemu'><name>not-nova</name><memory unit='MiB'>64</memory>"
        "<os><type>hvm</type></os></domain>")
    assert driver.list_instances() == []


def test_resources_come_from_the_host(lab):
    driver = lab.driver()
    before = driver.get_available_resource("h1")
    stat = os.statvfs(driver.instances_path)
    assert before["local_gb"] == stat.f_blocks * stat.f_frsize // GiB
    assert (before["vcpus"], before["memory_mb"]) == (4, 8192)  # libvirt_lab's node file
    assert before["cpu_info"]["topology"] == {"sockets": 1, "cores": 4, "threads": 1}
    instance = new_instance(root_gb=20)
    driver.spawn(CONTEXT, instance, image(), [], None)
    after = driver.get_available_resource("h1")
    # A thin 20 GB disk may grow: disk_available_least counts that, local_gb_used not.
    assert before["disk_available_least"] - after["disk_available_least"] >= 19


def test_vnc_disabled(lab):
    driver = lab.driver(enabled=False)
    assert driver.capabilities["supports_vnc_console"] is False
    instance = new_instance()
    driver.spawn(CONTEXT, instance, image(), [], None)
    assert live_xml(driver, instance).find("./devices/graphics") is None
    with pytest.raises(exceptions.NotSupported):
        driver.get_vnc_console(CONTEXT, instance)


def test_the_console_log_is_made_before_the_guest_starts_so_nova_compute_reads_it(lab):
    # virtlogd appends to a log that exists and keeps its owner; one it makes
    # itself is root's, 0600, unreadable by a nova-compute running as nova.
    driver = lab.driver()
    instance = new_instance()
    driver.spawn(CONTEXT, instance, image(), [], None)
    log = disks.InstanceFiles(driver.instances_path, instance["uuid"]).console_log
    stat = os.stat(log)
    assert (stat.st_uid, stat.st_size, stat.st_mode & 0o777) == (os.getuid(), 0, 0o640)
    with open(log, "ab") as guest:  # what the guest wrote stays across a reboot
        guest.write(b"booted\n")
    driver.reboot(CONTEXT, instance, reboot_type=virt_driver.REBOOT_HARD)
    assert driver.get_console_output(CONTEXT, instance) == "booted\n"


def test_an_unreadable_console_log_is_a_virt_error(lab, monkeypatch):
    from nova_runtime.virt.libvirt import driver as libvirt_driver
    driver = lab.driver()
    instance = new_instance()
    driver.spawn(CONTEXT, instance, image(), [], None)

    def refused(path, size):
        raise PermissionError(13, "Permission denied", path)
    monkeypatch.setattr(libvirt_driver, "read_log_tail", refused)
    with pytest.raises(exceptions.VirtError, match="cannot be read by nova-compute"):
        driver.get_console_output(CONTEXT, instance)


def test_console_output_is_the_end_of_the_log_across_virtlogds_rotation(lab, monkeypatch):
    from nova_runtime.virt.libvirt import driver as libvirt_driver
    driver = lab.driver()
    instance = new_instance()
    driver.spawn(CONTEXT, instance, image(), [], None)
    assert driver.get_console_output(CONTEXT, instance) == ""  # nothing written yet
    log = disks.InstanceFiles(driver.instances_path, instance["uuid"]).console_log
    # virtlogd renames a full log to console.log.0 (older ones to .1, ...).
    with open(f"{log}.1", "wb") as oldest:
        oldest.write(b"first boot\n")
    with open(f"{log}.0", "wb") as older:
        older.write(b"a" * 30 + b"\nline \xc3\xa9\n")
    with open(log, "wb") as current:
        current.write(b"login: \xff\n")
    monkeypatch.setattr(libvirt_driver, "CONSOLE_LOG_BYTES", 30)
    # The last 30 bytes: the end of .0 and all of console.log; bad UTF-8 replaced.
    assert driver.get_console_output(CONTEXT, instance) == "a" * 12 + "\nline é\nlogin: \ufffd\n"
    monkeypatch.setattr(libvirt_driver, "CONSOLE_LOG_BYTES", 1000)
    assert driver.get_console_output(CONTEXT, instance).startswith("first boot\n" + "a" * 30)
    with pytest.raises(exceptions.InstanceNotFound):
        driver.get_console_output(CONTEXT, new_instance())


def test_connection_uri_follows_virt_type():
    conf = config.new_conf()
    conf([])
    for virt_type in ("kvm", "qemu"):
        conf.set_override("virt_type", virt_type, group="libvirt")
        assert libvirt_conf.connection_uri(conf) == "qemu:///system"
    conf.set_override("connection_uri", "test:///default", group="libvirt")
    assert libvirt_conf.connection_uri(conf) == "test:///default"


def test_unreachable_libvirt_is_hypervisor_unavailable(tmp_path):
    conf = config.new_conf()
    conf([])
    conf.set_override("instances_path", str(tmp_path))
    conf.set_override("connection_uri", f"qemu:///system?socket={tmp_path}/no-such-sock",
                      group="libvirt")
    driver = virt_driver.load_driver(conf, "libvirt.LibvirtDriver")
    with pytest.raises(exceptions.HypervisorUnavailable, match="cannot connect to libvirt"):
        driver.init_host("h1")


def test_load_driver_without_the_binding(monkeypatch):
    for name in list(sys.modules):
        if name == "libvirt" or name.startswith("nova_runtime.virt.libvirt"):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "libvirt", None)  # as if libvirt-python were missing
    with pytest.raises(virt_driver.DriverLoadError,
                       match="needs the Python module libvirt, which is not installed"):
        virt_driver.load_driver(config.new_conf(), "libvirt.LibvirtDriver")
