"""Quota limits and usage.

A limit is looked up in order: the user's own limit (project_user_quotas),
the project's (quotas), the 'default' quota class (quota_classes), then
[quota] in nova.conf. -1 means unlimited. Usage is counted where the
resources are: instances, cores and ram in the cell databases, key pairs and
server groups in the API database.
"""

import json

import sqlalchemy as sa

from nova_runtime.api import errors
from nova_runtime.api.databases import CellDown
from nova_runtime.db.api import models
from nova_runtime.db.main import models as cell_models

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
# Network quotas that microversions before 2.36 still show. nova_runtime
# does not enforce them: unlimited unless an operator stored a value.
LEGACY_NETWORK = ("fixed_ips", "floating_ips", "security_groups", "security_group_rules")
PERSONALITY = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")
RESOURCES = tuple(CONFIGURED) + LEGACY_NETWORK


def resources_for(version):
    """The quota names a microversion shows and accepts."""
    names = list(RESOURCES)
    if version >= "2.36":
        names = [name for name in names if name not in LEGACY_NETWORK]
    if version >= "2.57":
        names = [name for name in names if name not in PERSONALITY]
    return names


def defaults(db, conf):
    values = {name: getattr(conf.quota, option) for name, option in CONFIGURED.items()}
    values.update({name: -1 for name in LEGACY_NETWORK})
    with db.api() as session:
        for row in session.scalars(sa.select(models.QuotaClass).filter_by(class_name="default")):
            if row.resource in values and row.hard_limit is not None:
                values[row.resource] = row.hard_limit
    return values


def limits(db, conf, project_id, user_id=None):
    values = defaults(db, conf)
    with db.api() as session:
        for row in session.scalars(sa.select(models.Quota).filter_by(project_id=project_id)):
            if row.resource in values and row.hard_limit is not None:
                values[row.resource] = row.hard_limit
        if user_id:
            for row in session.scalars(sa.select(models.ProjectUserQuota).filter_by(
                    project_id=project_id, user_id=user_id)):
                if row.resource in values and row.hard_limit is not None:
                    values[row.resource] = row.hard_limit
    return values


def limit_for(db, conf, project_id, resource, user_id=None):
    return limits(db, conf, project_id, user_id)[resource]


def usage(db, project_id, user_id=None, exclude=()):
    """In-use counts of the countable resources; the others are 0. Instances
    whose uuid is in ``exclude`` are not counted (allowed_servers counts
    them as build requests)."""
    counts = {name: 0 for name in RESOURCES}

    def count_instances(cell, session):
        query = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(cell_models.Instance.vcpus), 0),
                          sa.func.coalesce(sa.func.sum(cell_models.Instance.memory_mb), 0)
                          ).filter_by(project_id=project_id, deleted=0)
        if user_id:
            query = query.filter_by(user_id=user_id)
        if exclude:
            query = query.filter(cell_models.Instance.uuid.not_in(list(exclude)))
        return session.execute(query).one()

    for _cell, result in db.scatter(count_instances, include_cell0=True):
        if isinstance(result, CellDown):
            continue
        instances, cores, ram = result
        counts["instances"] += instances
        counts["cores"] += int(cores)
        counts["ram"] += int(ram)
    with db.api() as session:
        groups = sa.select(sa.func.count()).select_from(models.InstanceGroup).filter_by(
            project_id=project_id)
        if user_id:
            groups = groups.filter_by(user_id=user_id)
        counts["server_groups"] = session.scalar(groups)
        if user_id:
            counts["key_pairs"] = session.scalar(
                sa.select(sa.func.count()).select_from(models.KeyPair).filter_by(user_id=user_id))
    return counts


def update(db, conf, project_id, new_limits, *, user_id=None, force=False):
    """Store limits; unless force, refuse one below what is in use."""
    if not force:
        in_use = usage(db, project_id, user_id)
        for resource, limit in new_limits.items():
            if limit >= 0 and limit < in_use.get(resource, 0):
                raise errors.BadRequest(
                    f"Quota limit {limit} for {resource} must be greater than or equal to "
                    f"already used and reserved {in_use[resource]}.")
    with db.api() as session:
        for resource, limit in new_limits.items():
            if user_id:
                row = session.scalar(sa.select(models.ProjectUserQuota).filter_by(
                    project_id=project_id, user_id=user_id, resource=resource))
                if row is None:
                    session.add(models.ProjectUserQuota(
                        project_id=project_id, user_id=user_id, resource=resource,
                        hard_limit=limit))
                    continue
            else:
                row = session.scalar(sa.select(models.Quota).filter_by(
                    project_id=project_id, resource=resource))
                if row is None:
                    session.add(models.Quota(project_id=project_id, resource=resource,
                                             hard_limit=limit))
                    continue
            row.hard_limit = limit
    return limits(db, conf, project_id, user_id)


