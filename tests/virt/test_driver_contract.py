"""The contract of nova_runtime.virt.driver.ComputeDriver, checked against every driver.

Each driver joins DRIVERS: the fake driver and its failing variants, and the
libvirt driver on libvirt's in-memory test:///default connection (the second
host that migrations need is a private in-memory host, see libvirt_lab.py;
both share one instances_path, as hosts with shared storage do). Drivers that
fail on purpose (fake.SpawnFailsDriver, fake.MigrationFailsDriver) must fail
the way the contract says: with the documented exception, leaving nothing
half done.

Where libvirt's test driver cannot do what a real hypervisor does, the case
says so (DriverCase flags) and the test checks what the driver does instead:

- it never assigns VNC ports (QEMU does, at start): get_vnc_console says
  InstanceInvalidState; test_libvirt_domain.py checks reading a real port.
- it runs no guest: the serial console stays empty (test_libvirt_qemu.py
  reads a real guest's), a shutdown request always succeeds at once,
  managedSave writes no memory file.
"""

import dataclasses
import json
import uuid

import pytest

from nova_runtime import config, context as nova_context
from nova_runtime.states import power_state, task_states
from nova_runtime.virt import driver as virt_driver
from nova_runtime.virt import exceptions
from tests.virt import libvirt_lab

LIBVIRT_SOURCE_HOST = "contract-host"


@dataclasses.dataclass
class DriverCase:
    name: str
    spawn_fails: bool = False
    migration_fails: bool = False
    libvirt: bool = False
    assigns_vnc_ports: bool = True
    runs_guests: bool = True  # a guest that writes to its serial console


class Hosts:
    """Makes the drivers of one test: each host's driver, with the case's settings."""

    def __init__(self, case, workdir):
        self.case = case
        self.workdir = workdir
        self.images = libvirt_lab.ImageStore(str(workdir / "glance")) if case.libvirt else None

    def make(self, host):
        conf = config.new_conf()
        conf([])
        conf.set_override("host", host)
        conf.set_override("vcpus", 8, group="fake_driver")
        conf.set_override("memory_mb", 16384, group="fake_driver")
        conf.set_override("local_gb", 200, group="fake_driver")
        if self.case.libvirt:
            uri = ("test:///default" if host == LIBVIRT_SOURCE_HOST
                   else libvirt_lab.private_uri(str(self.workdir / "nodes"), host))
            conf.set_override("connection_uri", uri, group="libvirt")
            conf.set_override("virt_type", "qemu", group="libvirt")
            conf.set_override("instances_path", str(self.workdir / "instances"))
        driver = virt_driver.load_driver(conf, self.case.name)
        if self.case.libvirt:
            driver.image_fetcher = self.images.fetch
        driver.init_host(host)
        return driver


DRIVERS = [
    pytest.param(DriverCase("fake.FakeDriver"), id="fake.FakeDriver"),
    pytest.param(DriverCase("fake.SpawnFailsDriver", spawn_fails=True),
                 id="fake.SpawnFailsDriver"),
    pytest.param(DriverCase("fake.MigrationFailsDriver", migration_fails=True),
                 id="fake.MigrationFailsDriver"),
    pytest.param(DriverCase("libvirt.LibvirtDriver", libvirt=True, assigns_vnc_ports=False,
                            runs_guests=False),
                 id="libvirt.LibvirtDriver-test:///default"),
]

CONTEXT = nova_context.get_admin_context()
IMAGE = {"id": "0b6e9a3c-1f6f-4f0e-9a57-0d0f1f5cbb59", "disk_format": "qcow2",
         "container_format": "bare", "min_disk": 0, "min_ram": 0, "properties": {}}


def new_instance(**fields):
    instance = {"uuid": str(uuid.uuid4()), "hostname": "vm", "vcpus": 1, "memory_mb": 512,
                "root_gb": 1, "ephemeral_gb": 0, "image_ref": IMAGE["id"],
                "user_data": None, "key_data": None}
    instance.update(fields)
    return instance


