"""Server lifecycle actions in one process: reboot, pause, suspend, rebuild,
snapshot, resize with confirm and revert, cold migration; through
nova_runtime.compute.api, the super-conductor, nova-scheduler and fake
nova-computes on a fake:// transport with SQLite databases (the Cloud of
test_conductor_build). Snapshots go to a small Glance v2 stand-in over HTTP
that records what it is sent (the token too)."""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import itertools
import json
import threading
import time
import types
import urllib.parse
import uuid
from http import server

import pytest

from nova_runtime import context as nova_context
from nova_runtime.compute import api as compute_api
from nova_runtime.states import power_state
from nova_runtime.objects import compute_nodes, exceptions, instance_actions, instances
from nova_runtime.objects import migrations
from nova_runtime.virt import fake
from tests.unit import test_conductor_build as build_tests
from tests.unit.test_conductor_build import FLAVOR, IMAGE, events_of

TOKEN = "token-of-u1"
BIGGER = dict(FLAVOR, id=2, flavorid="2", name="m1.medium", memory_mb=1536, vcpus=2, root_gb=2)
NEW_IMAGE = {"id": "d4a2d6e8-5a0e-4cf5-9f4c-1d8d0a9e7b11", "min_ram": 0, "min_disk": 0,
             "disk_format": "qcow2", "container_format": "bare",
             "properties": {"os_type": "linux", "hw_architecture": "x86_64"}}


@pytest.fixture(autouse=True, scope="module")
def quick_rpc_server_stop():
    from futurist import _thread

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_thread.ThreadWorker, "MAX_IDLE_FOR", 0.05)
        yield


def context():
    return nova_context.RequestContext(user_id="u1", project_id="p1", auth_token=TOKEN,
                                       overwrite=False)


# --- a Glance v2 stand-in ---------------------------------------------------------------

class Glance(server.ThreadingHTTPServer):
    """Images in a dict; ``on_upload`` runs before an upload is accepted
    (a test looks at the instance then), ``fail_upload`` refuses it."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), GlanceHandler)
        self.images, self.data, self.tokens = {}, {}, []
        self.created = itertools.count()  # the images' order of creation
        self.on_upload = None
        self.fail_upload = False
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class GlanceHandler(server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status, body=None):
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _image_id(self):
        return self.path.split("/")[3]

    def do_POST(self):
        glance = self.server
        glance.tokens.append(self.headers.get("X-Auth-Token"))
        image = dict(json.loads(self._body()), id=str(uuid.uuid4()), status="queued",
                     created_at=f"2026-01-01T00:00:{next(glance.created):02d}Z")
        glance.images[image["id"]] = image
        self._answer(201, image)

    def do_GET(self):
        """One image, or the image list filtered on properties, newest first."""
        glance = self.server
        glance.tokens.append(self.headers.get("X-Auth-Token"))
        path = urllib.parse.urlsplit(self.path).path.rstrip("/").split("/")
        if len(path) > 3:
            image = glance.images.get(path[3])
            return self._answer(200, image) if image else self._answer(404)
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        for key in ("sort_key", "sort_dir", "limit"):
            query.pop(key, None)
        found = [image for image in glance.images.values()
                 if all(str(image.get(key)) == value for key, value in query.items())]
        found.sort(key=lambda image: image["created_at"], reverse=True)
        self._answer(200, {"images": found})

    def do_PATCH(self):
        glance = self.server
        glance.tokens.append(self.headers.get("X-Auth-Token"))
        image = glance.images.get(self._image_id())
        if image is None:
            return self._answer(404)
        for change in json.loads(self._body()):
            image[change["path"].lstrip("/")] = change["value"]
        self._answer(200, image)

    def do_PUT(self):
        glance = self.server
        glance.tokens.append(self.headers.get("X-Auth-Token"))
        image_id = self._image_id()
        data = self._body()
        if glance.on_upload:
            glance.on_upload(image_id)
        if glance.fail_upload:
            return self._answer(500, {"message": "the store is full"})
        glance.data[image_id] = data
        glance.images[image_id]["status"] = "active"
        self._answer(204)

    def do_DELETE(self):
        glance = self.server
        glance.tokens.append(self.headers.get("X-Auth-Token"))
        self._answer(204 if glance.images.pop(self._image_id(), None) else 404)


# --- the cloud --------------------------------------------------------------------------

class Cloud(build_tests.Cloud):
    """test_conductor_build's cloud, with Glance and the resize options."""

    def __init__(self, tmp_path, computes, glance, **settings):
        self.glance, self.settings = glance, settings
        super().__init__(tmp_path, computes)
        self.url = self.urls["cell1"]

    def conf(self, host, **overrides):
        settings = {"glance__api_servers": [self.glance.url], **self.settings, **overrides}
        return super().conf(host, **settings)

    def compute(self, host):
        return next(svc.manager for svc in self.running
                    if svc.binary == "nova-compute" and svc.manager.host == host)

    def active(self, **kwargs):
        [server] = self.boot(**kwargs)
        return self.wait_for(server, build_tests.settled)

    def usage(self, host):
        node = compute_nodes.get_by_host_and_nodename(self.url, host, host)
        return node["memory_mb_used"], node["vcpus_used"], node["local_gb_used"]

    def wait_usage(self, host, expected, timeout=10):
        deadline = time.monotonic() + timeout
        while self.usage(host) != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.usage(host) == expected
        return expected


