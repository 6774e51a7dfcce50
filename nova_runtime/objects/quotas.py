"""Quota limits and usage, and the lock under which the super-conductor
admits a new instance into a cell.

A limit is looked up in order: the user's own limit (project_user_quotas),
the project's (quotas), the 'default' quota class (quota_classes), then
[quota] in nova.conf. -1 means unlimited. Usage is counted where the
resources are: instances, cores and ram in the cell databases, key pairs and
server groups in the API database. The API's checks (``allowed_servers``,
``check_resize``) raise QuotaExceeded; the conductor's recheck OverQuota.

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
import functools
import hashlib
import logging
import threading

import orjson
import sqlalchemy as sa

from nova_runtime.db import engines
from nova_runtime.db.api import models as api_models
from nova_runtime.db.main import models as cell_models
from nova_runtime.objects import exceptions, instance_groups
from nova_runtime.cells import session
from nova_runtime.objects._db import within
from nova_runtime import cells

LOG = logging.getLogger(__name__)

# API name -> [quota] option.
CONFIGURED = {
    "instances": "instances",
    "cores": "cores",
    "ram": "ram",
    "metadata_items": "metadata_items",
    "injected_files": "injected_files",
    "injected_file_content_bytes": "injected_file_content_bytes",
    "injected_file_path_bytes": "injected_file_path_length",
    "key_pairs": "key_pairs",
    "server_groups": "server_groups",
    "server_group_members": "server_group_members",
}
# The resources a server counts against.
SERVER_RESOURCES = {name: CONFIGURED[name] for name in ("instances", "cores", "ram")}
# Network quotas that microversions before 2.36 still show. nova_runtime
# does not enforce them: unlimited unless an operator stored a value.
LEGACY_NETWORK = ("fixed_ips", "floating_ips", "security_groups", "security_group_rules")
PERSONALITY = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")
RESOURCES = tuple(CONFIGURED) + LEGACY_NETWORK
# Every resource -> its [quota] option (None: unlimited by default).
ALL_RESOURCES = {**CONFIGURED, **dict.fromkeys(LEGACY_NETWORK)}
# Seconds a build waits for another build of its project to leave the lock.
LOCK_TIMEOUT = 60


class OverQuota(exceptions.RecordError):
    """Upstream's TooManyInstances: its message is the fault's. ``code`` is
    upstream's QuotaError code, which its faults carry."""

    code = 413


class QuotaLockTimeout(exceptions.RecordError):
    """Another build of the project held the lock for LOCK_TIMEOUT seconds."""


def resources_for(version):
    """The quota names a microversion shows and accepts."""
    names = list(RESOURCES)
    if version >= "2.36":
        names = [name for name in names if name not in LEGACY_NETWORK]
    if version >= "2.57":
        names = [name for name in names if name not in PERSONALITY]
    return names


def limits(api_url, conf, project_id, user_id=None, resources=SERVER_RESOURCES):
    """{resource: limit} of ``resources`` ({API name: [quota] option}): the
    user's own limit, else the project's, else the 'default' quota class,
    else nova.conf. -1 means unlimited."""
    with session(api_url) as db:
        return _limits(db, conf, project_id, user_id, resources)


def limit_for(api_url, conf, project_id, resource, user_id=None):
    """The limit of one resource, as ``limits`` finds it."""
    return limits(api_url, conf, project_id, user_id, {resource: ALL_RESOURCES[resource]})[resource]


def defaults(api_url, conf):
    """Every resource's limit for a project that set none of its own."""
    return class_limits(api_url, conf, "default")


def owner_limits(api_url, conf, project_id, user_id, resources=SERVER_RESOURCES):
    """(the project's limits, the user's limits) of ``resources``, as
    ``limits`` finds them with and without ``user_id``, from one read of the
    quota rows (the user's limits are the project's when ``user_id`` is
    None): what a create request checks (metadata items, instances, cores,
    ram), read once rather than once per owner and resource."""
    # A plain connection: one statement, nothing to commit (every create request).
    with engines.get_engine(api_url).connect() as connection:
        return _owner_limits(connection, conf, project_id, user_id, resources)