def state(driver, instance):
    return driver.get_info(instance).state


@pytest.fixture(params=DRIVERS)
def case(request):
    return request.param


@pytest.fixture
def hosts(case, tmp_path):
    return Hosts(case, tmp_path)


@pytest.fixture
def driver(hosts):
    driver = hosts.make(LIBVIRT_SOURCE_HOST)
    yield driver
    for uuid_ in driver.list_instances():  # test:///default outlives the test otherwise
        driver.destroy(CONTEXT, {"uuid": uuid_})
    driver.cleanup_host(LIBVIRT_SOURCE_HOST)


@pytest.fixture
def running(case, driver):
    """A spawned instance; drivers whose spawn fails by design have none."""
    if case.spawn_fails:
        pytest.skip("this driver's spawn fails by design: test_spawn checks how")
    instance = new_instance()
    driver.spawn(CONTEXT, instance, IMAGE, [], "secret")
    return instance


def supports(driver, capability):
    return driver.capabilities[capability]


# --- the driver itself ------------------------------------------------------------

def test_capabilities_declare_every_documented_key(driver):
    assert isinstance(driver, virt_driver.ComputeDriver)
    assert set(driver.capabilities) == set(virt_driver.CAPABILITIES)
    assert all(isinstance(value, bool) for value in driver.capabilities.values())


def test_nodes_and_their_resources(driver):
    nodes = driver.get_available_nodes()
    assert nodes and all(isinstance(node, str) and node for node in nodes)
    assert driver.get_available_nodes(refresh=True) == nodes
    for node in nodes:
        resources = driver.get_available_resource(node)
        for key, kind in virt_driver.RESOURCE_KEYS.items():
            assert isinstance(resources[key], kind), key
        assert resources["hypervisor_hostname"] == node
        assert min(resources["vcpus"], resources["memory_mb"], resources["local_gb"]) > 0
        assert min(resources["vcpus_used"], resources["memory_mb_used"],
                   resources["local_gb_used"]) >= 0
        json.dumps(resources["cpu_info"])  # stored as JSON in compute_nodes
        assert resources["supported_instances"]
        for triple in resources["supported_instances"]:
            assert len(triple) == 3 and all(isinstance(part, str) for part in triple)


# --- lifecycle ---------------------------------------------------------------------

def test_spawn(case, driver):
    instance = new_instance()
    if case.spawn_fails:
        with pytest.raises(exceptions.InstanceSpawnError):
            driver.spawn(CONTEXT, instance, IMAGE, [], "secret")
        assert instance["uuid"] not in driver.list_instances()  # nothing left behind
        with pytest.raises(exceptions.InstanceNotFound):
            driver.get_info(instance)
        return
    driver.spawn(CONTEXT, instance, IMAGE, [("/etc/motd", b"hello")], "secret")
    assert instance["uuid"] in driver.list_instances()
    assert state(driver, instance) == power_state.RUNNING
    with pytest.raises(exceptions.InstanceExists):
        driver.spawn(CONTEXT, instance, IMAGE, [], "secret")


def test_spawned_instances_use_resources(driver, running):
    node = driver.get_available_nodes()[0]
    used = driver.get_available_resource(node)
    bigger = new_instance(vcpus=2, memory_mb=1024, root_gb=5)
    driver.spawn(CONTEXT, bigger, IMAGE, [], "secret")
    more = driver.get_available_resource(node)
    assert more["vcpus_used"] >= used["vcpus_used"] + 2
    assert more["memory_mb_used"] >= used["memory_mb_used"] + 1024