@pytest.fixture
def glance():
    stand_in = Glance()
    yield stand_in
    stand_in.shutdown()
    stand_in.server_close()


@pytest.fixture
def cloud(tmp_path, glance, request):
    computes = {"c1": (4096, "fake.FakeDriver"), "c2": (4096, "fake.FakeDriver")}
    settings = {}
    if hasattr(request, "param"):
        computes = request.param.get("computes", computes)
        settings = request.param.get("settings", {})
    started = Cloud(tmp_path, computes, glance, **settings)
    yield started
    started.stop()


def state(instance):
    return instance["vm_state"], instance["task_state"], instance["power_state"]


def steps(cloud, server, action, expected=None):
    """(event, result, host) of ``action``'s events."""
    found = events_of(cloud.url, server)
    mine = [(event, result, host) for name, event, result, host in found if name == action]
    if expected is not None and mine != expected:
        deadline = time.monotonic() + 5
        while mine != expected and time.monotonic() < deadline:
            time.sleep(0.05)
            mine = [(event, result, host) for name, event, result, host
                    in events_of(cloud.url, server) if name == action]
    return mine


# --- reboot, pause, suspend -------------------------------------------------------------

def test_reboot_soft_and_hard(cloud):
    server = cloud.active()["uuid"]
    cloud.api.reboot(context(), server, "SOFT")
    rebooted = cloud.wait_for(server, lambda i: i["task_state"] is None)
    assert state(rebooted) == ("active", None, power_state.RUNNING)
    assert steps(cloud, server, "reboot", [("compute_reboot_instance", "Success", "c1")])

    cloud.api.stop(context(), server)
    cloud.wait_for(server, lambda i: i["vm_state"] == "stopped")
    with pytest.raises(compute_api.InstanceInvalidState, match="vm_state stopped"):
        cloud.api.reboot(context(), server, "SOFT")
    cloud.api.reboot(context(), server, "HARD")  # a hard reboot starts a stopped server
    rebooted = cloud.wait_for(server, lambda i: i["vm_state"] == "active")
    assert state(rebooted) == ("active", None, power_state.RUNNING)
    assert [a["action"] for a in instance_actions.actions_for(cloud.url, server)] == [
        "create", "reboot", "stop", "reboot"]
    with pytest.raises(compute_api.InvalidRequest):
        cloud.api.reboot(context(), server, "GENTLE")


def test_a_hard_reboot_may_follow_a_soft_one_at_once(cloud):
    server = cloud.active()["uuid"]
    cloud.api.reboot(context(), server, "SOFT")
    with pytest.raises(compute_api.InstanceInvalidState, match="task_state"):
        cloud.api.reboot(context(), server, "SOFT")  # a soft one is running
    cloud.api.reboot(context(), server, "HARD")
    rebooted = cloud.wait_for(server, lambda i: i["task_state"] is None)
    assert state(rebooted) == ("active", None, power_state.RUNNING)


def test_a_failed_reboot_leaves_a_fault(cloud):
    server = cloud.active()["uuid"]
    driver = cloud.compute("c1").driver

    def broken(self, context, instance, **kwargs):
        self._set_state(instance, power_state.SHUTDOWN)
        raise fake.exceptions.VirtError("the hypervisor lost the domain while rebooting")

    driver.reboot = types.MethodType(broken, driver)
    cloud.api.reboot(context(), server, "HARD")
    failed = cloud.wait_for(server, lambda i: i["task_state"] is None)
    assert state(failed) == ("error", None, power_state.SHUTDOWN)
    [fault, *_] = instance_actions.faults_for(cloud.url, server)
    assert fault["message"] == "the hypervisor lost the domain while rebooting"
    assert fault["host"] == "c1"
    assert steps(cloud, server, "reboot", [("compute_reboot_instance", "Error", "c1")])


