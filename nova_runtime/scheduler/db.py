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
            supported_instances=_json(node.supported_instances, [], node.uuid),
            stats=_stats(node.stats, node.uuid),
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


def load_cell(session, cell_uuid=None):
    """The HostRecords of one cell database (live rows only)."""
    nodes = session.scalars(
        sa.select(main_models.ComputeNode).filter_by(deleted=0).order_by(main_models.ComputeNode.id))
    services = session.scalars(
        sa.select(main_models.Service).filter_by(deleted=0, binary=COMPUTE_BINARY))
    return records_from_rows(nodes.all(), services.all(), cell_uuid)


def load_aggregates(session):
    """The AggregateRecords of the API database."""
    return aggregates_from_rows(
        session.scalars(sa.select(api_models.Aggregate).order_by(api_models.Aggregate.id)).all(),
        session.scalars(sa.select(api_models.AggregateHost)).all(),
        session.scalars(sa.select(api_models.AggregateMetadata)).all())


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
