"""Servers across the build requests and every cell: what GET /servers and
/servers/detail read, in bulk, for one page at a time.

A server is a build request (API database) until the conductor placed it in
a cell, then an instance of that cell; cell0 holds those that could not be
scheduled. ``list_servers`` queries every cell at once with the same filters
and order, reading only the columns the views show, and merges the results:
each cell returns at most ``limit`` rows after the marker, so the merge never
reads more than cells x limit rows. The marker's sort values are used (keyset
paging), so paging is stable across cells.

``details`` then reads what the views need for the page, and only what the
microversion shows — flavor, addresses, metadata and image properties (one
row per server: the database folds the key/value rows into a JSON object),
newest fault of the servers in ERROR, the request specs' pinned availability
zone and scheduler hints, the status of the hosts (2.16 host_status) — with
the reads running side by side. A page of 1,000 servers takes a handful of
queries, whatever its size, and each distinct JSON text (a flavor, a set of
image properties) is parsed once per page (bench/api.py measures it).
"""

import concurrent.futures
import functools
import json
import logging
import re

import orjson
import sqlalchemy as sa
from sqlalchemy.ext import compiler as sa_compiler

from nova_runtime import cells
from nova_runtime.api import server_views
from nova_runtime.db import engines
from nova_runtime.db.api import models as api_models
from nova_runtime.db.main import models as cell_models
from nova_runtime.objects import exceptions, instance_mappings, instances, services, tags

LOG = logging.getLogger(__name__)

# MariaDB's ER_REGEXP_ERROR: a pattern that Python's re accepted (the query
# schema checks them) but the database's regular expression library refuses,
# such as "[[:foo:]]". The cell answered: it is the request that is wrong.
_REGEXP_ERROR = 1139
# The reads of a listing run side by side (the cells, then the details of a
# page): each spends most of its time waiting for its database, and they do
# not depend on each other.
_READERS = concurrent.futures.ThreadPoolExecutor(max_workers=4,
                                                 thread_name_prefix="server-reads")


def list_servers(db, filters, sort_keys, sort_dirs, limit, marker=None, columns=None):
    """Instance dicts (each with ``cell_uuid``, None for a build request)
    matching ``filters`` (objects.instances.query's), in order, at most
    ``limit``, after the server ``marker`` (a uuid; 400 if unknown). Cells
    are read for ``columns`` (and the sort keys) only, when given; build
    requests have all their fields."""
    marker_values = _marker(db, marker) if marker else None
    # Every cell is queried at once (scatter), the build requests meanwhile.
    queries = [(cell, _READERS.submit(
        instances.query, cell.database_connection, filters, sort_keys, sort_dirs,
        limit=limit, marker=marker_values, columns=columns))
        for cell in db.cells(include_cell0=True)]
    found = {}
    if not filters.get("deleted"):
        for instance in _build_requests(db, filters):
            if marker_values is None or _sorts_after(instance, marker_values, sort_keys,
                                                     sort_dirs):
                found[instance["uuid"]] = instance
    for cell, query in queries:
        try:
            rows = query.result()
        except cells.DOWN_ERRORS as exc:
            refused = regexp_error(exc)
            if refused:  # the name filter is the only regular expression in the query
                raise exceptions.Invalid(f"Invalid input for query parameters name. Value: "
                                        f"{filters.get('name')}. {refused}") from None
            LOG.warning("Cell %s (%s) did not answer; its servers are left out: %s",
                        cell.name, cell.uuid, exc)
            continue
        for row in rows:
            row["cell_uuid"] = cell.uuid
            found[row["uuid"]] = row  # wins over its build request
    keys, dirs = instances._total_order(sort_keys, sort_dirs)
    ordered = sorted(found.values(), key=functools.cmp_to_key(
        lambda a, b: _compare_in_order(a, b, keys, dirs)))
    return ordered[:limit]


def regexp_error(exc):
    """The database's words if ``exc`` is its refusal of a regular expression, else None."""
    args = getattr(getattr(exc, "orig", None), "args", ())
    if isinstance(exc, sa.exc.OperationalError) and len(args) > 1 and args[0] == _REGEXP_ERROR:
        return str(args[1])
    return None


