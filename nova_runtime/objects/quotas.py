"""Quota limits, the instance usage of a project, and the lock under which
the super-conductor admits a new instance into a cell.

Why a lock: the API checks the quota when it accepts a request, but two
requests checked at once both see room for one more server (30 parallel
creates under a quota of 10 let 11 or 12 through). Upstream's answer is
[quota] recheck_quota: the conductor counts again once the instances are
recorded. Here that recount and the instance's creation in its cell run
under one lock per project, held in the API database (MariaDB's GET_LOCK),
so that it holds across every super-conductor process and host: exactly as
many instances as the limit allows get in, and the others end in ERROR
with upstream's "Quota exceeded" fault.
"""

import contextlib
import hashlib
import logging
import threading

import sqlalchemy as sa

from nova_runtime.db import engines
from nova_runtime.db.api import models as api_models
from nova_runtime.db.main import models as cell_models
from nova_runtime.objects import exceptions, instance_groups
from nova_runtime.objects._db import session

LOG = logging.getLogger(__name__)

# API name -> [quota] option, for the resources a server counts against.
SERVER_RESOURCES = {"instances": "instances", "cores": "cores", "ram": "ram"}
# Seconds a build waits for another build of its project to leave the lock.
LOCK_TIMEOUT = 60


class OverQuota(exceptions.RecordError):
    """Upstream's TooManyInstances: its message is the fault's. ``code`` is
    upstream's QuotaError code, which its faults carry."""

    code = 413


class QuotaLockTimeout(exceptions.RecordError):
    """Another build of the project held the lock for LOCK_TIMEOUT seconds."""


def limits(api_url, conf, project_id, user_id=None, resources=SERVER_RESOURCES):
    """{resource: limit} of ``resources`` ({API name: [quota] option}): the
    user's own limit, else the project's, else the 'default' quota class,
    else nova.conf. -1 means unlimited."""
    with session(api_url) as db:
        return _limits(db, conf, project_id, user_id, resources)


def _limits(db, conf, project_id, user_id, resources):
    values = {name: getattr(conf.quota, option) for name, option in resources.items()}
    layers = [sa.select(api_models.QuotaClass).filter_by(class_name="default"),
              sa.select(api_models.Quota).filter_by(project_id=project_id)]
    if user_id:
        layers.append(sa.select(api_models.ProjectUserQuota).filter_by(
            project_id=project_id, user_id=user_id))
    for query in layers:  # each layer overrides the one before
        for row in db.scalars(query):
            if row.resource in values and row.hard_limit is not None:
                values[row.resource] = row.hard_limit
    return values


