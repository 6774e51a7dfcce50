"""nova_runtime's side of the Placement API (upstream openstack-placement).

- ``client``: the HTTP client over keystoneauth from nova.conf's [placement];
  ``from_conf`` is None when [placement] has no auth_type (no Placement).
- ``resources``: inventories of a compute node, traits, what a flavor asks.
- ``report``: nova-compute's resource provider, inventories and traits, kept
  current with cached generations.
- ``claims``: allocations of instances: claim (a 409 means another scheduler
  won), release, claiming an alternate on reschedule, and moving them
  between an instance and its migration (resize, cold migration).

Who calls Placement: nova-compute's resource tracker (its providers, and
deleting a terminated instance's allocations), nova-scheduler (allocation
candidates, then the claim of the chosen host), nova-conductor (on
reschedule: release the failed host's allocation, claim an alternate's; on a
resize or migration: the source's allocations to the migration, and back if
no host fits), nova-compute's resize steps (back to the instance on failure
or revert, the migration's deleted on confirm), and the compute API (a
server deleted without its compute).
"""

from nova_runtime.placement.claims import Allocations
from nova_runtime.placement.client import (
    Conflict,
    PlacementClient,
    PlacementConfigError,
    PlacementError,
    PlacementUnavailable,
    configured,
    from_conf,
)

__all__ = ["Allocations", "Conflict", "PlacementClient", "PlacementConfigError", "PlacementError",
           "PlacementUnavailable", "configured", "from_conf", "warn_without_placement"]

_WITHOUT = ("[placement] has no auth_type in the configuration: %s runs without Placement "
            "(no resource providers, allocation candidates or claims); set [placement] "
            "auth_type, auth_url, username, password, ... to use it")


def warn_without_placement(log, binary):
    """The one warning a daemon logs at start when Placement is not configured."""
    log.warning(_WITHOUT, binary)