def _marker(db, marker):
    """The marker server's values, wherever it is."""
    try:
        mapping = instance_mappings.get(db.api_url, marker)
    except exceptions.InstanceMappingNotFound:
        mapping = None
    if mapping is not None and mapping["cell"] is not None:
        rows = instances.query(mapping["cell"].database_connection,
                               {"uuid": marker, "deleted": False}, limit=1) or \
            instances.query(mapping["cell"].database_connection,
                            {"uuid": marker, "deleted": True}, limit=1)
        if rows:
            return rows[0]
    with db.api() as session:
        request = session.scalar(sa.select(api_models.BuildRequest).filter_by(
            instance_uuid=marker))
        if request is not None:
            return _from_build_request(request)
    raise exceptions.Invalid(f"marker [{marker}] not found")


def _from_build_request(row):
    instance = json.loads(row.instance)
    instance.update(created_at=row.created_at, updated_at=row.updated_at, deleted=0,
                    deleted_at=None, id=None, cell_uuid=None, host=None, node=None,
                    launched_at=None, terminated_at=None)
    return instance


def _build_requests(db, filters):
    with db.api() as session:
        query = sa.select(api_models.BuildRequest).order_by(api_models.BuildRequest.id)
        if isinstance(filters.get("project_id"), str):
            query = query.filter_by(project_id=filters["project_id"])
        rows = session.scalars(query).all()
    return [instance for instance in map(_from_build_request, rows)
            if _matches(instance, filters)]


def _matches(instance, filters):
    """objects.instances.query's filters, applied to a build request's instance."""
    for name, wanted in filters.items():
        if name == "name":
            if not re.search(wanted, instance.get("display_name") or "", re.IGNORECASE):
                return False
        elif name == "changes_since":
            if (instance["updated_at"] or instance["created_at"]) < wanted:
                return False
        elif name == "changes_before":
            if (instance["updated_at"] or instance["created_at"]) > wanted:
                return False
        elif name == "deleted":
            if wanted:
                return False
        elif name == "uuids_in":
            if instance["uuid"] not in wanted:
                return False
        elif name in tags.FILTERS:
            if not tags.matches(name, wanted, instance.get("tags")):
                return False
        else:
            value = instance.get(name)
            choices = wanted if isinstance(wanted, (list, tuple, set, frozenset)) else [wanted]
            if value not in choices:
                return False
    return True


def _compare(a, b, sort_keys, sort_dirs):
    keys, dirs = instances._total_order(sort_keys, sort_dirs)
    return _compare_in_order(a, b, keys, dirs)


def _compare_in_order(a, b, keys, dirs):
    """_compare with the total order (uuid last) already made."""
    for key, direction in zip(keys, dirs):
        left, right = a.get(key), b.get(key)
        if left == right:
            continue
        # NULL first ascending, last descending (as the databases sort).
        if left is None:
            order = -1
        elif right is None:
            order = 1
        else:
            order = -1 if left < right else 1
        return order if direction == "asc" else -order
    return 0


def _sorts_after(instance, marker, sort_keys, sort_dirs):
    return _compare(instance, marker, sort_keys, sort_dirs) > 0


# --- what the views need, for a page of servers ---------------------------------

