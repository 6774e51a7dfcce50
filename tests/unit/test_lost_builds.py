"""Builds lost between services end in ERROR with a fault
(nova_runtime.conductor.lost_builds), in one process
(tests/unit/test_conductor_build.py's Cloud): what a conductor killed while
it scheduled, or a message queue restarted, leaves behind is staged in the
databases, then the conductor's periodic task runs."""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import datetime
import uuid

import pytest
import sqlalchemy as sa

from nova_runtime import cells, context as nova_context
from nova_runtime.states import task_states, vm_states
from nova_runtime.conductor import build, manager as conductor_manager
from nova_runtime.db import engines
from nova_runtime.db.api.models import BuildRequest
from nova_runtime.db.main.models import Instance
from nova_runtime.objects import build_requests, exceptions, instance_actions, instances
from nova_runtime.objects import instance_mappings
from tests.unit.test_conductor_build import FLAVOR, Cloud, settled

TIMEOUT = 60


@pytest.fixture
def cloud(tmp_path):
    started = Cloud(tmp_path, {"c1": (4096, "fake.FakeDriver")})
    yield started
    started.stop()


def conductor(cloud):
    [found] = [svc.manager for svc in cloud.running
               if isinstance(svc.manager, conductor_manager.ConductorManager)]
    found.conf.set_override("lost_build_timeout", TIMEOUT, group="conductor")
    return found


def ago(seconds):
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - \
        datetime.timedelta(seconds=seconds)


def accepted(cloud, age):
    """A build request as nova-api writes it, ``age`` seconds old, that no
    conductor got (its cast was lost)."""
    instance = {"uuid": str(uuid.uuid4()), "project_id": "p1", "user_id": "u1",
                "display_name": "lost", "vm_state": vm_states.BUILDING,
                "task_state": task_states.SCHEDULING, "memory_mb": FLAVOR["memory_mb"],
                "vcpus": FLAVOR["vcpus"], "root_gb": FLAVOR["root_gb"], "ephemeral_gb": 0,
                "instance_type_id": FLAVOR["id"], "flavor": FLAVOR, "metadata": {},
                "system_metadata": {}}
    build_requests.create(cloud.urls["api"], [{"instance": instance, "request_spec": {}}])
    with engines.get_engine(cloud.urls["api"]).begin() as connection:
        connection.execute(sa.update(BuildRequest).filter_by(
            instance_uuid=instance["uuid"]).values(created_at=ago(age)))
    return instance


def test_a_build_request_no_conductor_placed_goes_to_cell0(cloud):
    manager = conductor(cloud)
    ctx = nova_context.get_admin_context()
    lost, recent = accepted(cloud, TIMEOUT + 5), accepted(cloud, 1)
    # A dead conductor had already created it in cell1, not yet mapped there.
    values, flavor, *_ = build.split_instance(lost)
    instances.create(cloud.urls["cell1"], values, flavor=flavor)
    manager.periodic_tasks(ctx)
    found = cloud.api.get(ctx, lost["uuid"])
    assert (found["vm_state"], found["cell_uuid"]) == ("error", cells.CELL0_UUID)
    [fault] = instance_actions.faults_for(cloud.urls["cell0"], lost["uuid"])
    assert fault["message"].startswith("Build lost between services")
    with pytest.raises(exceptions.BuildRequestNotFound):
        build_requests.get(cloud.urls["api"], lost["uuid"])
    with pytest.raises(exceptions.InstanceNotFound):  # the copy in cell1 is gone
        instances.get_by_uuid(cloud.urls["cell1"], lost["uuid"])
    # Not old enough yet: left alone.
    assert build_requests.get(cloud.urls["api"], recent["uuid"])
    assert instance_mappings.get(cloud.urls["api"], recent["uuid"])["cell"] is None


def test_an_instance_no_compute_took_goes_to_error(cloud):
    manager = conductor(cloud)
    ctx = nova_context.get_admin_context()
    [server] = cloud.boot()
    cloud.wait_for(server, settled)
    instances.update(cloud.urls["cell1"], server, {"vm_state": vm_states.BUILDING,
                                                    "task_state": task_states.SCHEDULING})
    manager.periodic_tasks(ctx)  # just now: its cast may still be on its way
    assert instances.get_by_uuid(cloud.urls["cell1"], server)["vm_state"] == "building"
    with engines.get_engine(cloud.urls["cell1"]).begin() as connection:
        connection.execute(sa.update(Instance).filter_by(uuid=server).values(
            updated_at=ago(TIMEOUT + 5)))
    manager.periodic_tasks(ctx)
    record = instances.get_by_uuid(cloud.urls["cell1"], server)
    assert (record["vm_state"], record["task_state"]) == ("error", None)
    assert instance_actions.faults_for(cloud.urls["cell1"], server)[0]["message"] == (
        f"Build lost between services (a service or the message queue restarted): no "
        f"compute took it within {TIMEOUT} s")


def test_a_conductor_that_places_it_first_keeps_it(cloud):
    """mark_placed: whoever deletes the build request places the instance;
    the other one's mapping change does not happen."""
    lost = accepted(cloud, TIMEOUT + 5)
    assert build_requests.mark_placed(cloud.urls["api"], lost["uuid"], cloud.cell1.id)
    assert not build_requests.mark_placed(cloud.urls["api"], lost["uuid"], 0)
    assert instance_mappings.get(cloud.urls["api"], lost["uuid"])["cell"].uuid == \
        cloud.cell1.uuid
