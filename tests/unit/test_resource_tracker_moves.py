"""The destination's claim of a resize or cold migration (ResourceTracker.move_claim),
with the conductor answering from memory: the node's usage the claim tests."""

import pytest

from nova_runtime import config
from nova_runtime.compute import resource_tracker
from nova_runtime.objects import exceptions as record_exc
from nova_runtime.virt import fake

OLD = {"memory_mb": 1024, "vcpus": 1, "root_gb": 1, "ephemeral_gb": 0}
NEW = {"memory_mb": 1536, "vcpus": 1, "root_gb": 1, "ephemeral_gb": 0}
LIMITS = {"memory_mb": 4096}


class Conductor:
    """The records the tracker reads and writes: instances on host c2,
    migrations, and c2's compute node."""

    def __init__(self, instances, migrations):
        self.instances, self.migrations, self.node = instances, migrations, None

    def instance_get_all_by_host(self, context, host, nodename):
        return [i for i in self.instances if (i["host"], i["node"]) == (host, nodename)]

    def migration_get_in_progress_by_host_and_node(self, context, host, nodename):
        return [m for m in self.migrations if host in (m["source_compute"], m["dest_compute"])]

    def migration_update(self, context, migration_id, values):
        [migration] = [m for m in self.migrations if m["id"] == migration_id]
        migration.update(values)
        return dict(migration)

    def compute_node_get_by_host_and_nodename(self, context, host, nodename):
        if self.node is None:
            raise record_exc.ComputeNodeNotFound(nodename)
        return self.node

    def compute_node_create(self, context, node_uuid, values):
        self.node = dict(values, id=1, uuid=node_uuid)
        return self.node

    def compute_node_update(self, context, node_id, values):
        self.node = dict(self.node, **values)
        return self.node


def instance(uuid, host, flavor):
    return dict(flavor, uuid=uuid, host=host, node=host, vm_state="active", task_state=None)


def migration(migration_id, uuid, source, dest):
    return {"id": migration_id, "uuid": f"m{migration_id}", "instance_uuid": uuid,
            "source_compute": source, "source_node": source, "dest_compute": dest,
            "dest_node": dest, "old_flavor": OLD, "new_flavor": NEW,
            "migration_type": "resize", "status": "pre-migrating"}


@pytest.fixture
def tracker(tmp_path):
    conf = config.new_conf()
    config.load(conf, [], prog="test", default_config_files=[])
    conf.set_override("state_path", str(tmp_path))
    conf.set_override("memory_mb", 4096, group="fake_driver")
    conf.set_override("reserved_host_memory_mb", 0)
    driver = fake.FakeDriver(conf)
    driver.host = "c2"
    return conf, driver


def test_a_report_between_scheduling_and_claim_does_not_count_the_migration_twice(tracker):
    conf, driver = tracker
    # c2 runs one instance in the new flavor; another instance, on c1, is
    # being resized to c2: the conductor named c2 in its migration already.
    moving = migration(7, "other", "c1", "c2")
    conductor = Conductor([instance("first", "c2", NEW), instance("other", "c1", OLD)], [moving])
    rt = resource_tracker.ResourceTracker(conf, "c2", driver, conductor)
    # The periodic report ran before prep_resize: it counts the incoming flavor.
    [node] = rt.update_available_resource(None, service_id=1)
    assert node["memory_mb_used"] == 1536 + 1536
    # 1536 MB of 4096 are in use without this migration: its 1536 fit.
    claimed = rt.move_claim(None, 1, conductor.instances[1], moving, NEW, "c2", LIMITS)
    assert claimed["dest_host"] == conf.my_ip
    assert rt.nodes["c2"]["memory_mb_used"] == 3072


def test_a_move_claim_that_does_not_fit_fails(tracker):
    conf, driver = tracker
    conductor = Conductor([instance("a", "c2", NEW), instance("b", "c2", NEW),
                           instance("other", "c1", OLD)], [migration(7, "other", "c1", "c2")])
    rt = resource_tracker.ResourceTracker(conf, "c2", driver, conductor)
    rt.update_available_resource(None, service_id=1)
    with pytest.raises(resource_tracker.ClaimFailed, match="1024 MB of RAM free"):
        rt.move_claim(None, 1, conductor.instances[2], conductor.migrations[0], NEW, "c2",
                      LIMITS)