def details(db, servers, *, request_specs=False, image_properties=False,
            service_down_time=None, with_tags=False, system_keys=(), build_requests=None):
    """{uuid: {"flavor", "metadata", "network_info", "fixed_ips", "fault",
    "image_properties", "request_spec", "host_status"}} for the instance
    dicts ``servers`` (as list_servers returns them). Only what the caller's
    microversion shows is read: the request specs' availability zone and
    scheduler hints with ``request_specs``, the image properties kept in the
    system metadata (its image_* keys, without the prefix) with
    ``image_properties`` (None without), host_status when
    ``service_down_time`` is given, the servers' tags (2.26) with
    ``with_tags``, and under "system" those of their system metadata keys
    ``system_keys`` that are set. A cell that does not answer leaves its
    servers with empty details (and host_status UNKNOWN).

    The details hold parsed JSON shared between servers (a page has few
    distinct flavors, image properties or hints): callers must not change
    them. ``build_requests``: {uuid: build request's instance} of servers
    whose build request the caller read already (not read again)."""
    result = {}
    by_cell = {}
    known = build_requests or {}
    building = [server["uuid"] for server in servers if server.get("cell_uuid") is None]
    requested = [known[uuid] for uuid in building if uuid in known] + _build_request_instances(
        db, [uuid for uuid in building if uuid not in known])
    for instance in requested:
        result[instance["uuid"]] = {
            "flavor": instance.get("flavor"), "metadata": instance.get("metadata") or {},
            "network_info": (), "fixed_ips": (), "fault": None,
            "tags": list(instance.get("tags") or ()), "system": {},
            "image_properties": server_views.image_properties(
                instance.get("system_metadata") or {}) if image_properties else None}
    for server in servers:
        if server.get("cell_uuid") is not None:
            by_cell.setdefault(server["cell_uuid"], []).append(server)
    # A build request that is gone was turned into an instance meanwhile:
    # its details are in its cell now.
    moved = set(building) - set(result)
    if moved:
        with db.api() as session:
            for uuid, cell_uuid in session.execute(
                    sa.select(api_models.InstanceMapping.instance_uuid,
                              api_models.CellMapping.uuid)
                    .join(api_models.CellMapping,
                          api_models.CellMapping.id == api_models.InstanceMapping.cell_id)
                    .where(api_models.InstanceMapping.instance_uuid.in_(moved))):
                by_cell.setdefault(cell_uuid, []).append(
                    {"uuid": uuid, "vm_state": None, "host": None})
    cells = {cell.uuid: cell for cell in db.cells(include_cell0=True)}
    calls = []  # ((function, *args), what it reads, cell uuid, the cell's servers), in merge order
    for cell_uuid, members in by_cell.items():
        url = cells[cell_uuid].database_connection
        # Faults are shown for servers in ERROR (or DELETED) only.
        errored = [server["uuid"] for server in members
                   if server["vm_state"] in ("error", "deleted")]
        calls.append(((_cell_details, url, [server["uuid"] for server in members], errored,
                       image_properties, with_tags, system_keys), "details", cell_uuid, members))
        if service_down_time is not None:
            hosts = {server["host"] for server in members if server["host"]}
            calls.append(((_host_statuses, url, hosts, service_down_time),
                          "host_status", cell_uuid, members))
    specs_call = [(_request_specs, db, [server["uuid"] for server in servers])] \
        if request_specs else []
    futures = _side_by_side([call for call, *_ in calls] + specs_call)
    specs = futures.pop() if specs_call else None
    reads = [(future, *rest) for future, (_, *rest) in zip(futures, calls)]
    for future, what, cell_uuid, members in reads:
        try:
            found = future.result()
        except cells.DOWN_ERRORS as exc:
            LOG.warning("Cell %s did not answer while reading server details: %s",
                        cell_uuid, exc)
            continue
        if what == "details":
            result.update(found)
            continue
        for server in members:
            entry = result.setdefault(server["uuid"], _no_details())
            entry["host_status"] = (found.get(server["host"], "UNKNOWN")
                                    if server["host"] else "")
    for server in servers:
        entry = result.setdefault(server["uuid"], _no_details())
        entry.setdefault("host_status", "" if not server.get("host") else "UNKNOWN")
    if specs is not None:
        found = specs.result()
        for uuid, entry in result.items():
            entry["request_spec"] = found.get(uuid)
    return result


def _side_by_side(calls):
    """Futures of ``calls`` ((function, *args) each): run by the readers side
    by side, or here when there is only one (the show of one server): handing
    a single read to another thread costs more than it saves."""
    if len(calls) != 1:
        return [_READERS.submit(*call) for call in calls]
    future = concurrent.futures.Future()
    function, *args = calls[0]
    try:
        future.set_result(function(*args))
    except Exception as exc:  # raised by result(), as from a reader
        future.set_exception(exc)
    return [future]


def _no_details():
    return {"flavor": None, "metadata": {}, "network_info": (), "fixed_ips": (),
            "fault": None, "image_properties": None, "system": {}}