def test_pause_unpause_suspend_resume(cloud):
    server = cloud.active()["uuid"]
    with pytest.raises(compute_api.InstanceInvalidState):
        cloud.api.unpause(context(), server)
    with pytest.raises(compute_api.InstanceInvalidState):
        cloud.api.resume(context(), server)
    cloud.api.pause(context(), server)
    paused = cloud.wait_for(server, lambda i: i["vm_state"] == "paused")
    assert state(paused) == ("paused", None, power_state.PAUSED)
    for action in (cloud.api.pause, cloud.api.suspend, cloud.api.stop):
        with pytest.raises(compute_api.InstanceInvalidState):
            action(context(), server)
    cloud.api.unpause(context(), server)
    assert state(cloud.wait_for(server, lambda i: i["vm_state"] == "active")) == (
        "active", None, power_state.RUNNING)
    cloud.api.suspend(context(), server)
    suspended = cloud.wait_for(server, lambda i: i["vm_state"] == "suspended")
    assert state(suspended) == ("suspended", None, power_state.SUSPENDED)
    cloud.api.resume(context(), server)
    assert state(cloud.wait_for(server, lambda i: i["vm_state"] == "active")) == (
        "active", None, power_state.RUNNING)
    assert [(action, event, result) for action, event, result, _ in events_of(
        cloud.url, server) if action != "create"] == [
        ("pause", "compute_pause_instance", "Success"),
        ("unpause", "compute_unpause_instance", "Success"),
        ("suspend", "compute_suspend_instance", "Success"),
        ("resume", "compute_resume_instance", "Success")]


def test_a_driver_refusing_a_pause_leaves_a_fault_and_the_server_as_it_was(cloud):
    server = cloud.active()["uuid"]
    driver = cloud.compute("c1").driver
    driver.power_off({"uuid": server})  # the guest shut itself down behind nova's back
    cloud.api.pause(context(), server)
    after = cloud.wait_for(server, lambda i: i["task_state"] is None)
    assert (after["vm_state"], after["task_state"]) == ("active", None)
    [fault, *_] = instance_actions.faults_for(cloud.url, server)
    assert "cannot pause instance" in fault["message"] and "shutdown" in fault["message"]
    assert steps(cloud, server, "pause", [("compute_pause_instance", "Error", "c1")])


# --- rebuild ----------------------------------------------------------------------------

def test_rebuild_with_a_new_image_name_and_metadata(cloud):
    before = cloud.active(metadata={"old": "1"})
    server = before["uuid"]
    cloud.api.rebuild(context(), server, NEW_IMAGE, name="renamed",
                      metadata={"role": "db"}, admin_password="secret")
    rebuilt = cloud.wait_for(server, lambda i: i["task_state"] is None)
    assert state(rebuilt) == ("active", None, power_state.RUNNING)
    assert (rebuilt["image_ref"], rebuilt["display_name"]) == (NEW_IMAGE["id"], "renamed")
    assert rebuilt["launched_at"] > before["launched_at"]
    assert instances.get_metadata(cloud.url, server) == {"role": "db"}
    system = instances.get_metadata(cloud.url, server, system=True)
    assert system["image_base_image_ref"] == NEW_IMAGE["id"]
    assert (system["image_hw_architecture"], system["image_disk_format"]) == ("x86_64", "qcow2")
    assert steps(cloud, server, "rebuild", [("compute_rebuild_instance", "Success", "c1")])
    assert cloud.compute("c1").driver.list_instances() == [server]


def test_a_stopped_server_stays_stopped_after_a_rebuild(cloud):
    server = cloud.active()["uuid"]
    cloud.api.stop(context(), server)
    cloud.wait_for(server, lambda i: i["vm_state"] == "stopped")
    cloud.api.rebuild(context(), server, NEW_IMAGE)
    rebuilt = cloud.wait_for(server, lambda i: i["task_state"] is None)
    assert state(rebuilt) == ("stopped", None, power_state.SHUTDOWN)


def test_rebuild_refusals(cloud):
    server = cloud.active()["uuid"]
    with pytest.raises(compute_api.InvalidRequest, match="memory is too small"):
        cloud.api.rebuild(context(), server, dict(NEW_IMAGE, min_ram=8192))
    with pytest.raises(compute_api.InvalidRequest, match="disk is too small"):
        cloud.api.rebuild(context(), server, dict(NEW_IMAGE, min_disk=20))
    cloud.api.pause(context(), server)
    cloud.wait_for(server, lambda i: i["vm_state"] == "paused")
    with pytest.raises(compute_api.InstanceInvalidState):
        cloud.api.rebuild(context(), server, NEW_IMAGE)
    with pytest.raises(exceptions.InstanceNotFound):
        cloud.api.rebuild(context(), str(uuid.uuid4()), NEW_IMAGE)


def test_a_failed_rebuild_puts_the_server_in_error(cloud):
    server = cloud.active()["uuid"]
    driver = cloud.compute("c1").driver
    driver.spawn = types.MethodType(fake.SpawnFailsDriver.spawn, driver)
    cloud.api.rebuild(context(), server, NEW_IMAGE)
    failed = cloud.wait_for(server, lambda i: i["task_state"] is None)
    assert (failed["vm_state"], failed["power_state"]) == ("error", power_state.NOSTATE)
    [fault, *_] = instance_actions.faults_for(cloud.url, server)
    assert "injected by SpawnFailsDriver" in fault["message"]
    assert steps(cloud, server, "rebuild", [("compute_rebuild_instance", "Error", "c1")])