def test_unknown_instance(driver):
    ghost = new_instance()
    with pytest.raises(exceptions.InstanceNotFound):
        driver.get_info(ghost)
    operations = [lambda: driver.power_off(ghost),
                  lambda: driver.power_off(ghost, timeout=1, retry_interval=1),
                  lambda: driver.power_on(CONTEXT, ghost),
                  lambda: driver.reboot(CONTEXT, ghost, reboot_type=virt_driver.REBOOT_SOFT),
                  lambda: driver.reboot(CONTEXT, ghost, reboot_type=virt_driver.REBOOT_HARD)]
    optional = {
        "supports_pause": [lambda: driver.pause(ghost), lambda: driver.unpause(ghost)],
        "supports_suspend": [lambda: driver.suspend(CONTEXT, ghost),
                             lambda: driver.resume(CONTEXT, ghost)],
        "supports_snapshot": [lambda: driver.snapshot(CONTEXT, ghost, str(uuid.uuid4()), _stub)],
        "supports_resize": [
            lambda: driver.migrate_disk_and_power_off(CONTEXT, ghost, "elsewhere", FLAVOR_UP),
            lambda: driver.finish_revert_migration(CONTEXT, ghost, [], MIGRATION)],
        "supports_vnc_console": [lambda: driver.get_vnc_console(CONTEXT, ghost)],
        "supports_console_output": [lambda: driver.get_console_output(CONTEXT, ghost)],
    }
    for capability, calls in optional.items():
        if supports(driver, capability):
            operations += calls
    for operation in operations:
        with pytest.raises(exceptions.InstanceNotFound):
            operation()
    driver.destroy(CONTEXT, ghost)  # safe to repeat: not an error
    assert ghost["uuid"] not in driver.list_instances()


def test_power_off_on_and_reboot(driver, running):
    driver.power_off(running, timeout=0)
    assert state(driver, running) == power_state.SHUTDOWN
    driver.power_on(CONTEXT, running)
    assert state(driver, running) == power_state.RUNNING
    driver.power_on(CONTEXT, running)  # already running: no change
    assert state(driver, running) == power_state.RUNNING
    driver.reboot(CONTEXT, running, reboot_type=virt_driver.REBOOT_SOFT)
    assert state(driver, running) == power_state.RUNNING
    driver.power_off(running)
    driver.reboot(CONTEXT, running, reboot_type=virt_driver.REBOOT_HARD)  # starts a stopped one
    assert state(driver, running) == power_state.RUNNING
    driver.power_off(running, timeout=5, retry_interval=1)  # asks the guest first
    assert state(driver, running) == power_state.SHUTDOWN
    driver.power_off(running)  # already off: no change
    assert state(driver, running) == power_state.SHUTDOWN


def test_destroy(driver, running):
    driver.destroy(CONTEXT, running)
    assert running["uuid"] not in driver.list_instances()
    with pytest.raises(exceptions.InstanceNotFound):
        driver.get_info(running)
    driver.destroy(CONTEXT, running)


def test_rebuild_from_another_image(case, hosts, driver, running):
    other_image = dict(IMAGE, id=str(uuid.uuid4()))
    try:
        driver.rebuild(CONTEXT, running, other_image, [], "secret")
    except exceptions.NotSupported:
        # nova-compute's way for drivers without a rebuild of their own
        driver.destroy(CONTEXT, running)
        driver.spawn(CONTEXT, running, other_image, [], "secret")
    assert state(driver, running) == power_state.RUNNING
    assert driver.list_instances().count(running["uuid"]) == 1
    if case.libvirt:
        assert hosts.images.fetched == [IMAGE["id"], other_image["id"]]


@pytest.mark.parametrize("capability, into, back, frozen", [
    ("supports_pause", "pause", "unpause", power_state.PAUSED),
    ("supports_suspend", "suspend", "resume", power_state.SUSPENDED),
])
def test_pause_and_suspend(driver, running, capability, into, back, frozen):
    def call(name, instance):
        method = getattr(driver, name)
        return method(instance) if name in ("pause", "unpause") else method(CONTEXT, instance)

    if not supports(driver, capability):
        with pytest.raises(exceptions.NotSupported):
            call(into, running)
        return
    call(into, running)
    assert state(driver, running) == frozen
    with pytest.raises(exceptions.InstanceInvalidState):
        call(into, running)  # not running any more
    call(back, running)
    assert state(driver, running) == power_state.RUNNING
    with pytest.raises(exceptions.InstanceInvalidState):
        call(back, running)  # nothing to undo; the instance is unchanged
    assert state(driver, running) == power_state.RUNNING