def _build_request_instances(db, uuids):
    if not uuids:
        return []
    with db.api() as session:
        return [json.loads(row) for row in session.scalars(
            sa.select(api_models.BuildRequest.instance)
            .where(api_models.BuildRequest.instance_uuid.in_(uuids)))]


class _JSONObjectAgg(sa.sql.functions.FunctionElement):
    """The JSON object of a group's (key, value) rows, as text: MySQL and
    MariaDB's JSON_OBJECTAGG, SQLite's json_group_object."""

    type = sa.Text()
    inherit_cache = True


@sa_compiler.compiles(_JSONObjectAgg)
def _json_object_agg_sqlite(element, compiler, **kw):
    return f"json_group_object({compiler.process(element.clauses, **kw)})"


@sa_compiler.compiles(_JSONObjectAgg, "mysql")
def _json_object_agg_mysql(element, compiler, **kw):
    # Built on GROUP_CONCAT, so bounded by group_concat_max_len (1 MiB by
    # default in MariaDB): far above a server's metadata (128 items of 255
    # characters at most by quota) or its image properties.
    return f"JSON_OBJECTAGG({compiler.process(element.clauses, **kw)})"


def _key_values(model, *clauses):
    """A correlated subquery: the live (key, value) rows of ``model`` (and
    ``clauses``) of the outer query's instance, as one JSON object (NULL
    when there are none)."""
    return (sa.select(_JSONObjectAgg(model.key, model.value))
            .where(model.instance_uuid == cell_models.Instance.uuid, model.deleted == 0,
                   *clauses)
            .scalar_subquery())


class _Decoded(dict):
    """JSON texts -> their value, each parsed once: a page of 1,000 servers
    holds few distinct flavors, image properties or hints."""

    def __init__(self, convert=None):
        super().__init__()
        self.convert = convert

    def __missing__(self, text):
        value = orjson.loads(text)
        if self.convert is not None:
            value = self.convert(value)
        self[text] = value
        return value


def _current_flavor(flavors):
    return flavors.get("cur") if isinstance(flavors, dict) else None


def _cell_details(url, uuids, faults_of, image_properties, with_tags=False, system_keys=()):
    """details' entries of the instances ``uuids`` of one cell (deleted ones too):
    the current flavor, user metadata, network_info (instance_extra's list),
    the image properties (with ``image_properties``), the newest fault of
    those of ``faults_of`` (else None) and, for instances whose network_info
    holds no fixed address, their fixed addresses [{"address", "network"}]
    of the flat network (the API shows those only then), and with
    ``with_tags`` their tags, and the ``system_keys`` set in their system
    metadata (few instances have any: a lock's reason, a changed security
    group membership).

    One query reads the instance_extra blobs with the metadata, the image
    properties and the system keys folded into JSON objects per instance by
    the database, so
    that a page costs one row per server rather than one per key: decoding
    rows is most of the time a listing takes."""
    found = {}
    if not uuids:
        return found
    flavors = _Decoded(_current_flavor)
    metadatas = _Decoded()
    properties = _Decoded(server_views.image_properties)
    with engines.get_engine(url).connect() as connection:
        for uuid, flavor, network_info, metadata, image, system in connection.execute(
                _details_statement(bool(image_properties), tuple(system_keys)),
                {"uuids": list(uuids)}):
            found[uuid] = {
                "flavor": flavors[flavor] if flavor else None,
                "metadata": metadatas[metadata] if metadata else {},
                "network_info": orjson.loads(network_info) if network_info else (),
                "fixed_ips": (), "fault": None,
                "system": metadatas[system] if system else {},
                "image_properties": (properties[image] if image else {})
                if image_properties else None}
        if faults_of:
            fault = cell_models.InstanceFault
            for uuid, code, message, fault_details, created_at in connection.execute(
                    sa.select(fault.instance_uuid, fault.code, fault.message, fault.details,
                              fault.created_at)
                    .where(fault.instance_uuid.in_(faults_of), fault.deleted == 0)
                    .order_by(fault.created_at, fault.id)):
                if uuid in found:  # the newest stays
                    found[uuid]["fault"] = {"code": code, "message": message,
                                            "details": fault_details, "created_at": created_at}
        if with_tags:
            for uuid, names in tags.of_instances(connection, list(found)).items():
                found[uuid]["tags"] = names
        unaddressed = [uuid for uuid, entry in found.items()
                       if not instances._has_fixed_address(entry["network_info"])]
        if unaddressed:
            fixed_ip, network = cell_models.FixedIp, cell_models.Network
            for address, uuid, label in connection.execute(
                    sa.select(fixed_ip.address, fixed_ip.instance_uuid, network.label)
                    .join(network, network.id == fixed_ip.network_id)
                    .where(fixed_ip.instance_uuid.in_(unaddressed), fixed_ip.deleted == 0)
                    .order_by(fixed_ip.id)):
                entry = found[uuid]
                if not entry["fixed_ips"]:
                    entry["fixed_ips"] = []
                entry["fixed_ips"].append({"address": address, "network": label})
    return found