# --- snapshot ---------------------------------------------------------------------------

def test_snapshot_creates_the_image_and_uploads_the_disk(cloud, glance):
    server = cloud.active()["uuid"]
    seen = []
    driver = cloud.compute("c1").driver
    original = driver.snapshot

    def watched(context, instance, image_id, update_task_state):
        seen.append(instance["task_state"])
        result = original(context, instance, image_id, update_task_state)
        seen.append(instances.get_by_uuid(cloud.url, server)["task_state"])
        return result

    driver.snapshot = watched
    glance.on_upload = lambda image_id: seen.append(
        instances.get_by_uuid(cloud.url, server)["task_state"])
    image_id = cloud.api.snapshot(context(), server, "backup", metadata={"purpose": "test"})
    image = glance.images[image_id]  # created before the API returned
    assert (image["name"], image["visibility"]) == ("backup", "private")
    assert (image["instance_uuid"], image["image_type"], image["purpose"]) == (
        server, "snapshot", "test")
    assert (image["base_image_ref"], image["os_type"]) == (IMAGE["id"], "linux")
    done = cloud.wait_for(server, lambda i: i["task_state"] is None)
    assert state(done) == ("active", None, power_state.RUNNING)
    assert seen == ["image_snapshot", "image_pending_upload", "image_uploading"]
    fake_copy = driver._get({"uuid": server})
    assert glance.data[image_id] == fake.snapshot_payload(fake_copy, image_id)
    assert (image["status"], image["disk_format"], image["container_format"]) == (
        "active", "raw", "bare")
    assert set(glance.tokens) == {TOKEN}  # the API's and the compute's calls: the user's token
    assert steps(cloud, server, "createImage",
                 [("compute_snapshot_instance", "Success", "c1")])


def test_a_failed_upload_deletes_the_image(cloud, glance):
    server = cloud.active()["uuid"]
    glance.fail_upload = True
    image_id = cloud.api.snapshot(context(), server, "doomed")
    done = cloud.wait_for(server, lambda i: i["task_state"] is None)
    assert state(done) == ("active", None, power_state.RUNNING)
    deadline = time.monotonic() + 5
    while image_id in glance.images and time.monotonic() < deadline:
        time.sleep(0.05)
    assert image_id not in glance.images
    [fault, *_] = instance_actions.faults_for(cloud.url, server)
    assert "the store is full" in fault["message"]
    assert steps(cloud, server, "createImage", [("compute_snapshot_instance", "Error", "c1")])


def test_snapshot_of_a_busy_server_is_refused_without_an_image(cloud, glance):
    server = cloud.active()["uuid"]
    instances.update(cloud.url, server, {"task_state": "rebooting"})
    with pytest.raises(compute_api.InstanceInvalidState):
        cloud.api.snapshot(context(), server, "busy")
    assert glance.images == {}


def test_backups_are_rotated_once_uploaded(cloud, glance):
    server = cloud.active()["uuid"]
    other = cloud.active()["uuid"]
    kept = []
    for name, owner in (("b1", server), ("b2", server), ("other", other), ("b3", server)):
        kept.append(cloud.api.backup(context(), owner, name, "daily", 2))
        cloud.wait_for(owner, lambda i: i["task_state"] is None)
    weekly = cloud.api.backup(context(), server, "w1", "weekly", 1)
    cloud.wait_for(server, lambda i: i["task_state"] is None)
    b1, b2, other_backup, b3 = kept
    # b1 went with b3's upload; another server's and another type's stay.
    assert set(glance.images) == {b2, b3, other_backup, weekly}
    image = glance.images[b3]
    assert (image["image_type"], image["backup_type"], image["instance_uuid"]) == (
        "backup", "daily", server)
    assert steps(cloud, server, "createBackup")[-1] == ("compute_backup_instance", "Success",
                                                       "c1")


def test_backup_rotation_zero_keeps_none(cloud, glance):
    server = cloud.active()["uuid"]
    cloud.api.backup(context(), server, "b1", "daily", 0)
    cloud.wait_for(server, lambda i: i["task_state"] is None)
    deadline = time.monotonic() + 5
    while glance.images and time.monotonic() < deadline:
        time.sleep(0.05)
    assert glance.images == {}


def test_tags_given_at_create_reach_the_instance(cloud):
    from nova_runtime.objects import tags

    [server] = cloud.boot(tags=["web", "prod", "web"])
    cloud.wait_for(server, build_tests.settled)
    assert tags.get(cloud.url, server) == ["prod", "web"]