def instance_usage(cell_urls, project_id, user_id=None, exclude=()):
    """({"instances", "cores", "ram"} of the project, the same of ``user_id``
    or None) over the live instances in the cells at ``cell_urls`` (cell0
    too: an instance in ERROR counts, as upstream), leaving out the uuids in
    ``exclude``. One query per cell counts for both."""
    instance = cell_models.Instance
    mine = instance.user_id == (user_id or "")
    query = sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(instance.vcpus), 0),
        sa.func.coalesce(sa.func.sum(instance.memory_mb), 0),
        sa.func.coalesce(sa.func.sum(sa.case((mine, 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((mine, instance.vcpus), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((mine, instance.memory_mb), else_=0)), 0),
    ).filter_by(project_id=project_id, deleted=0)
    if exclude:
        query = query.filter(instance.uuid.not_in(list(exclude)))
    totals = [0] * 6
    for url in cell_urls:
        with session(url) as db:
            row = db.execute(query).one()
        totals = [total + int(value) for total, value in zip(totals, row)]
    names = ("instances", "cores", "ram")
    project = dict(zip(names, totals[:3]))
    return project, (dict(zip(names, totals[3:])) if user_id else None)


def check_fits(limits_, used, wanted):
    """OverQuota, in upstream's words, when ``wanted`` ({resource: amount})
    on top of ``used`` exceeds a limit."""
    for resource, amount in wanted.items():
        limit = limits_.get(resource, -1)
        if limit < 0 or not amount:
            continue
        if used[resource] + amount > limit:
            raise OverQuota(f"Quota exceeded for {resource}: Requested {amount}, but already "
                            f"used {used[resource]} of {limit} {resource}")


def recheck(conf, api_url, cell_urls, instance):
    """OverQuota unless ``instance`` (a build request's values: uuid,
    project_id, user_id, vcpus, memory_mb) fits next to the project's and
    its user's live instances; run it under ``project_lock``."""
    wanted = {"instances": 1, "cores": instance.get("vcpus") or 0,
              "ram": instance.get("memory_mb") or 0}
    project_id, user_id = instance["project_id"], instance.get("user_id")
    with session(api_url) as db:
        project_limits = _limits(db, conf, project_id, None, SERVER_RESOURCES)
        user_limits = _limits(db, conf, project_id, user_id, SERVER_RESOURCES) \
            if user_id else None
    project_used, user_used = instance_usage(cell_urls, project_id, user_id,
                                             exclude=[instance["uuid"]])
    check_fits(project_limits, project_used, wanted)
    if user_id:
        check_fits(user_limits, user_used, wanted)


def recheck_group_members(conf, api_url, cell_urls, instance, group_uuid):
    """OverQuota when the server group already has [quota]
    server_group_members live members of the instance's user (counted in
    the cells, as upstream counts them); run it under ``project_lock``. The
    API checked the same when it accepted the request, and made the
    instance a member: concurrent requests all passed that check."""
    project_id, user_id = instance["project_id"], instance.get("user_id")
    limit = limits(api_url, conf, project_id, user_id,
                   {"server_group_members": "server_group_members"})["server_group_members"]
    if limit < 0:
        return
    members = set(instance_groups.get(api_url, group_uuid)["members"]) - {instance["uuid"]}
    live = 0
    if members:
        query = sa.select(sa.func.count()).select_from(cell_models.Instance).filter(
            cell_models.Instance.uuid.in_(sorted(members)), cell_models.Instance.deleted == 0)
        if user_id:
            query = query.filter(cell_models.Instance.user_id == user_id)
        for url in cell_urls:
            with session(url) as db:
                live += db.scalar(query)
    if live + 1 > limit:
        raise OverQuota("Quota exceeded, too many servers in group")


# --- the lock -------------------------------------------------------------------------

_local_locks = {}  # lock name -> threading.Lock of this process
_local_guard = threading.Lock()


def lock_name(project_id):
    """GET_LOCK names are at most 64 characters: long project ids are hashed."""
    name = f"nova-quota-{project_id}"
    return name if len(name) <= 64 else \
        "nova-quota-" + hashlib.sha1(project_id.encode()).hexdigest()


@contextlib.contextmanager
def project_lock(api_url, project_id, timeout=LOCK_TIMEOUT):
    """Hold the project's quota lock for the block: first this process's
    own (so that only one of its threads at a time waits in the database,
    holding a pooled connection), then, on MariaDB, a named lock of the
    server, held by one connection: it holds across processes and hosts and
    goes away with a process that dies holding it (SQLite has one process).
    The block's own reads must start after this returns: a transaction
    begun before the lock would read from a snapshot older than the
    previous holder's commit (the REPEATABLE READ trap that let Placement
    overcommit)."""
    name = lock_name(project_id)
    with _local_guard:
        local = _local_locks.setdefault(name, threading.Lock())
    if not local.acquire(timeout=timeout):
        raise QuotaLockTimeout(f"quota lock {name} not acquired in {timeout} s")
    try:
        engine = engines.get_engine(api_url)
        if engine.dialect.name != "mysql":
            yield
            return
        with engine.connect() as connection:
            got = connection.execute(sa.text("SELECT GET_LOCK(:name, :timeout)"),
                                     {"name": name, "timeout": timeout}).scalar()
            connection.commit()  # no transaction stays open on this connection
            if got != 1:
                raise QuotaLockTimeout(f"quota lock {name} not acquired in {timeout} s")
            try:
                yield
            finally:
                try:
                    connection.execute(sa.text("SELECT RELEASE_LOCK(:name)"),
                                       {"name": name})
                    connection.commit()
                except sa.exc.DBAPIError as exc:  # a lost connection took the lock with it
                    LOG.warning("Cannot release quota lock %s: %s", name, exc)
    finally:
        local.release()