@functools.cache
def _details_statement(image_properties, system_keys):
    """_cell_details' first statement, for the instances of the bound
    parameter ``uuids``; built once per form (every show of a server runs
    it, and building it costs more than running it)."""
    extra, instance = cell_models.InstanceExtra, cell_models.Instance
    system_metadata = cell_models.InstanceSystemMetadata
    columns = [instance.uuid, extra.flavor, extra.network_info,
               _key_values(cell_models.InstanceMetadata)]
    if image_properties:
        columns.append(_key_values(
            system_metadata, system_metadata.key.startswith("image_", autoescape=True),
            system_metadata.key.not_in(server_views.IMAGE_BASE_KEYS)))
    else:
        columns.append(sa.null())
    if system_keys:
        columns.append(_key_values(system_metadata, system_metadata.key.in_(system_keys)))
    else:
        columns.append(sa.null())
    # An instance has one instance_extra row (made with it); the outer join
    # keeps the metadata of one that lost it.
    return (sa.select(*columns)
            .select_from(instance)
            .outerjoin(extra, extra.instance_uuid == instance.uuid)
            .where(instance.uuid.in_(sa.bindparam("uuids", expanding=True))))


def _request_specs(db, uuids):
    """{uuid: {"availability_zone", "scheduler_hints"}} of the request specs
    that pin a zone or hold scheduler hints: the two values the views show,
    extracted by the database (JSON_EXTRACT) rather than by parsing every
    whole spec, flavor and image included, here. Specs with neither (most
    servers) are left out: the views show a missing spec as such a spec (no
    pinned zone, no hints). The values come back as JSON texts, parsed once
    per distinct text."""
    if not uuids:
        return {}
    spec = sa.type_coerce(api_models.RequestSpec.spec, sa.JSON)
    # JSON texts; "null" for a JSON null, and for no such key (SQL NULL).
    zone = sa.func.coalesce(sa.type_coerce(spec["availability_zone"].as_json(), sa.Text),
                            "null")
    hints = sa.func.coalesce(sa.type_coerce(spec["scheduler_hints"].as_json(), sa.Text),
                             "null")
    with db.api() as session:
        rows = session.execute(
            sa.select(api_models.RequestSpec.instance_uuid, zone, hints)
            .where(api_models.RequestSpec.instance_uuid.in_(uuids),
                   sa.or_(zone != "null", hints.not_in(["null", "{}"])))).all()
    values = _Decoded()
    return {uuid: {"availability_zone": values[zone], "scheduler_hints": values[hints]}
            for uuid, zone, hints in rows}


def _host_statuses(url, hosts, service_down_time):
    """{host: UP, DOWN or MAINTENANCE (up but disabled)} as 2.16 shows it;
    hosts without a compute service record are left out (UNKNOWN)."""
    if not hosts:
        return {}
    model = cell_models.Service
    with engines.get_engine(url).connect() as connection:
        rows = connection.execute(sa.select(
            model.host, model.disabled, model.forced_down, model.last_seen_up,
            model.updated_at, model.created_at).where(
            model.host.in_(list(hosts)), model.binary == "nova-compute",
            model.deleted == 0)).mappings().all()
    statuses = {}
    for row in rows:
        if not services.is_up(row, service_down_time):
            statuses[row["host"]] = "DOWN"
        else:
            statuses[row["host"]] = "MAINTENANCE" if row["disabled"] else "UP"
    return statuses