def test_a_locked_server_refuses_all_but_admins(cloud):
    server = cloud.active()["uuid"]
    admin = nova_context.RequestContext(user_id="a1", project_id="admin-project",
                                        is_admin=True, overwrite=False)
    cloud.api.lock(context(), server, reason="maintenance")
    locked = instances.get_by_uuid(cloud.url, server)
    assert (locked["locked"], locked["locked_by"]) == (True, "owner")
    assert instances.get_metadata(cloud.url, server, system=True)["locked_reason"] == \
        "maintenance"
    for refused in (lambda: cloud.api.stop(context(), server),
                    lambda: cloud.api.pause(context(), server),
                    lambda: cloud.api.delete(context(), server),
                    lambda: cloud.api.update_metadata(context(), server, {"a": "b"})):
        with pytest.raises(compute_api.InstanceIsLocked):
            refused()
    assert cloud.api.locker(admin, locked) == "admin"
    cloud.api.stop(admin, server)
    cloud.wait_for(server, lambda i: i["vm_state"] == "stopped" and i["task_state"] is None)
    cloud.api.unlock(context(), server)
    assert "locked_reason" not in instances.get_metadata(cloud.url, server, system=True)
    cloud.api.start(context(), server)
    assert cloud.wait_for(server, build_tests.settled)["vm_state"] == "active"


def test_reset_state_clears_the_task(cloud):
    server = cloud.active()["uuid"]
    instances.update(cloud.url, server, {"task_state": "rebooting"})
    cloud.api.reset_state(context(), server, "error")
    assert state(instances.get_by_uuid(cloud.url, server))[:2] == ("error", None)
    cloud.api.reset_state(context(), server, "active")
    assert state(instances.get_by_uuid(cloud.url, server))[:2] == ("active", None)
    with pytest.raises(compute_api.InvalidRequest):
        cloud.api.reset_state(context(), server, "stopped")


def test_the_default_security_group_can_be_removed_and_added_back(cloud):
    server = cloud.active()["uuid"]
    system = lambda: instances.get_metadata(cloud.url, server, system=True)  # noqa: E731
    assert compute_api.security_groups_of(system()) == ("default",)
    cloud.api.remove_security_group(context(), server, "default")
    assert compute_api.security_groups_of(system()) == ()
    with pytest.raises(compute_api.InvalidRequest):
        cloud.api.remove_security_group(context(), server, "default")
    cloud.api.add_security_group(context(), server, "default")
    assert compute_api.security_groups_of(system()) == ("default",)
    with pytest.raises(compute_api.SecurityGroupNotFound):
        cloud.api.add_security_group(context(), server, "web")


@pytest.mark.parametrize("cloud", [{"settings": {"reclaim_instance_interval": 2}}],
                         indirect=True)
def test_soft_delete_restore_and_reclaim(cloud):
    server = cloud.active()["uuid"]
    with pytest.raises(compute_api.InstanceInvalidState):
        cloud.api.restore(context(), server)  # not deleted
    cloud.api.delete(context(), server)
    deleted = cloud.wait_for(server, lambda i: i["vm_state"] == "soft-delete"
                             and i["task_state"] is None)
    assert deleted["power_state"] == power_state.SHUTDOWN and deleted["deleted_at"]
    cloud.api.restore(context(), server)
    restored = cloud.wait_for(server, build_tests.settled)
    assert state(restored) == ("active", None, power_state.RUNNING)
    assert restored["deleted_at"] is None
    cloud.api.delete(context(), server)
    cloud.wait_for(server, lambda i: i["vm_state"] == "soft-delete")
    # the compute's periodic task deletes it for good after the interval
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            instances.get_by_uuid(cloud.url, server)
        except exceptions.InstanceNotFound:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the soft-deleted server was not reclaimed")
    assert cloud.compute("c1").driver.list_instances() == []
    cloud.wait_usage("c1", (0, 0, 0))


@pytest.mark.parametrize("cloud", [{"settings": {"reclaim_instance_interval": 3600}}],
                         indirect=True)
def test_force_delete_deletes_a_soft_deleted_server_at_once(cloud):
    server = cloud.active()["uuid"]
    with pytest.raises(compute_api.InstanceInvalidState):
        cloud.api.force_delete(context(), server)  # not soft-deleted
    cloud.api.delete(context(), server)
    cloud.wait_for(server, lambda i: i["vm_state"] == "soft-delete" and not i["task_state"])
    cloud.api.force_delete(context(), server)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            instances.get_by_uuid(cloud.url, server)
        except exceptions.InstanceNotFound:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the server was not deleted")


# --- resize, confirm, revert; cold migration ---------------------------------------------