def test_snapshot_reports_its_task_state_and_hands_over_the_disk(case, hosts, driver, running,
                                                                   tmp_path):
    calls = []

    def update_task_state(task_state, expected_state=None):
        calls.append((task_state, expected_state))

    image_id = str(uuid.uuid4())
    if not supports(driver, "supports_snapshot"):
        with pytest.raises(exceptions.NotSupported):
            driver.snapshot(CONTEXT, running, image_id, update_task_state)
        return
    snapshot = driver.snapshot(CONTEXT, running, image_id, update_task_state)
    assert calls == [(task_states.IMAGE_PENDING_UPLOAD, None)]  # nova-compute sets UPLOADING
    assert state(driver, running) == power_state.RUNNING
    assert isinstance(snapshot, virt_driver.SnapshotImage)
    data = snapshot.data
    if hasattr(data, "read"):  # a file object: nova-compute reads, then closes it
        with data:
            data = data.read()
    assert isinstance(data, bytes) and data
    if case.libvirt:
        # A standalone qcow2 of the root disk: the image's data, no backing file.
        payload = tmp_path / "payload.qcow2"
        payload.write_bytes(data)
        info = libvirt_lab.image_info(str(payload))
        assert (snapshot.disk_format, info["format"]) == ("qcow2", "qcow2")
        assert "backing-filename" not in info
        assert info["virtual-size"] == running["root_gb"] * 1024 ** 3
        assert hosts.images.carries_pattern(str(payload))
        assert not list((tmp_path / "instances" / "snapshots").iterdir())  # nothing left behind
    else:
        assert driver.snapshots[image_id] == running["uuid"]
        assert running["uuid"].encode() in data


def test_snapshot_keeps_a_stopped_instance_stopped(driver, running):
    if not supports(driver, "supports_snapshot"):
        pytest.skip("the driver does not snapshot")
    driver.power_off(running)
    driver.snapshot(CONTEXT, running, str(uuid.uuid4()), _stub)
    assert state(driver, running) == power_state.SHUTDOWN


def test_consoles(case, driver, running):
    if not supports(driver, "supports_vnc_console"):
        with pytest.raises(exceptions.NotSupported):
            driver.get_vnc_console(CONTEXT, running)
    elif case.assigns_vnc_ports:
        console = driver.get_vnc_console(CONTEXT, running)
        assert isinstance(console, virt_driver.ConsoleVNC)
        assert console.host == driver.conf.vnc.server_proxyclient_address
        assert 0 < console.port < 65536
    else:
        # libvirt's test driver leaves port -1 where QEMU would put the port it bound.
        with pytest.raises(exceptions.InstanceInvalidState, match="assigned no VNC port"):
            driver.get_vnc_console(CONTEXT, running)
    if supports(driver, "supports_console_output"):
        assert isinstance(driver.get_console_output(CONTEXT, running), str)
    else:
        with pytest.raises(exceptions.NotSupported):
            driver.get_console_output(CONTEXT, running)