def _owner_limits(db, conf, project_id, user_id, resources):
    layers = _layers(db, project_id, user_id, ["default"])
    project = _layered(conf, resources, layers[:2])
    return project, (_layered(conf, resources, layers) if user_id else dict(project))


def _limits(db, conf, project_id, user_id, resources, class_name="default"):
    classes = ["default"] if class_name == "default" else ["default", class_name]
    return _layered(conf, resources, _layers(db, project_id, user_id, classes))


def _layers(db, project_id, user_id, classes):
    """[the quota class rows (one list per class), the project's rows, the
    user's rows] as [(resource, hard_limit)] lists, in the order in which
    they override each other; read with one statement (``db``: a session or
    a connection)."""
    with_user = bool(project_id and user_id)
    statement = _layers_statement(len(classes), bool(project_id), with_user)
    params = {f"class_{index}": name for index, name in enumerate(classes)}
    params.update(project_id=project_id, user_id=user_id)
    layers = [[] for _ in range(len(classes) + bool(project_id) + with_user)]
    for layer, resource, hard_limit in db.execute(statement, params):
        layers[layer].append((resource, hard_limit))
    return layers


@functools.cache
def _layers_statement(classes, with_project, with_user):
    """The UNION of _layers' reads, each row tagged with its layer, with the
    bound parameters class_0..., project_id and user_id; built once per form
    (every create request reads the limits)."""
    class_, project, user = (api_models.QuotaClass.__table__.c,
                             api_models.Quota.__table__.c,
                             api_models.ProjectUserQuota.__table__.c)
    queries = [sa.select(sa.literal(index), class_.resource, class_.hard_limit)
               .where(class_.class_name == sa.bindparam(f"class_{index}"))
               for index in range(classes)]
    if with_project:
        queries.append(sa.select(sa.literal(len(queries)), project.resource, project.hard_limit)
                       .where(project.project_id == sa.bindparam("project_id")))
    if with_user:
        queries.append(sa.select(sa.literal(len(queries)), user.resource, user.hard_limit)
                       .where(user.project_id == sa.bindparam("project_id"),
                              user.user_id == sa.bindparam("user_id")))
    return sa.union_all(*queries)


def _layered(conf, resources, layers):
    values = {name: getattr(conf.quota, option) if option else -1
              for name, option in resources.items()}
    for rows in layers:  # each layer overrides the one before
        for resource, hard_limit in rows:
            if resource in values and hard_limit is not None:
                values[resource] = hard_limit
    return values


def instance_usage(cell_urls, project_id, user_id=None, exclude=()):
    """({"instances", "cores", "ram"} of the project, the same of ``user_id``
    or None) over the live instances in the cells at ``cell_urls`` (cell0
    too: an instance in ERROR counts, as upstream), leaving out the uuids in
    ``exclude``. One query per cell counts for both."""
    totals = [0] * 6
    for url in cell_urls:
        totals = _add(totals, _instance_totals(url, project_id, user_id, exclude))
    return _split(totals, user_id)


def usage(dbs, project_id, user_id=None, exclude=()):
    """In-use counts of every resource (the uncounted ones are 0) of the
    project, or of ``user_id`` in it, over every cell (``dbs``: the
    Databases); a cell that is down is left out. Instances whose uuid is in
    ``exclude`` are not counted (allowed_servers counts them as build
    requests)."""
    counts = dict.fromkeys(RESOURCES, 0)
    totals = [0] * 6
    for _cell, result in dbs.scatter(
            lambda cell: _instance_totals(cell.database_connection, project_id, user_id, exclude),
            include_cell0=True):
        if not isinstance(result, cells.CellDown):
            totals = _add(totals, result)
    project, user = _split(totals, user_id)
    counts.update(user if user_id else project)
    with dbs.api() as db:
        groups = sa.select(sa.func.count()).select_from(api_models.InstanceGroup).filter_by(
            project_id=project_id)
        if user_id:
            groups = groups.filter_by(user_id=user_id)
        counts["server_groups"] = db.scalar(groups)
        if user_id:
            counts["key_pairs"] = db.scalar(sa.select(sa.func.count())
                                            .select_from(api_models.KeyPair)
                                            .filter_by(user_id=user_id))
    return counts


