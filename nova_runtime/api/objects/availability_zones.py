"""Availability zones: the availability_zone metadata of aggregates.

A compute host is in the zone of the aggregates it belongs to (several
aggregates with the same zone count once; different zones are joined with a
comma, as upstream shows them), else in [DEFAULT] default_availability_zone.
Every other service is in internal_service_availability_zone.
"""

import sqlalchemy as sa

from nova_runtime.db.api import models

AZ_KEY = "availability_zone"


def host_zones(db):
    """{host: zone} for hosts in an aggregate with availability zone metadata."""
    query = (sa.select(models.AggregateHost.host, models.AggregateMetadata.value)
             .join(models.AggregateMetadata,
                   models.AggregateMetadata.aggregate_id == models.AggregateHost.aggregate_id)
             .filter(models.AggregateMetadata.key == AZ_KEY)
             .order_by(models.AggregateHost.host, models.AggregateMetadata.value))
    zones = {}
    with db.api() as session:
        for host, zone in session.execute(query):
            zones.setdefault(host, [])
            if zone not in zones[host]:
                zones[host].append(zone)
    return {host: ",".join(names) for host, names in zones.items()}


def zone_of(conf, service, zones):
    if service["binary"] == "nova-compute":
        return zones.get(service["host"], conf.default_availability_zone)
    return conf.internal_service_availability_zone
