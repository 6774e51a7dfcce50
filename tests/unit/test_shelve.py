"""shelve, shelveOffload and unshelve in one process: the compute API, the
super-conductor, nova-scheduler and two fake nova-computes on a fake://
transport with SQLite (test_lifecycle's Cloud, its Glance stand-in), and
test_placement_moves' in-memory Placement, claimed in as nova-scheduler
claims."""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import time

import pytest

from nova_runtime import context as nova_context
from nova_runtime.compute import api as compute_api
from nova_runtime.states import power_state
from nova_runtime.objects import exceptions, instance_actions, instances
from nova_runtime.virt import exceptions as virt_exc
from tests.unit.test_conductor_build import events_of
from tests.unit.test_lifecycle import cloud, context, glance, state  # noqa: F401  (fixtures)
from tests.unit.test_lifecycle import quick_rpc_server_stop  # noqa: F401  (fixture)
from tests.unit.test_placement_moves import OLD, wire

SHELVED_KEYS = {"shelved_at", "shelved_image_id", "shelved_host"}
KEEP = {"settings": {"shelved_offload_time": -1}}


def settled(vm_state):
    return lambda i: i is not None and i["vm_state"] == vm_state and i["task_state"] is None


def system(cloud, server):
    return instances.get_metadata(cloud.url, server, system=True)