def _totals_statement(excluding):
    """_instance_totals' statement, with the bound parameters project_id,
    user_id and (``excluding``) the uuids to leave out."""
    instance = cell_models.Instance.__table__.c
    mine = instance.user_id == sa.bindparam("user_id")
    query = sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(instance.vcpus), 0),
        sa.func.coalesce(sa.func.sum(instance.memory_mb), 0),
        sa.func.coalesce(sa.func.sum(sa.case((mine, 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((mine, instance.vcpus), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((mine, instance.memory_mb), else_=0)), 0),
    ).where(instance.project_id == sa.bindparam("project_id"), instance.deleted == 0)
    if excluding:
        query = query.where(instance.uuid.not_in(sa.bindparam("exclude", expanding=True)))
    return query


# Built once: every create request and every admission runs one in each cell,
# and building and keying the statement cost more than running it.
_TOTALS = {excluding: _totals_statement(excluding) for excluding in (False, True)}


def _instance_totals(url, project_id, user_id, exclude):
    """[instances, cores, ram of the project, the same of ``user_id``] in one cell."""
    # Core, on a connection of its own (one statement: no ORM session).
    params = {"project_id": project_id, "user_id": user_id or ""}
    if exclude:
        params["exclude"] = list(exclude)
    with engines.get_engine(url).connect() as connection:
        return [int(value) for value in
                connection.execute(_TOTALS[bool(exclude)], params).one()]


def _add(totals, more):
    return [total + value for total, value in zip(totals, more)]


def _split(totals, user_id):
    names = ("instances", "cores", "ram")
    project = dict(zip(names, totals[:3]))
    return project, (dict(zip(names, totals[3:])) if user_id else None)


def check_fits(limits_, used, wanted, error=OverQuota):
    """``error`` (OverQuota: the conductor's), in upstream's words, when
    ``wanted`` ({resource: amount}) on top of ``used`` exceeds a limit."""
    for resource, amount in wanted.items():
        limit = limits_.get(resource, -1)
        if limit < 0 or not amount:
            continue
        if used[resource] + amount > limit:
            raise error(f"Quota exceeded for {resource}: Requested {amount}, but already "
                        f"used {used[resource]} of {limit} {resource}")


def recheck(conf, api_url, cell_urls, instance, locked=None):
    """OverQuota unless ``instance`` (a build request's values: uuid,
    project_id, user_id, vcpus, memory_mb) fits next to the project's and
    its user's live instances; run it under ``project_lock`` (``locked``:
    the connection it yielded, where the limits are read)."""
    wanted = {"instances": 1, "cores": instance.get("vcpus") or 0,
              "ram": instance.get("memory_mb") or 0}
    project_id, user_id = instance["project_id"], instance.get("user_id")
    with within(api_url, locked) as db:
        project_limits, user_limits = _owner_limits(db, conf, project_id, user_id,
                                                    SERVER_RESOURCES)
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
    overcommit). Yields the connection that holds the lock (None on SQLite),
    on which the block may read the API database."""
    name = lock_name(project_id)
    with _local_guard:
        local = _local_locks.setdefault(name, threading.Lock())
    if not local.acquire(timeout=timeout):
        raise QuotaLockTimeout(f"quota lock {name} not acquired in {timeout} s")
    try:
        engine = engines.get_engine(api_url)
        if engine.dialect.name != "mysql":
            yield None
            return
        with engine.connect() as connection:
            got = connection.execute(sa.text("SELECT GET_LOCK(:name, :timeout)"),
                                     {"name": name, "timeout": timeout}).scalar()
            connection.commit()  # no transaction stays open on this connection
            if got != 1:
                raise QuotaLockTimeout(f"quota lock {name} not acquired in {timeout} s")
            try:
                yield connection
            finally:
                try:
                    connection.execute(sa.text("SELECT RELEASE_LOCK(:name)"),
                                       {"name": name})
                    connection.commit()
                except sa.exc.DBAPIError as exc:  # a lost connection took the lock with it
                    LOG.warning("Cannot release quota lock %s: %s", name, exc)
    finally:
        local.release()


# --- the API's quota sets, its checks before it accepts a request ----------------------

def update(dbs, conf, project_id, new_limits, *, user_id=None, force=False):
    """Store limits; unless force, refuse one below what is in use."""
    if not force:
        in_use = usage(dbs, project_id, user_id)
        for resource, limit in new_limits.items():
            if limit >= 0 and limit < in_use.get(resource, 0):
                raise exceptions.Invalid(
                    f"Quota limit {limit} for {resource} must be greater than or equal to "
                    f"already used and reserved {in_use[resource]}.")
    with dbs.api() as db:
        for resource, limit in new_limits.items():
            if user_id:
                row = db.scalar(sa.select(api_models.ProjectUserQuota).filter_by(
                    project_id=project_id, user_id=user_id, resource=resource))
                if row is None:
                    db.add(api_models.ProjectUserQuota(
                        project_id=project_id, user_id=user_id, resource=resource,
                        hard_limit=limit))
                    continue
            else:
                row = db.scalar(sa.select(api_models.Quota).filter_by(
                    project_id=project_id, resource=resource))
                if row is None:
                    db.add(api_models.Quota(project_id=project_id, resource=resource,
                                             hard_limit=limit))
                    continue
            row.hard_limit = limit
    return limits(dbs.api_url, conf, project_id, user_id, ALL_RESOURCES)


def revert(api_url, project_id, user_id=None):
    with session(api_url) as db:
        if user_id:
            db.execute(sa.delete(api_models.ProjectUserQuota).filter_by(
                project_id=project_id, user_id=user_id))
        else:
            db.execute(sa.delete(api_models.Quota).filter_by(project_id=project_id))
            db.execute(sa.delete(api_models.ProjectUserQuota).filter_by(project_id=project_id))


_BUILDING = sa.select(api_models.BuildRequest.__table__.c.instance_uuid,
                      api_models.BuildRequest.__table__.c.instance).where(
    api_models.BuildRequest.__table__.c.project_id == sa.bindparam("project_id"))


def _building_by_user(api_url, project_id):
    """{uuid: (cores, ram, user_id)} of the project's build requests: its
    servers not in a cell yet."""
    found = {}
    # A plain connection (one statement, nothing to commit) and orjson: every
    # create request reads the whole instance of each build on its way.
    with engines.get_engine(api_url).connect() as connection:
        for uuid, row in connection.execute(_BUILDING, {"project_id": project_id}):
            instance = orjson.loads(row)
            found[uuid] = (instance.get("vcpus") or 0, instance.get("memory_mb") or 0,
                           instance.get("user_id"))
    return found


def allowed_servers(dbs, project_id, user_id, flavor, min_count, max_count, owner_limits_):
    """How many servers of ``flavor`` (between min_count and max_count) the
    instances, cores and ram quotas of the project and of the user still
    allow; QuotaExceeded (403) naming the first exceeded resource when not
    even min_count fit, in upstream's words. ``owner_limits_``: the
    (project's, user's) limits, as ``owner_limits`` returns them.

    A first check only: requests checked at once all see the same room; the
    super-conductor counts again under a lock ([quota] recheck_quota,
    ``recheck``)."""
    wanted = {"instances": 1, "cores": flavor["vcpus"], "ram": flavor["memory_mb"]}
    allowed = max_count
    in_use = _servers_usages(dbs, project_id, user_id)
    for limits_, used in zip(owner_limits_, in_use):
        for resource, each in wanted.items():
            limit = limits_[resource]
            if limit < 0 or each == 0:
                continue
            fits = max(0, (limit - used[resource]) // each)
            if fits < min_count:
                raise exceptions.QuotaExceeded(
                    f"Quota exceeded for {resource}: Requested {each * min_count}, but "
                    f"already used {used[resource]} of {limit} {resource}")
            allowed = min(allowed, fits)
    return allowed


def check_resize(dbs, conf, project_id, user_id, old, new):
    """A resize from flavor ``old`` to a bigger ``new`` needs the growth in
    cores and ram within the project's and the user's quotas: QuotaExceeded
    (403) otherwise, as upstream checks it."""
    wanted = {"cores": max(0, new["vcpus"] - old["vcpus"]),
              "ram": max(0, new["memory_mb"] - old["memory_mb"])}
    if not any(wanted.values()):
        return
    for owner, used in zip((None, user_id), _servers_usages(dbs, project_id, user_id)):
        check_fits(limits(dbs.api_url, conf, project_id, owner), used, wanted,
                   error=exceptions.QuotaExceeded)


def _servers_usages(dbs, project_id, user_id):
    """(the project's, ``user_id``'s) instances, cores and ram in use, build
    requests included, from one read of the build requests and one count per
    cell (it counts for both: a project's count reads all its instances, so
    it is read once per request, not once per owner). Build requests are
    read before the cells: the conductor creates an instance in its cell
    before it deletes the build request, so in that order a server on its
    way is seen at least once, and it is counted once (its uuid excluded
    from the cells' count). A cell that is down is left out."""
    building = _building_by_user(dbs.api_url, project_id)
    totals = [0] * 6
    for _cell, result in dbs.scatter(
            lambda cell: _instance_totals(cell.database_connection, project_id, user_id,
                                          building),
            include_cell0=True):
        if not isinstance(result, cells.CellDown):
            totals = _add(totals, result)
    project, user = _split(totals, user_id)
    usages = []
    for owner, used in ((None, project), (user_id, user if user_id else project)):
        mine = [(cores, ram) for cores, ram, who in building.values()
                if owner is None or who == owner]
        usages.append({"instances": used["instances"] + len(mine),
                       "cores": used["cores"] + sum(cores for cores, _ in mine),
                       "ram": used["ram"] + sum(ram for _, ram in mine)})
    return usages


# --- quota classes (os-quota-class-sets) ----------------------------------------

def class_resources(version):
    """The quota names os-quota-class-sets shows at a microversion: the
    server group quotas from 2.50, when the network ones go; personality
    files go at 2.57."""
    names = list(RESOURCES)
    if version < "2.50":
        names = [name for name in names if name not in ("server_groups", "server_group_members")]
    else:
        names = [name for name in names if name not in LEGACY_NETWORK]
    if version >= "2.57":
        names = [name for name in names if name not in PERSONALITY]
    return names


def class_limits(api_url, conf, class_name):
    """The limits of a quota class: its own rows over the defaults."""
    with session(api_url) as db:
        return _limits(db, conf, None, None, ALL_RESOURCES, class_name=class_name)


def update_class(api_url, conf, class_name, new_limits):
    """Store a quota class's limits (the class 'default' changes every
    project's defaults); returns all its limits."""
    with session(api_url) as db:
        for resource, limit in new_limits.items():
            row = db.scalar(sa.select(api_models.QuotaClass).filter_by(
                class_name=class_name, resource=resource))
            if row is None:
                db.add(api_models.QuotaClass(class_name=class_name, resource=resource,
                                              hard_limit=limit))
            else:
                row.hard_limit = limit
    return class_limits(api_url, conf, class_name)
