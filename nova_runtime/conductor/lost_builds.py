"""Builds lost between services, ended by nova-conductor's periodic task.

A build moves from service to service by RPC casts, and oslo.messaging
acknowledges a message when a server takes it, before it runs: a
nova-conductor killed while it schedules, or a RabbitMQ restarted while a
cast waits in a queue, loses that step for good. Two things are then left
that nothing would ever end:

- a build request (the API accepted the server, no cell has it: BUILD
  forever, counted against the quota). The super-conductor puts it in cell0,
  in ERROR, with a fault, as when no host was valid; a copy that a dead
  conductor had already created in a cell is removed first;
- an instance in its cell still waiting for a compute (vm_state building,
  task_state scheduling: the cast to the compute, or a reschedule, was
  lost). Its conductor puts it in ERROR with a fault. (A compute that took
  the build, task_state spawning, ends it itself: its start-up recovery and
  [DEFAULT] instance_build_timeout.)

Both once they are [conductor] lost_build_timeout seconds old (0: never).
A conductor that is merely slow loses the race cleanly: the build request
is placed by whoever deletes it first (objects.build_requests.mark_placed),
the instance moves on only from the task_state it had (a compare-and-swap).
Every conductor process runs the task; a named lock in the database lets
one of them at a time do the work.
"""

import contextlib
import datetime
import logging

import sqlalchemy as sa

from nova_runtime import cells
from nova_runtime.states import task_states, vm_states
from nova_runtime.db import engines
from nova_runtime.db.api.models import BuildRequest, InstanceMapping
from nova_runtime.db.base import utcnow
from nova_runtime.db.main.models import Instance
from nova_runtime.objects import exceptions as record_exc
from nova_runtime.objects import instance_actions, instance_mappings, instances
from nova_runtime.cells import session

LOG = logging.getLogger(__name__)

LOST = "Build lost between services (a service or the message queue restarted)"


def lost_build_requests(api_url, older_than):
    """The uuids of build requests created before ``older_than`` whose
    instance mapping names no cell yet."""
    with session(api_url) as db:
        return list(db.scalars(
            sa.select(BuildRequest.instance_uuid)
            .join(InstanceMapping, InstanceMapping.instance_uuid == BuildRequest.instance_uuid,
                  isouter=True)
            .filter(BuildRequest.created_at < older_than, InstanceMapping.cell_id.is_(None))
            .order_by(BuildRequest.id)))


def lost_instances(url, older_than):
    """The uuids of live instances of the cell at ``url`` still waiting for a
    compute (building, scheduling) since before ``older_than``."""
    changed = sa.func.coalesce(Instance.updated_at, Instance.created_at)
    with session(url) as db:
        return list(db.scalars(
            sa.select(Instance.uuid).filter(
                Instance.deleted == 0, Instance.vm_state == vm_states.BUILDING,
                Instance.task_state == task_states.SCHEDULING, changed < older_than)
            .order_by(Instance.id)))


@contextlib.contextmanager
def only_one(url, name):
    """Whether this process got the database's named lock ``name`` (without
    waiting): True for the block when it did (always on SQLite)."""
    engine = engines.get_engine(url)
    if engine.dialect.name != "mysql":
        yield True
        return
    with engine.connect() as connection:
        got = connection.execute(sa.text("SELECT GET_LOCK(:name, 0)"), {"name": name}).scalar()
        connection.commit()
        try:
            yield got == 1
        finally:
            if got == 1:
                with contextlib.suppress(sa.exc.DBAPIError):
                    connection.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})
                    connection.commit()


class LostBuilds:
    """The periodic task: ``build_tasks`` (conductor.build.BuildTasks) knows
    this conductor's cell database and, for a super-conductor, the API
    database and the cells."""

    def __init__(self, conf, build_tasks):
        self.conf = conf
        self.tasks = build_tasks

    def run(self, context):
        timeout = self.conf.conductor.lost_build_timeout
        if not timeout:
            return
        older_than = utcnow() - datetime.timedelta(seconds=timeout)
        if self.tasks.api_url:
            with only_one(self.tasks.api_url, "nova-lost-build-requests") as mine:
                if mine:
                    for uuid in lost_build_requests(self.tasks.api_url, older_than):
                        self._bury(context, uuid, timeout)
        with only_one(self.tasks.db_url, "nova-lost-builds") as mine:
            if mine:
                for uuid in lost_instances(self.tasks.db_url, older_than):
                    self._fail(context, uuid, timeout)

    def _bury(self, context, uuid, timeout):
        """The build request goes to cell0 in ERROR; then a copy that a
        conductor created in a cell before it died goes, with its fixed
        address (only once the mapping names cell0: a conductor that placed
        it meanwhile keeps it)."""
        message = f"{LOST}: not scheduled within {timeout} s"
        LOG.warning("Build request of instance %s is more than %s s old and in no cell: "
                    "putting it in ERROR in cell0", uuid, timeout)
        self.tasks.allocations.release(uuid)
        self.tasks._bury_in_cell0(context, uuid, LostBuild(message), message, message)
        try:
            cell = instance_mappings.get(self.tasks.api_url, uuid)["cell"]
        except record_exc.InstanceMappingNotFound:
            return
        if cell is None or cell.uuid != cells.CELL0_UUID:
            return
        for other in self.tasks.dbs.cells(include_cell0=False):
            try:
                instances.destroy(other.database_connection, uuid,
                                  {"vm_state": vm_states.DELETED, "task_state": None})
            except record_exc.InstanceNotFound:
                continue
            LOG.info("Removed instance %s from cell %s: its build request was never placed",
                     uuid, other.name or other.uuid)

    def _fail(self, context, uuid, timeout):
        url = self.tasks.db_url
        try:
            instances.update(url, uuid, {"vm_state": vm_states.ERROR, "task_state": None},
                             expected_task_states=[task_states.SCHEDULING])
        except (record_exc.InstanceNotFound, record_exc.UnexpectedTaskState):
            return  # deleted, or a compute took it meanwhile
        message = f"{LOST}: no compute took it within {timeout} s"
        LOG.warning("Instance %s is in ERROR: %s", uuid, message)
        instance_actions.fault_create(url, instance_uuid=uuid, code=500, message=message,
                                      details=message)


class LostBuild(Exception):
    code = 500