def test_console_output_outlives_the_guests_run(case, driver, running):
    """The log is there while the instance is shut off and keeps what the
    guest wrote before a stop and start (the API shows it in any state)."""
    if not supports(driver, "supports_console_output"):
        pytest.skip("no console output")
    booted = driver.get_console_output(CONTEXT, running)
    if case.runs_guests:
        assert booted.endswith("\n") and len(booted.splitlines()) > 3
    driver.power_off(running)
    stopped = driver.get_console_output(CONTEXT, running)
    assert stopped.startswith(booted)
    driver.power_on(CONTEXT, running)
    driver.reboot(CONTEXT, running, reboot_type=virt_driver.REBOOT_HARD)
    again = driver.get_console_output(CONTEXT, running)
    assert again.startswith(stopped)
    if case.runs_guests:
        assert len(again.splitlines()) > len(stopped.splitlines())  # it booted twice more
    driver.destroy(CONTEXT, running)
    with pytest.raises(exceptions.InstanceNotFound):
        driver.get_console_output(CONTEXT, running)


# --- resize and cold migration ------------------------------------------------------

FLAVOR_UP = {"vcpus": 2, "memory_mb": 1024, "root_gb": 2, "ephemeral_gb": 0}
MIGRATION = {"uuid": "5b7dd2d8-7d7e-4d57-b0a6-0d8e0f6b52a1", "migration_type": "resize"}


@pytest.fixture
def dest(hosts, driver):
    if not supports(driver, "supports_resize"):
        pytest.skip("the driver does not resize")
    dest = hosts.make("contract-dest")
    yield dest
    dest.cleanup_host("contract-dest")


def _migrate(case, source, dest, instance, flavor=FLAVOR_UP, dest_name="contract-dest",
             power_on=True):
    """The compute manager's sequence up to VERIFY_RESIZE; False if it failed by design."""
    if case.migration_fails:
        with pytest.raises(exceptions.MigrationError):
            source.migrate_disk_and_power_off(CONTEXT, instance, dest_name, flavor)
        assert state(source, instance) == power_state.RUNNING  # untouched
        return False
    disk_info = source.migrate_disk_and_power_off(CONTEXT, instance, dest_name, flavor)
    assert isinstance(disk_info, str)
    json.loads(disk_info)
    assert state(source, instance) == power_state.SHUTDOWN
    resized = dict(instance, **flavor)
    dest.finish_migration(CONTEXT, MIGRATION, resized, disk_info, [], IMAGE,
                          resize_instance=True, power_on=power_on)
    assert state(dest, resized) == (power_state.RUNNING if power_on else power_state.SHUTDOWN)
    return resized


def test_resize_confirmed(case, driver, dest, running):
    resized = _migrate(case, driver, dest, running)
    if not resized:
        return
    driver.confirm_migration(CONTEXT, MIGRATION, resized)
    assert running["uuid"] not in driver.list_instances()
    assert running["uuid"] in dest.list_instances()


def test_resized_instance_uses_the_new_flavor(case, driver, dest, running):
    node = dest.get_available_nodes()[0]
    before = dest.get_available_resource(node)
    if not _migrate(case, driver, dest, running):
        return
    after = dest.get_available_resource(node)
    assert after["vcpus_used"] >= before["vcpus_used"] + FLAVOR_UP["vcpus"]
    assert after["memory_mb_used"] >= before["memory_mb_used"] + FLAVOR_UP["memory_mb"]


def test_migration_finished_without_power_on(case, driver, dest, running):
    resized = _migrate(case, driver, dest, running, power_on=False)
    if not resized:
        return
    dest.power_on(CONTEXT, resized)
    assert state(dest, resized) == power_state.RUNNING


def test_resize_reverted(case, driver, dest, running):
    resized = _migrate(case, driver, dest, running)
    if not resized:
        return
    dest.destroy(CONTEXT, resized)
    driver.finish_revert_migration(CONTEXT, running, [], MIGRATION, power_on=True)
    assert state(driver, running) == power_state.RUNNING
    assert running["uuid"] not in dest.list_instances()


