"""Host records and aggregates from database rows.

The scheduler daemon reads each cell's compute_nodes and services and the API
database's aggregates, and builds HostStates from them::

    records = []
    for cell in cells:
        with cell_session(cell) as session:
            records += db.load_cell(session, cell.uuid)
    with api_session() as session:
        aggregates = db.load_aggregates(session)
    hosts = HostStates(records, aggregates, HostDefaults.from_conf(conf))
"""

import collections
import itertools
import json
import logging

import sqlalchemy as sa

from nova_runtime.db.api import models as api_models
from nova_runtime.db.main import models as main_models
from nova_runtime.scheduler import utils
from nova_runtime.scheduler.host_state import AggregateRecord, HostRecord

LOG = logging.getLogger(__name__)

COMPUTE_BINARY = "nova-compute"


def records_from_rows(compute_nodes, services, cell_uuid=None):
    """HostRecords of the compute nodes (ComputeNode rows, or objects with the
    same attributes) that have a nova-compute service among ``services``.

    Nodes without a service, or that have not reported their usage yet
    (free_disk_gb unset), are left out, as upstream's host manager leaves them.
    """
    service_of = {s.host: s for s in services if s.binary == COMPUTE_BINARY}
    # Most nodes report the same supported_instances and stats: each distinct
    # text is read once (the records share what it gives; nothing changes it).
    read_json, read_stats = _Memo(lambda text, uuid: _json(text, [], uuid)), _Memo(_stats)
    records = []
    for node in compute_nodes:
        service = service_of.get(node.host)
        if service is None:
            LOG.warning("No compute service record found for host %s", node.host)
            continue
        if node.free_disk_gb is None:
            LOG.debug("Ignoring compute node %s: its usage has not been reported yet", node.uuid)
            continue
        free_ram_mb = node.free_ram_mb
        if free_ram_mb is None:
            free_ram_mb = node.memory_mb - node.memory_mb_used
        records.append(HostRecord(
            uuid=node.uuid, host=node.host, nodename=node.hypervisor_hostname or node.host,
            vcpus=node.vcpus, vcpus_used=node.vcpus_used, memory_mb=node.memory_mb,
            free_ram_mb=free_ram_mb, local_gb=node.local_gb, free_disk_gb=node.free_disk_gb,
            disk_available_least=node.disk_available_least, cell_uuid=cell_uuid,
            hypervisor_type=node.hypervisor_type, hypervisor_version=node.hypervisor_version,
            cpu_info=node.cpu_info, host_ip=node.host_ip,
            supported_instances=read_json(node.supported_instances, node.uuid),
            stats=read_stats(node.stats, node.uuid),
            cpu_allocation_ratio=node.cpu_allocation_ratio,
            ram_allocation_ratio=node.ram_allocation_ratio,
            disk_allocation_ratio=node.disk_allocation_ratio,
            disabled=bool(service.disabled), forced_down=bool(service.forced_down),
            last_heartbeat=utils.epoch(
                service.last_seen_up or service.updated_at or service.created_at),
            updated_at=utils.epoch(node.updated_at or node.created_at)))
    return records


def aggregates_from_rows(aggregates, aggregate_hosts, aggregate_metadata):
    """AggregateRecords from the rows of aggregates, aggregate_hosts and
    aggregate_metadata."""
    hosts, metadata = {}, {}
    for row in aggregate_hosts:
        hosts.setdefault(row.aggregate_id, set()).add(row.host)
    for row in aggregate_metadata:
        metadata.setdefault(row.aggregate_id, {})[row.key] = row.value
    return [AggregateRecord(name=a.name, uuid=a.uuid, hosts=frozenset(hosts.get(a.id, ())),
                            metadata=metadata.get(a.id, {}))
            for a in aggregates]


# What records_from_rows reads: plain rows, not ORM objects (a cell of 10,000
# compute nodes is read in a fraction of the time).
_NODE_COLUMNS = ("uuid", "host", "hypervisor_hostname", "vcpus", "vcpus_used", "memory_mb",
                 "memory_mb_used", "free_ram_mb", "local_gb", "free_disk_gb",
                 "disk_available_least", "hypervisor_type", "hypervisor_version", "cpu_info",
                 "host_ip", "supported_instances", "stats", "cpu_allocation_ratio",
                 "ram_allocation_ratio", "disk_allocation_ratio", "updated_at", "created_at")
_SERVICE_COLUMNS = ("host", "binary", "disabled", "forced_down", "last_seen_up", "updated_at",
                    "created_at")
_Node = collections.namedtuple("_Node", _NODE_COLUMNS)
_Service = collections.namedtuple("_Service", _SERVICE_COLUMNS)


def load_cell(session, cell_uuid=None):
    """The HostRecords of one cell database (live rows only)."""
    nodes, services = main_models.ComputeNode.__table__, main_models.Service.__table__
    node_rows = session.execute(
        sa.select(*(nodes.c[name] for name in _NODE_COLUMNS))
        .where(nodes.c.deleted == 0).order_by(nodes.c.id))
    service_rows = session.execute(
        sa.select(*(services.c[name] for name in _SERVICE_COLUMNS))
        .where(services.c.deleted == 0, services.c.binary == COMPUTE_BINARY))
    # Named tuples: their attributes are read many times faster than a Row's.
    return records_from_rows(list(itertools.starmap(_Node, node_rows.all())),
                             list(itertools.starmap(_Service, service_rows.all())), cell_uuid)


def load_host_cells(session):
    """{host name: uuid of the cell it is mapped to} from the API database's
    host mappings."""
    hosts, cells = api_models.HostMapping.__table__, api_models.CellMapping.__table__
    return dict(session.execute(
        sa.select(hosts.c.host, cells.c.uuid).join(cells, hosts.c.cell_id == cells.c.id)).all())


def load_aggregates(session):
    """The AggregateRecords of the API database."""
    return aggregates_from_rows(
        session.scalars(sa.select(api_models.Aggregate).order_by(api_models.Aggregate.id)).all(),
        session.scalars(sa.select(api_models.AggregateHost)).all(),
        session.scalars(sa.select(api_models.AggregateMetadata)).all())


class _Memo:
    """``function(text, uuid)``, once per distinct text (the uuid of its
    first reader names it in a warning)."""

    def __init__(self, function):
        self.function, self.found = function, {}

    def __call__(self, text, uuid):
        if text not in self.found:
            self.found[text] = self.function(text, uuid)
        return self.found[text]


def _json(text, default, uuid):
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        LOG.warning("Compute node %s: cannot read %r as JSON", uuid, text)
        return default


def _stats(text, uuid):
    """stats as upstream's HostState holds them: strings (or None)."""
    stats = _json(text, {}, uuid)
    if not isinstance(stats, dict):
        return {}
    return {str(k): (None if v is None else str(v)) for k, v in stats.items()}
