"""Allocations across a resize or cold migration: placement.claims.move and
what nova-conductor, nova-compute and the compute API do with it, against an
in-memory Placement that checks consumer generations as the real one does
(the real one: tests/functional/test_placement_moves.py).

The in-process cloud of test_lifecycle (fake transport, SQLite) runs the
boots and moves; its scheduler has no Placement, so each instance's claim on
the chosen node is made here, as nova-scheduler would make it, by a
scheduler client that wraps the conductor's (one provider per host name)."""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import copy
import logging
import time

import pytest

from nova_runtime import config, placement
from nova_runtime.compute import api as compute_api, resource_tracker
from nova_runtime.objects import migrations
from nova_runtime.placement import claims, client as placement_client, resources
from tests.unit import test_lifecycle
from tests.unit.test_lifecycle import BIGGER, context, glance  # noqa: F401  (fixture)

OLD = {"VCPU": 1, "MEMORY_MB": 1024, "DISK_GB": 1}
NEW = {"VCPU": 2, "MEMORY_MB": 1536, "DISK_GB": 2}


class MemoryPlacement:
    """Consumers' allocations in a dict, with Placement's rules for consumer
    generations: None for a consumer that has none, its current one
    otherwise; a consumer left without allocations is gone. ``conflicts``
    generation conflicts are injected into the next writes."""

    def __init__(self):
        self.consumers = {}  # uuid -> {allocations, consumer_generation, project_id, user_id}
        self.conflicts = 0
        self.posts = []

    def get_allocations(self, consumer):
        found = self.consumers.get(consumer)
        return copy.deepcopy(found) if found else {"allocations": {}}

    def _check(self, consumer, generation):
        current = self.consumers.get(consumer, {}).get("consumer_generation")
        if self.conflicts or generation != current:
            self.conflicts = max(0, self.conflicts - 1)
            raise placement_client.Conflict("Placement answered 409: consumer generation",
                                             409, placement_client.CONCURRENT_UPDATE)

    def _set(self, consumer, allocations, project_id, user_id):
        if not allocations:
            self.consumers.pop(consumer, None)
            return
        generation = self.consumers.get(consumer, {}).get("consumer_generation", 0)
        self.consumers[consumer] = {
            "allocations": {rp: {"resources": dict(entry["resources"]), "generation": 1}
                            for rp, entry in allocations.items()},
            "consumer_generation": generation + 1, "project_id": project_id,
            "user_id": user_id}

    def put_allocations(self, consumer, allocations, project_id, user_id, consumer_generation):
        self._check(consumer, consumer_generation)
        self._set(consumer, allocations, project_id, user_id)

    def post_allocations(self, body):
        self.posts.append(copy.deepcopy(body))
        for consumer, entry in body.items():
            self._check(consumer, entry["consumer_generation"])
        for consumer, entry in body.items():
            self._set(consumer, entry["allocations"], entry["project_id"], entry["user_id"])

    def delete_allocations(self, consumer):
        return self.consumers.pop(consumer, None) is not None

    def held(self, consumer):
        """{provider: resources} of ``consumer``."""
        return {rp: entry["resources"] for rp, entry in
                self.get_allocations(consumer)["allocations"].items()}

    def usages(self, provider):
        total = {}
        for entry in self.consumers.values():
            for resource_class, amount in entry["allocations"].get(
                    provider, {}).get("resources", {}).items():
                total[resource_class] = total.get(resource_class, 0) + amount
        return total


def hold(fake, consumer, provider, resources):
    fake.put_allocations(consumer, {provider: {"resources": resources}}, "p1", "u1", None)


# --- claims.move ---------------------------------------------------------------------------

def test_move_hands_every_allocation_over_in_one_post():
    fake = MemoryPlacement()
    hold(fake, "inst", "src", OLD)
    assert claims.move(fake, "inst", "mig")
    assert fake.held("mig") == {"src": OLD} and fake.held("inst") == {}
    [body] = fake.posts
    assert body == {
        "inst": {"allocations": {}, "consumer_generation": 1, "project_id": "p1",
                 "user_id": "u1"},
        "mig": {"allocations": {"src": {"resources": OLD}}, "consumer_generation": None,
                "project_id": "p1", "user_id": "u1"}}
    assert fake.get_allocations("mig")["project_id"] == "p1"


def test_move_replaces_what_the_target_held():
    fake = MemoryPlacement()
    hold(fake, "mig", "src", OLD)
    hold(fake, "inst", "dst", NEW)
    assert claims.move(fake, "mig", "inst")
    assert fake.held("inst") == {"src": OLD}
    assert fake.consumers.get("mig") is None
    assert fake.usages("dst") == {}


def test_move_of_a_consumer_without_allocations_changes_nothing():
    fake = MemoryPlacement()
    hold(fake, "inst", "dst", NEW)
    assert not claims.move(fake, "mig", "inst")
    assert fake.posts == [] and fake.held("inst") == {"dst": NEW}