def test_resize_and_confirm(cloud):
    server = cloud.active()["uuid"]
    assert cloud.usage("c1") == (1024, 1, 1)
    cloud.api.resize(context(), server, BIGGER)
    resized = cloud.wait_for(server, lambda i: i["vm_state"] == "resized")
    assert state(resized) == ("resized", None, power_state.RUNNING)
    assert (resized["host"], resized["node"]) == ("c2", "c2")
    assert (resized["memory_mb"], resized["vcpus"], resized["root_gb"]) == (1536, 2, 2)
    [migration] = migrations.for_instance(cloud.url, server)
    assert (migration["status"], migration["migration_type"]) == ("finished", "resize")
    assert (migration["source_compute"], migration["dest_compute"], migration["dest_node"]) == (
        "c1", "c2", "c2")
    assert (migration["old_instance_type_id"], migration["new_instance_type_id"]) == (1, 2)
    flavors = instances.get_flavors(cloud.url, server)
    assert (flavors["cur"]["name"], flavors["old"]["name"], flavors["new"]["name"]) == (
        "m1.medium", "m1.small", "m1.medium")
    # Both hosts hold it until the user decides.
    cloud.wait_usage("c1", (1024, 1, 1))
    cloud.wait_usage("c2", (1536, 2, 2))
    assert cloud.compute("c2").driver.get_info(resized).state == power_state.RUNNING
    assert cloud.compute("c1").driver.get_info(resized).state == power_state.SHUTDOWN

    with pytest.raises(compute_api.InstanceInvalidState):
        cloud.api.resize(context(), server, FLAVOR)
    cloud.api.confirm_resize(context(), server)
    confirmed = cloud.wait_for(server, lambda i: i["vm_state"] == "active")
    assert state(confirmed) == ("active", None, power_state.RUNNING)
    assert migrations.for_instance(cloud.url, server)[0]["status"] == "confirmed"
    flavors = instances.get_flavors(cloud.url, server)
    assert (flavors["cur"]["name"], flavors["old"], flavors["new"]) == ("m1.medium", None, None)
    cloud.wait_usage("c1", (0, 0, 0))
    cloud.wait_usage("c2", (1536, 2, 2))
    assert cloud.compute("c1").driver.list_instances() == []
    assert steps(cloud, server, "resize") == [
        ("conductor_migrate_server", "Success", None),
        ("compute_prep_resize", "Success", "c2"),
        ("compute_resize_instance", "Success", "c1"),
        ("compute_finish_resize", "Success", "c2")]
    assert steps(cloud, server, "confirmResize") == [("compute_confirm_resize", "Success", "c1")]
    with pytest.raises(compute_api.InstanceInvalidState):
        cloud.api.confirm_resize(context(), server)


def test_resize_and_revert(cloud):
    server = cloud.active()["uuid"]
    cloud.api.resize(context(), server, BIGGER)
    cloud.wait_for(server, lambda i: i["vm_state"] == "resized")
    cloud.api.revert_resize(context(), server)
    with pytest.raises(compute_api.InstanceInvalidState):
        cloud.api.confirm_resize(context(), server)  # a revert is running
    reverted = cloud.wait_for(server, lambda i: i["task_state"] is None
                              and i["vm_state"] == "active")
    assert (reverted["host"], reverted["node"], reverted["memory_mb"], reverted["vcpus"]) == (
        "c1", "c1", 1024, 1)
    assert reverted["power_state"] == power_state.RUNNING
    assert migrations.for_instance(cloud.url, server)[0]["status"] == "reverted"
    flavors = instances.get_flavors(cloud.url, server)
    assert (flavors["cur"]["name"], flavors["old"], flavors["new"]) == ("m1.small", None, None)
    cloud.wait_usage("c1", (1024, 1, 1))
    cloud.wait_usage("c2", (0, 0, 0))
    assert cloud.compute("c2").driver.list_instances() == []
    assert cloud.compute("c1").driver.get_info(reverted).state == power_state.RUNNING
    assert steps(cloud, server, "revertResize") == [
        ("compute_revert_resize", "Success", "c2"),
        ("compute_finish_revert_resize", "Success", "c1")]


def test_a_stopped_server_is_resized_and_reverted_stopped(cloud):
    server = cloud.active()["uuid"]
    cloud.api.stop(context(), server)
    cloud.wait_for(server, lambda i: i["vm_state"] == "stopped")
    cloud.api.resize(context(), server, BIGGER)
    resized = cloud.wait_for(server, lambda i: i["vm_state"] == "resized")
    assert resized["power_state"] == power_state.SHUTDOWN
    cloud.api.revert_resize(context(), server)
    reverted = cloud.wait_for(server, lambda i: i["task_state"] is None
                              and i["vm_state"] != "resized")
    assert state(reverted) == ("stopped", None, power_state.SHUTDOWN)


