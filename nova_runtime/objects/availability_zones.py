"""Availability zones: the availability_zone metadata of aggregates (API database).

A compute host is in the zone of the aggregates it belongs to (several
aggregates with the same zone count once; different zones are joined with a
comma, sorted, as upstream shows them), else in [DEFAULT]
default_availability_zone. Every other service is in
internal_service_availability_zone.
"""

import sqlalchemy as sa

from nova_runtime.db import engines
from nova_runtime.db.api.models import AggregateHost, AggregateMetadata

AZ_KEY = "availability_zone"


def host_zones(api_url, hosts=None):
    """{host: zone} of the hosts (all, or those of ``hosts``) that are in an
    aggregate with availability zone metadata."""
    query = (sa.select(AggregateHost.host, AggregateMetadata.value)
             .join(AggregateMetadata, AggregateMetadata.aggregate_id == AggregateHost.aggregate_id)
             .filter(AggregateMetadata.key == AZ_KEY)
             .order_by(AggregateHost.host, AggregateMetadata.value))
    if hosts is not None:
        query = query.filter(AggregateHost.host.in_(list(hosts)))
    zones = {}
    # One statement on a connection of its own, no ORM session: the
    # super-conductor asks for every build's host.
    with engines.get_engine(api_url).connect() as connection:
        for host, zone in connection.execute(query):
            zones.setdefault(host, [])
            if zone not in zones[host]:
                zones[host].append(zone)
    return {host: ",".join(names) for host, names in zones.items()}


def host_zone(api_url, host, default_zone):
    """The zone of compute ``host``, ``default_zone`` if its aggregates have none."""
    return host_zones(api_url, [host]).get(host, default_zone)


def zone_of(conf, service, zones):
    """The zone of a service record, given ``zones`` from host_zones."""
    if service["binary"] == "nova-compute":
        return zones.get(service["host"], conf.default_availability_zone)
    return conf.internal_service_availability_zone