def test_move_reads_again_after_a_generation_conflict():
    fake = MemoryPlacement()
    hold(fake, "inst", "src", OLD)
    fake.conflicts = 2
    assert claims.move(fake, "inst", "mig")
    assert len(fake.posts) == 3 and fake.held("mig") == {"src": OLD}


def test_endless_conflicts_and_other_refusals_raise():
    fake = MemoryPlacement()
    hold(fake, "inst", "src", OLD)
    fake.conflicts = 100
    with pytest.raises(placement.PlacementError, match="kept changing"):
        claims.move(fake, "inst", "mig")
    assert len(fake.posts) == claims.GENERATION_ATTEMPTS

    class Full(MemoryPlacement):
        def post_allocations(self, body):
            raise placement_client.Conflict("no capacity", 409, "placement.undefined_code")

    full = Full()
    hold(full, "mig", "src", OLD)
    with pytest.raises(placement_client.Conflict, match="no capacity"):
        claims.move(full, "mig", "inst")


def test_allocations_of_a_migration(caplog):
    fake = MemoryPlacement()
    allocations = placement.Allocations(fake)
    hold(fake, "inst", "src", OLD)
    assert allocations.hold_for_migration("inst", "mig")
    hold(fake, "inst", "dst", NEW)  # the scheduler's claim
    assert fake.usages("src") == OLD and fake.usages("dst") == NEW
    allocations.revert_migration("inst", "mig")
    assert fake.held("inst") == {"src": OLD} and fake.held("mig") == {}
    # Run twice (a retried step): the instance keeps its source allocations.
    allocations.revert_migration("inst", "mig")
    assert fake.held("inst") == {"src": OLD}
    # An instance placed without Placement has nothing to hand over.
    assert not allocations.hold_for_migration("other", "mig2")
    # Without Placement nothing happens at all.
    none = placement.Allocations(None)
    assert not none.hold_for_migration("inst", "mig")
    none.revert_migration("inst", "mig")
    none.release("mig", what="migration")
    # A failure while reverting is logged, not raised (the instance's state
    # is what the caller decides); while holding, raised: the move must not
    # start.
    fake.conflicts = 100
    with caplog.at_level(logging.ERROR):
        fake.consumers["mig4"] = copy.deepcopy(fake.consumers["inst"])
        allocations.revert_migration("other", "mig4")
    assert "Cannot give the allocations of migration mig4 back to instance other" in caplog.text
    assert fake.held("mig4") == {"src": OLD}
    with pytest.raises(placement.PlacementError, match="kept changing"):
        allocations.hold_for_migration("inst", "mig3")
    assert fake.held("inst") == {"src": OLD} and fake.held("mig3") == {}


# --- the moves, in the in-process cloud -----------------------------------------------------

class ClaimingScheduler:
    """The conductor's scheduler client, claiming the flavor on the chosen
    node for each instance in ``fake`` as nova-scheduler does (a PUT with
    generation None, which a consumer still holding allocations refuses)."""

    def __init__(self, real, fake):
        self.real, self.fake = real, fake

    def select_destinations(self, context, spec, instance_uuids, return_alternates=False):
        host_lists = self.real.select_destinations(context, spec, instance_uuids,
                                                   return_alternates=return_alternates)
        wanted = resources.flavor_resources(spec["flavor"])
        for uuid, host_list in zip(instance_uuids, host_lists):
            self.fake.put_allocations(uuid, {host_list[0]["nodename"]: {"resources": wanted}},
                                      "p1", "u1", None)
        return host_lists


def wire(cloud):
    """Every part of the cloud with one MemoryPlacement as its Placement."""
    fake = MemoryPlacement()
    conductor = next(svc.manager for svc in cloud.running if svc.binary == "nova-conductor")
    tasks = conductor.migration_tasks.clients
    tasks.allocations = placement.Allocations(fake)
    tasks._scheduler = ClaimingScheduler(tasks.scheduler, fake)
    for svc in cloud.running:
        if svc.binary == "nova-compute":
            svc.manager.resource_tracker.allocations = placement.Allocations(fake)
    cloud.api.allocations = placement.Allocations(fake)
    return fake


def booted(cloud, fake):
    server = cloud.active()
    assert fake.held(server["uuid"]) == {server["host"]: OLD}
    return server


def migration_uuid(cloud, server):
    return migrations.for_instance(cloud.url, server)[0]["uuid"]