def test_cold_migration_to_a_chosen_host(cloud):
    server = cloud.active()["uuid"]
    with pytest.raises(compute_api.InvalidRequest, match="current host"):
        cloud.api.migrate(context(), server, host="c1")
    with pytest.raises(compute_api.InvalidRequest, match="could not be found"):
        cloud.api.migrate(context(), server, host="nowhere")
    cloud.api.migrate(context(), server, host="c2")
    migrated = cloud.wait_for(server, lambda i: i["vm_state"] == "resized")
    assert (migrated["host"], migrated["memory_mb"]) == ("c2", 1024)
    [migration] = migrations.for_instance(cloud.url, server)
    assert (migration["migration_type"], migration["old_instance_type_id"],
            migration["new_instance_type_id"]) == ("migration", 1, 1)
    cloud.wait_usage("c1", (1024, 1, 1))
    cloud.wait_usage("c2", (1024, 1, 1))
    cloud.api.confirm_resize(context(), server)
    cloud.wait_for(server, lambda i: i["vm_state"] == "active")
    cloud.wait_usage("c1", (0, 0, 0))
    assert [a["action"] for a in instance_actions.actions_for(cloud.url, server)] == [
        "create", "migrate", "confirmResize"]


def test_resize_refusals(cloud):
    server = cloud.active()["uuid"]
    with pytest.raises(compute_api.InvalidRequest, match="must change flavor"):
        cloud.api.resize(context(), server, FLAVOR)
    with pytest.raises(compute_api.InvalidRequest, match="zero disk"):
        cloud.api.resize(context(), server, dict(BIGGER, root_gb=0))
    with pytest.raises(compute_api.InvalidRequest, match="no finished migration"):
        instances.update(cloud.url, server, {"vm_state": "resized"})
        cloud.api.confirm_resize(context(), server)
    instances.update(cloud.url, server, {"vm_state": "active"})
    for action in (cloud.api.confirm_resize, cloud.api.revert_resize):
        with pytest.raises(compute_api.InstanceInvalidState, match="vm_state active"):
            action(context(), server)
    cloud.api.pause(context(), server)
    cloud.wait_for(server, lambda i: i["vm_state"] == "paused")
    with pytest.raises(compute_api.InstanceInvalidState):
        cloud.api.resize(context(), server, BIGGER)
    with pytest.raises(compute_api.InstanceInvalidState):
        cloud.api.migrate(context(), server)


def test_no_valid_host_for_a_resize_leaves_the_server_as_it_was(cloud):
    server = cloud.active()["uuid"]
    cloud.api.resize(context(), server, dict(BIGGER, memory_mb=65536))
    after = cloud.wait_for(server, lambda i: i["task_state"] is None)
    assert (after["vm_state"], after["host"], after["memory_mb"]) == ("active", "c1", 1024)
    [migration] = migrations.for_instance(cloud.url, server)
    assert migration["status"] == "error"
    assert instances.get_flavors(cloud.url, server)["new"] is None
    [fault, *_] = instance_actions.faults_for(cloud.url, server)
    assert fault["message"].startswith("No valid host was found") and fault["code"] == 400
    assert steps(cloud, server, "resize", [("conductor_migrate_server", "Error", None)])


@pytest.mark.parametrize("cloud", [{"computes": {"c1": (4096, "fake.MigrationFailsDriver"),
                                                 "c2": (4096, "fake.FakeDriver")}}],
                         indirect=True)
def test_a_migration_failing_on_the_source_rolls_back(cloud):
    server = cloud.active(availability_zone="nova:c1")["uuid"]
    cloud.api.resize(context(), server, BIGGER)
    after = cloud.wait_for(server, lambda i: i["task_state"] is None)
    assert state(after) == ("active", None, power_state.RUNNING)
    assert (after["host"], after["memory_mb"]) == ("c1", 1024)
    assert migrations.for_instance(cloud.url, server)[0]["status"] == "error"
    assert instances.get_flavors(cloud.url, server)["new"] is None
    [fault, *_] = instance_actions.faults_for(cloud.url, server)
    assert "injected by MigrationFailsDriver" in fault["message"] and fault["host"] == "c1"
    assert steps(cloud, server, "resize", [
        ("conductor_migrate_server", "Success", None),
        ("compute_prep_resize", "Success", "c2"),
        ("compute_resize_instance", "Error", "c1")])
    cloud.wait_usage("c2", (0, 0, 0))  # the destination's claim ends with its next report
    cloud.wait_usage("c1", (1024, 1, 1))


def test_shrinking_the_disk_is_refused_by_the_driver(cloud):
    before = cloud.active(flavor=BIGGER)
    server = before["uuid"]
    cloud.api.resize(context(), server, FLAVOR)
    after = cloud.wait_for(server, lambda i: i["task_state"] is None)
    assert (after["vm_state"], after["root_gb"], after["host"]) == (
        "active", 2, before["host"])
    [fault, *_] = instance_actions.faults_for(cloud.url, server)
    assert "cannot shrink the root disk" in fault["message"]


@pytest.mark.parametrize("cloud", [{"computes": {"c1": (4096, "fake.FakeDriver")},
                                    "settings": {"allow_resize_to_same_host": True}}],
                         indirect=True)
