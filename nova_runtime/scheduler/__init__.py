"""The scheduler's core, as a library: host states as NumPy columns, vectorised
filters and weighers, the filter scheduler and the chance scheduler.

Use (the scheduler daemon)::

    hosts = HostStates(records, aggregates, HostDefaults.from_conf(conf))  # see db.py
    scheduler = get_scheduler(conf)      # fails at start-up on an unknown plugin name
    selections = scheduler.select_destinations(hosts, RequestSpec(...))
    hosts.refresh(new_records)           # when compute nodes report
"""

from nova_runtime.scheduler.chance_scheduler import ChanceScheduler
from nova_runtime.scheduler.errors import NoValidHost, SchedulerError, UnknownPlugin
from nova_runtime.scheduler.filter_scheduler import FilterResult, FilterScheduler
from nova_runtime.scheduler.host_state import (
    AggregateRecord,
    HostDefaults,
    HostRecord,
    HostStates,
)
from nova_runtime.scheduler.request import Flavor, InstanceGroup, RequestSpec, Selection

__all__ = [
    "AggregateRecord", "ChanceScheduler", "FilterResult", "FilterScheduler", "Flavor",
    "HostDefaults", "HostRecord", "HostStates", "InstanceGroup", "NoValidHost", "RequestSpec",
    "SchedulerError", "Selection", "UnknownPlugin", "get_scheduler",
]

_DRIVERS = {"filter_scheduler": FilterScheduler, "chance_scheduler": ChanceScheduler}


def get_scheduler(conf, rng=None):
    """The scheduler [scheduler] driver names, built from ``conf``."""
    return _DRIVERS[conf.scheduler.driver](conf, rng=rng)