def test_resize_to_the_same_host_reverted(case, driver, running):
    if not (supports(driver, "supports_resize")
            and supports(driver, "supports_migrate_to_same_host")):
        pytest.skip("the driver does not resize on the same host")
    resized = _migrate(case, driver, driver, running)
    if not resized:
        return
    driver.destroy(CONTEXT, resized)
    driver.finish_revert_migration(CONTEXT, running, [], MIGRATION, power_on=True)
    assert state(driver, running) == power_state.RUNNING
    assert driver.list_instances().count(running["uuid"]) == 1


def test_resize_to_the_same_host_confirmed(case, driver, running):
    if not (supports(driver, "supports_resize")
            and supports(driver, "supports_migrate_to_same_host")):
        pytest.skip("the driver does not resize on the same host")
    resized = _migrate(case, driver, driver, running, dest_name=LIBVIRT_SOURCE_HOST)
    if not resized:
        return
    driver.confirm_migration(CONTEXT, MIGRATION, resized)
    assert driver.list_instances().count(running["uuid"]) == 1
    assert state(driver, resized) == power_state.RUNNING
    with pytest.raises(exceptions.InstanceNotFound):  # nothing left to revert to
        driver.finish_revert_migration(CONTEXT, running, [], MIGRATION)


def test_shrinking_the_root_disk_fails_cleanly(case, driver, running):
    if not supports(driver, "supports_resize"):
        pytest.skip("the driver does not resize")
    big = new_instance(root_gb=10)
    driver.spawn(CONTEXT, big, IMAGE, [], "secret")
    with pytest.raises(exceptions.MigrationError):
        driver.migrate_disk_and_power_off(
            CONTEXT, big, "contract-dest", dict(FLAVOR_UP, root_gb=1))
    assert state(driver, big) == power_state.RUNNING


# --- the base class --------------------------------------------------------------------

def _stub(*args, **kwargs):
    return None


class MinimalDriver(virt_driver.ComputeDriver):
    """Only the abstract lifecycle, no capability."""

    init_host = get_available_nodes = get_available_resource = list_instances = _stub
    get_info = spawn = destroy = power_off = power_on = reboot = _stub


def test_a_driver_without_capabilities_refuses_the_optional_methods():
    minimal = MinimalDriver(config.new_conf())
    assert not any(minimal.capabilities.values())
    instance = new_instance()
    for call in (lambda: minimal.pause(instance), lambda: minimal.unpause(instance),
                 lambda: minimal.suspend(CONTEXT, instance),
                 lambda: minimal.resume(CONTEXT, instance),
                 lambda: minimal.snapshot(CONTEXT, instance, "image", _stub),
                 lambda: minimal.migrate_disk_and_power_off(CONTEXT, instance, "h", FLAVOR_UP),
                 lambda: minimal.finish_migration(CONTEXT, MIGRATION, instance, "{}", [], IMAGE,
                                                  True),
                 lambda: minimal.confirm_migration(CONTEXT, MIGRATION, instance),
                 lambda: minimal.finish_revert_migration(CONTEXT, instance, [], MIGRATION),
                 lambda: minimal.get_vnc_console(CONTEXT, instance),
                 lambda: minimal.get_console_output(CONTEXT, instance)):
        with pytest.raises(exceptions.NotSupported):
            call()


def test_abstract_lifecycle_must_be_implemented():
    class Incomplete(virt_driver.ComputeDriver):
        def init_host(self, host):
            pass

    with pytest.raises(TypeError, match="abstract"):
        Incomplete(config.new_conf())


@pytest.mark.parametrize("name, reason", [
    ("FakeDriver", "not of the form MODULE.CLASS"),
    ("nosuch.Driver", "there is no virt driver module nova_runtime.virt.nosuch"),
    ("fake.NoSuchDriver", "nova_runtime.virt.fake has no driver NoSuchDriver"),
    ("fake.FakeInstance", "nova_runtime.virt.fake has no driver FakeInstance"),  # not a driver
])
def test_load_driver_names_what_is_wrong(name, reason):
    with pytest.raises(virt_driver.DriverLoadError, match=reason):
        virt_driver.load_driver(config.new_conf(), name)