def test_resize_to_the_same_host_counts_both_flavors_until_confirmed(cloud):
    server = cloud.active()["uuid"]
    cloud.api.resize(context(), server, BIGGER)
    resized = cloud.wait_for(server, lambda i: i["vm_state"] == "resized")
    assert (resized["host"], resized["memory_mb"]) == ("c1", 1536)
    cloud.wait_usage("c1", (1024 + 1536, 3, 3))
    cloud.api.confirm_resize(context(), server)
    cloud.wait_for(server, lambda i: i["vm_state"] == "active")
    cloud.wait_usage("c1", (1536, 2, 2))
    assert cloud.compute("c1").driver.list_instances() == [server]


@pytest.mark.parametrize("cloud", [{"computes": {"c1": (4096, "fake.FakeDriver")},
                                    "settings": {"allow_resize_to_same_host": True}}],
                         indirect=True)
def test_revert_to_the_same_host(cloud):
    server = cloud.active()["uuid"]
    cloud.api.resize(context(), server, BIGGER)
    cloud.wait_for(server, lambda i: i["vm_state"] == "resized")
    cloud.api.revert_resize(context(), server)
    reverted = cloud.wait_for(server, lambda i: i["task_state"] is None
                              and i["vm_state"] == "active")
    assert (reverted["memory_mb"], reverted["power_state"]) == (1024, power_state.RUNNING)
    cloud.wait_usage("c1", (1024, 1, 1))
    assert cloud.compute("c1").driver.get_info(reverted).state == power_state.RUNNING


@pytest.mark.parametrize("cloud", [{"computes": {"c1": (4096, "fake.FakeDriver")}}],
                         indirect=True)
def test_without_another_host_a_migration_finds_no_valid_host(cloud):
    server = cloud.active()["uuid"]
    cloud.api.migrate(context(), server)
    after = cloud.wait_for(server, lambda i: i["task_state"] is None)
    assert (after["vm_state"], after["host"]) == ("active", "c1")
    [fault, *_] = instance_actions.faults_for(cloud.url, server)
    assert "No valid host" in fault["message"]


def test_deleting_a_server_in_verify_resize_removes_both_copies(cloud):
    server = cloud.active()["uuid"]
    cloud.api.resize(context(), server, BIGGER)
    cloud.wait_for(server, lambda i: i["vm_state"] == "resized")
    cloud.api.delete(context(), server)
    cloud.wait_for(server, lambda i: i is None)
    cloud.wait_usage("c1", (0, 0, 0))
    cloud.wait_usage("c2", (0, 0, 0))
    deadline = time.monotonic() + 5
    while cloud.compute("c1").driver.list_instances() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cloud.compute("c1").driver.list_instances() == []
    assert cloud.compute("c2").driver.list_instances() == []


@pytest.mark.parametrize("cloud", [{"settings": {"resize_confirm_window": 1}}], indirect=True)
def test_resize_confirm_window_confirms_on_its_own(cloud):
    server = cloud.active()["uuid"]
    cloud.api.resize(context(), server, BIGGER)
    cloud.wait_for(server, lambda i: i["vm_state"] == "resized")
    confirmed = cloud.wait_for(server, lambda i: i["vm_state"] == "active", timeout=15)
    assert confirmed["host"] == "c2"
    assert migrations.for_instance(cloud.url, server)[0]["status"] == "confirmed"
    assert steps(cloud, server, "confirmResize", [("compute_confirm_resize", "Success", "c1")])
    cloud.wait_usage("c1", (0, 0, 0))


# --- RPC ----------------------------------------------------------------------------------

def test_the_rpc_context_carries_the_token_and_the_image_catalog():
    from nova_runtime import rpc
    from nova_runtime.api import context as api_context

    catalog = [{"type": "image", "endpoints": [{"interface": "public", "url": "http://g"}]},
               {"type": "identity", "endpoints": []}]
    sent = api_context.RequestContext(user_id="u1", project_id="p1", auth_token=TOKEN,
                                      service_catalog=catalog)
    serializer = rpc.RequestContextSerializer()
    received = serializer.deserialize_context(
        json.loads(json.dumps(serializer.serialize_context(sent))))
    assert (received.auth_token, received.request_id) == (TOKEN, sent.request_id)
    assert received.service_catalog == catalog[:1]  # only what services use on the user's behalf


def test_a_capped_compute_client_does_not_send_the_lifecycle_calls():
    from nova_runtime import config, rpc
    from nova_runtime.compute import rpcapi as compute_rpcapi

    conf = config.new_conf()
    config.load(conf, [], prog="test", default_config_files=[])
    capped = compute_rpcapi.ComputeAPI(rpc.get_transport(conf, "fake://capped-compute/"),
                                       version_cap="1.1")
    try:
        with pytest.raises(rpc.ServiceTooOld, match="this call needs 1.2"):
            capped.reboot_instance(context(), {"uuid": "u", "host": "c1"}, "SOFT")
        assert not capped.can_send_version("1.2")
    finally:
        rpc.cleanup("fake://capped-compute/")