def revert(db, project_id, user_id=None):
    with db.api() as session:
        if user_id:
            session.execute(sa.delete(models.ProjectUserQuota).filter_by(
                project_id=project_id, user_id=user_id))
        else:
            session.execute(sa.delete(models.Quota).filter_by(project_id=project_id))
            session.execute(sa.delete(models.ProjectUserQuota).filter_by(project_id=project_id))


def _building(db, project_id, user_id=None):
    """{uuid: (cores, ram)} of build requests: servers not in a cell yet."""
    found = {}
    with db.api() as session:
        for uuid, row in session.execute(sa.select(
                models.BuildRequest.instance_uuid, models.BuildRequest.instance).filter_by(
                project_id=project_id)):
            instance = json.loads(row)
            if user_id and instance.get("user_id") != user_id:
                continue
            found[uuid] = (instance.get("vcpus") or 0, instance.get("memory_mb") or 0)
    return found


def allowed_servers(db, conf, project_id, user_id, flavor, min_count, max_count):
    """How many servers of ``flavor`` (between min_count and max_count) the
    instances, cores and ram quotas of the project and of the user still
    allow; QuotaExceeded (403) naming the first exceeded resource when not
    even min_count fit, in upstream's words.

    A first check only: requests checked at once all see the same room; the
    super-conductor counts again under a lock ([quota] recheck_quota,
    objects.quotas)."""
    wanted = {"instances": 1, "cores": flavor["vcpus"], "ram": flavor["memory_mb"]}
    allowed = max_count
    for owner in (None, user_id):
        limits_ = limits(db, conf, project_id, owner)
        used = _servers_usage(db, project_id, owner)
        for resource, each in wanted.items():
            limit = limits_[resource]
            if limit < 0 or each == 0:
                continue
            fits = max(0, (limit - used[resource]) // each)
            if fits < min_count:
                raise errors.QuotaExceeded(
                    f"Quota exceeded for {resource}: Requested {each * min_count}, but "
                    f"already used {used[resource]} of {limit} {resource}")
            allowed = min(allowed, fits)
    return allowed


def check_resize(db, conf, project_id, user_id, old, new):
    """A resize from flavor ``old`` to a bigger ``new`` needs the growth in
    cores and ram within the project's and the user's quotas: QuotaExceeded
    (403) otherwise, as upstream checks it."""
    wanted = {"cores": max(0, new["vcpus"] - old["vcpus"]),
              "ram": max(0, new["memory_mb"] - old["memory_mb"])}
    if not any(wanted.values()):
        return
    for owner in (None, user_id):
        limits_ = limits(db, conf, project_id, owner)
        used = _servers_usage(db, project_id, owner)
        for resource, amount in wanted.items():
            limit = limits_[resource]
            if limit >= 0 and amount and used[resource] + amount > limit:
                raise errors.QuotaExceeded(
                    f"Quota exceeded for {resource}: Requested {amount}, but already used "
                    f"{used[resource]} of {limit} {resource}")


def _servers_usage(db, project_id, owner):
    """Instances, cores and ram in use, build requests included. Build
    requests are read before the cells: the conductor creates an instance in
    its cell before it deletes the build request, so in that order a server
    on its way is seen at least once, and it is counted once (its uuid
    excluded from the cells' count)."""
    building = _building(db, project_id, owner)
    used = usage(db, project_id, owner, exclude=building)
    return {"instances": used["instances"] + len(building),
            "cores": used["cores"] + sum(cores for cores, _ in building.values()),
            "ram": used["ram"] + sum(ram for _, ram in building.values())}


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


def class_limits(db, conf, class_name):
    """The limits of a quota class: its own rows over the defaults."""
    values = defaults(db, conf)
    with db.api() as session:
        for row in session.scalars(sa.select(models.QuotaClass).filter_by(class_name=class_name)):
            if row.resource in values and row.hard_limit is not None:
                values[row.resource] = row.hard_limit
    return values


def update_class(db, conf, class_name, new_limits):
    """Store a quota class's limits (the class 'default' changes every
    project's defaults); returns all its limits."""
    with db.api() as session:
        for resource, limit in new_limits.items():
            row = session.scalar(sa.select(models.QuotaClass).filter_by(
                class_name=class_name, resource=resource))
            if row is None:
                session.add(models.QuotaClass(class_name=class_name, resource=resource,
                                              hard_limit=limit))
            else:
                row.hard_limit = limit
    return class_limits(db, conf, class_name)