def wait(predicate, what, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_resize_confirm_and_revert_move_the_allocations(cloud):
    fake = wire(cloud)
    server = booted(cloud, fake)
    source = server["host"]
    dest = {"c1": "c2", "c2": "c1"}[source]
    cloud.api.resize(context(), server["uuid"], BIGGER)
    cloud.wait_for(server["uuid"], lambda i: i["vm_state"] == "resized")
    migration = migration_uuid(cloud, server["uuid"])
    assert fake.held(migration) == {source: OLD}
    assert fake.held(server["uuid"]) == {dest: NEW}
    cloud.api.confirm_resize(context(), server["uuid"])
    cloud.wait_for(server["uuid"], lambda i: i["vm_state"] == "active")
    wait(lambda: migration not in fake.consumers, "the migration still holds the source")
    assert fake.usages(source) == {} and fake.held(server["uuid"]) == {dest: NEW}

    other = booted(cloud, fake)
    cloud.api.resize(context(), other["uuid"], BIGGER)
    cloud.wait_for(other["uuid"], lambda i: i["vm_state"] == "resized")
    migration = migration_uuid(cloud, other["uuid"])
    cloud.api.revert_resize(context(), other["uuid"])
    cloud.wait_for(other["uuid"], lambda i: i["vm_state"] == "active"
                   and i["task_state"] is None)
    assert fake.held(other["uuid"]) == {other["host"]: OLD}
    assert migration not in fake.consumers


def test_no_valid_host_gives_the_allocations_back(cloud):
    fake = wire(cloud)
    server = booted(cloud, fake)
    cloud.api.resize(context(), server["uuid"], dict(BIGGER, memory_mb=65536))
    cloud.wait_for(server["uuid"], lambda i: i["task_state"] is None)
    migration = migration_uuid(cloud, server["uuid"])
    assert fake.held(server["uuid"]) == {server["host"]: OLD}
    assert migration not in fake.consumers
    # The migration held them meanwhile: two POSTs, there and back.
    assert [list(body) for body in fake.posts] == [[server["uuid"], migration],
                                                  [migration, server["uuid"]]]


def test_a_failed_prep_gives_the_allocations_back(cloud):
    """The destination's compute refuses the claim after the scheduler
    claimed it in Placement."""
    fake = wire(cloud)
    server = booted(cloud, fake)
    dest = {"c1": "c2", "c2": "c1"}[server["host"]]

    def no_room(*args, **kwargs):
        raise resource_tracker.ClaimFailed("no room on the node (injected)")

    cloud.compute(dest).resource_tracker.move_claim = no_room
    cloud.api.resize(context(), server["uuid"], BIGGER)
    after = cloud.wait_for(server["uuid"], lambda i: i["task_state"] is None)
    assert (after["vm_state"], after["host"]) == ("active", server["host"])
    migration = migration_uuid(cloud, server["uuid"])
    assert fake.held(server["uuid"]) == {server["host"]: OLD}
    assert migration not in fake.consumers and fake.usages(dest) == {}


@pytest.mark.parametrize("cloud", [{"computes": {"c1": (4096, "fake.MigrationFailsDriver"),
                                                 "c2": (4096, "fake.FakeDriver")}}],
                         indirect=True)
def test_a_failure_on_the_source_gives_the_allocations_back(cloud):
    fake = wire(cloud)
    server = booted(cloud, fake)
    assert server["host"] == "c1"
    cloud.api.resize(context(), server["uuid"], BIGGER)
    after = cloud.wait_for(server["uuid"], lambda i: i["task_state"] is None)
    assert (after["vm_state"], after["host"]) == ("active", "c1")
    migration = migration_uuid(cloud, server["uuid"])
    assert fake.held(server["uuid"]) == {"c1": OLD}
    assert migration not in fake.consumers and fake.usages("c2") == {}


@pytest.mark.parametrize("cloud", [{"computes": {"c1": (4096, "fake.FakeDriver")},
                                    "settings": {"allow_resize_to_same_host": True}}],
                         indirect=True)
def test_on_the_same_host_both_sets_lie_on_one_provider(cloud):
    fake = wire(cloud)
    server = booted(cloud, fake)
    cloud.api.resize(context(), server["uuid"], BIGGER)
    cloud.wait_for(server["uuid"], lambda i: i["vm_state"] == "resized")
    assert fake.usages("c1") == {key: OLD[key] + NEW[key] for key in OLD}
    cloud.api.revert_resize(context(), server["uuid"])
    cloud.wait_for(server["uuid"], lambda i: i["vm_state"] == "active"
                   and i["task_state"] is None)
    assert fake.usages("c1") == OLD and fake.held(server["uuid"]) == {"c1": OLD}


def test_local_delete_releases_the_allocations(cloud):
    fake = wire(cloud)
    server = booted(cloud, fake)
    cloud.api.resize(context(), server["uuid"], BIGGER)
    cloud.wait_for(server["uuid"], lambda i: i["vm_state"] == "resized")
    migration = migration_uuid(cloud, server["uuid"])
    cloud.api._compute_up = lambda url, host: False  # its compute is down
    cloud.api.delete(context(), server["uuid"])
    cloud.wait_for(server["uuid"], lambda i: i is None)
    assert fake.consumers == {}, migration


def test_without_placement_the_api_holds_no_client():
    conf = config.new_conf()
    config.load(conf, [], prog="test", default_config_files=[])
    assert compute_api.API(conf, api_url="sqlite://").allocations.client is None


cloud = test_lifecycle.cloud