def wait(predicate, what, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_shelve_offloads_at_once_and_unshelve_spawns_on_a_host(cloud, glance):
    fake = wire(cloud)
    server = cloud.active()
    uuid, first_host = server["uuid"], server["host"]
    assert fake.held(uuid) == {first_host: OLD}
    image_id = cloud.api.shelve(context(), uuid)
    image = glance.images[image_id]  # created before the API returned
    assert (image["name"], image["image_type"], image["instance_uuid"]) == (
        "vm-shelved", "snapshot", uuid)

    offloaded = cloud.wait_for(uuid, settled("shelved_offloaded"))
    assert (offloaded["host"], offloaded["node"]) == (None, None)
    assert offloaded["power_state"] == power_state.SHUTDOWN
    assert glance.images[image_id]["status"] == "active" and glance.data[image_id]
    # released just after the instance left its host
    wait(lambda: fake.held(uuid) == {}, "the allocations were not released")
    assert fake.usages(first_host) == {}
    cloud.wait_usage(first_host, (0, 0, 0))
    assert cloud.compute(first_host).driver.list_instances() == []
    meta = system(cloud, uuid)
    assert SHELVED_KEYS <= set(meta) and meta["shelved_image_id"] == image_id
    assert meta["shelved_host"] == first_host

    cloud.api.unshelve(context(), uuid)
    active = cloud.wait_for(uuid, settled("active"))
    host = active["host"]
    assert host in ("c1", "c2") and state(active) == ("active", None, power_state.RUNNING)
    assert fake.held(uuid) == {host: OLD}
    cloud.wait_usage(host, (1024, 1, 1))
    assert cloud.compute(host).driver.list_instances() == [uuid]
    log = cloud.compute(host).driver.get_console_output(None, active)
    assert f"booting image {image_id}" in log  # spawned from the shelved image
    wait(lambda: image_id not in glance.images, "the shelved image was not deleted")
    assert not SHELVED_KEYS & set(system(cloud, uuid))
    assert events_of(cloud.url, uuid) == [
        ("create", "conductor_schedule_and_build_instances", "Success", None),
        ("create", "compute_build_and_run_instance", "Success", first_host),
        ("shelve", "compute_shelve_instance", "Success", first_host),
        ("unshelve", "conductor_unshelve_instance", "Success", None),
        ("unshelve", "compute_unshelve_instance", "Success", host)]


@pytest.mark.parametrize("cloud", [KEEP], indirect=True)
def test_shelved_stays_on_its_host_and_unshelves_there(cloud, glance):
    server = cloud.active()
    uuid, host = server["uuid"], server["host"]
    seen = []
    glance.on_upload = lambda image_id: seen.append(
        instances.get_by_uuid(cloud.url, uuid)["task_state"])
    image_id = cloud.api.shelve(context(), uuid)
    shelved = cloud.wait_for(uuid, settled("shelved"))
    assert seen == ["shelving_image_uploading"]
    assert (shelved["host"], shelved["power_state"]) == (host, power_state.SHUTDOWN)
    cloud.wait_usage(host, (1024, 1, 1))  # still held on its host
    assert cloud.compute(host).driver.list_instances() == [uuid]
    assert system(cloud, uuid)["shelved_image_id"] == image_id

    cloud.api.unshelve(context(), uuid)
    active = cloud.wait_for(uuid, settled("active"))
    assert (active["host"], active["power_state"]) == (host, power_state.RUNNING)
    wait(lambda: image_id not in glance.images, "the shelved image was not deleted")
    assert not SHELVED_KEYS & set(system(cloud, uuid))

    # shelveOffload, then, as an admin would
    cloud.api.shelve(context(), uuid)
    cloud.wait_for(uuid, settled("shelved"))
    cloud.api.shelve_offload(context(), uuid)
    offloaded = cloud.wait_for(uuid, settled("shelved_offloaded"))
    assert offloaded["host"] is None
    cloud.wait_usage(host, (0, 0, 0))
    assert [a["action"] for a in instance_actions.actions_for(cloud.url, uuid)] == [
        "create", "shelve", "unshelve", "shelve", "shelveOffload"]


@pytest.mark.parametrize("cloud", [{"settings": {"shelved_offload_time": 1}}], indirect=True)
def test_the_periodic_task_offloads_after_shelved_offload_time(cloud, glance):
    uuid = cloud.active()["uuid"]
    cloud.api.shelve(context(), uuid)
    cloud.wait_for(uuid, lambda i: i["vm_state"] == "shelved")
    offloaded = cloud.wait_for(uuid, settled("shelved_offloaded"), timeout=15)
    assert offloaded["host"] is None


@pytest.mark.parametrize("cloud", [KEEP], indirect=True)
def test_refusals(cloud, glance):
    uuid = cloud.active()["uuid"]
    with pytest.raises(compute_api.InstanceInvalidState, match="vm_state active"):
        cloud.api.unshelve(context(), uuid)
    with pytest.raises(compute_api.InstanceInvalidState, match="vm_state active"):
        cloud.api.shelve_offload(context(), uuid)
    cloud.api.lock(context(), uuid)
    with pytest.raises(compute_api.InstanceIsLocked):
        cloud.api.shelve(context(), uuid)
    cloud.api.unlock(context(), uuid)
    instances.update(cloud.url, uuid, {"task_state": "rebooting"})
    with pytest.raises(compute_api.InstanceInvalidState, match="task_state rebooting"):
        cloud.api.shelve(context(), uuid)
    assert glance.images == {}  # no image for a refused shelve
    instances.update(cloud.url, uuid, {"task_state": None})

    cloud.api.shelve(context(), uuid)
    cloud.wait_for(uuid, settled("shelved"))
    with pytest.raises(compute_api.InstanceInvalidState, match="vm_state shelved"):
        cloud.api.shelve(context(), uuid)
    # A zone or a host is for a shelved-offloaded server only.
    with pytest.raises(compute_api.UnshelveInstanceInvalidState):
        cloud.api.unshelve(context(), uuid, new_az="nova")
    with pytest.raises(compute_api.UnshelveInstanceInvalidState):
        cloud.api.unshelve(context(), uuid, host="c2")
    cloud.api.shelve_offload(context(), uuid)
    cloud.wait_for(uuid, settled("shelved_offloaded"))
    with pytest.raises(compute_api.InstanceInvalidState):
        cloud.api.shelve_offload(context(), uuid)
    with pytest.raises(compute_api.InvalidRequest, match="not available"):
        cloud.api.unshelve(context(), uuid, new_az="nowhere")
    with pytest.raises(compute_api.InvalidRequest, match="could not be found"):
        cloud.api.unshelve(context(), uuid, host="c9")
    assert instances.get_by_uuid(cloud.url, uuid)["task_state"] is None


def test_unshelve_to_a_chosen_host_with_a_zone(cloud, glance):
    uuid = cloud.active()["uuid"]
    for host in ("c2", "c1"):
        cloud.api.shelve(context(), uuid)
        cloud.wait_for(uuid, settled("shelved_offloaded"))
        cloud.api.unshelve(context(), uuid, new_az="nova", host=host)
        assert cloud.wait_for(uuid, settled("active"))["host"] == host
    assert instances.get_by_uuid(cloud.url, uuid)["availability_zone"] == "nova"
    cloud.api.shelve(context(), uuid)
    cloud.wait_for(uuid, settled("shelved_offloaded"))
    cloud.api.unshelve(context(), uuid, new_az=None)  # 2.91: unpinned
    assert cloud.wait_for(uuid, settled("active"))["availability_zone"] is None


def test_a_failed_spawn_leaves_it_offloaded_with_a_fault(cloud, glance):
    fake = wire(cloud)
    uuid = cloud.active()["uuid"]
    image_id = cloud.api.shelve(context(), uuid)
    cloud.wait_for(uuid, settled("shelved_offloaded"))

    def broken(*args, **kwargs):
        raise virt_exc.InstanceSpawnError("no disk space left (injected)")

    for host in ("c1", "c2"):
        cloud.compute(host).driver.spawn = broken
    cloud.api.unshelve(context(), uuid)
    after = cloud.wait_for(uuid, settled("shelved_offloaded"))
    assert (after["host"], after["node"]) == (None, None)
    [fault, *_] = instance_actions.faults_for(cloud.url, uuid)
    assert fault["message"] == "no disk space left (injected)"
    wait(lambda: fake.held(uuid) == {}, "the scheduler's claim was not released")
    for host in ("c1", "c2"):
        cloud.wait_usage(host, (0, 0, 0))
        assert cloud.compute(host).driver.list_instances() == []
    assert image_id in glance.images  # it may be unshelved again
    events = [(event, result) for action, event, result, _ in events_of(cloud.url, uuid)
              if action == "unshelve"]
    assert events == [("conductor_unshelve_instance", "Success"),
                      ("compute_unshelve_instance", "Error")]


def test_without_its_image_unshelve_fails_in_the_conductor(cloud, glance):
    uuid = cloud.active()["uuid"]
    image_id = cloud.api.shelve(context(), uuid)
    cloud.wait_for(uuid, settled("shelved_offloaded"))
    del glance.images[image_id]
    cloud.api.unshelve(context(), uuid)
    cloud.wait_for(uuid, settled("shelved_offloaded"))
    [fault, *_] = instance_actions.faults_for(cloud.url, uuid)
    assert image_id in fault["message"] and "could not be found" in fault["message"]


def test_deleting_a_shelved_server_deletes_its_image(cloud, glance):
    uuid = cloud.active()["uuid"]
    image_id = cloud.api.shelve(context(), uuid)
    cloud.wait_for(uuid, settled("shelved_offloaded"))
    cloud.api.delete(context(), uuid)  # on no host: deleted at once
    with pytest.raises(exceptions.InstanceNotFound):
        instances.get_by_uuid(cloud.url, uuid)
    assert image_id not in glance.images


def test_an_admin_may_shelve_a_locked_server(cloud, glance):
    uuid = cloud.active()["uuid"]
    admin = nova_context.RequestContext(user_id="a1", project_id="admin-project",
                                        is_admin=True, auth_token="token-of-a1",
                                        overwrite=False)
    cloud.api.lock(context(), uuid)
    cloud.api.shelve(admin, uuid)
    cloud.wait_for(uuid, settled("shelved_offloaded"))
    with pytest.raises(compute_api.InstanceIsLocked):
        cloud.api.unshelve(context(), uuid)
    cloud.api.unshelve(admin, uuid)
    assert cloud.wait_for(uuid, settled("active"))["host"]
