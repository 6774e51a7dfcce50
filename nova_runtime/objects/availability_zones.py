"""The availability zone of a compute host, from its aggregates (API database)."""

import sqlalchemy as sa

from nova_runtime.db.api.models import AggregateHost, AggregateMetadata
from nova_runtime.objects._db import session

AZ_KEY = "availability_zone"


def host_zone(api_url, host, default_zone):
    """The zone of ``host``: the availability_zone of its aggregates (several
    joined by commas, sorted, as upstream shows them), else ``default_zone``."""
    with session(api_url) as db:
        zones = sorted(set(db.scalars(
            sa.select(AggregateMetadata.value)
            .join(AggregateHost, AggregateHost.aggregate_id == AggregateMetadata.aggregate_id)
            .filter(AggregateMetadata.key == AZ_KEY, AggregateHost.host == host))))
    return ",".join(zones) if zones else default_zone
