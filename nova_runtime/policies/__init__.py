"""Policy defaults of the Compute API, registered in code as upstream's are.

Personas (nova_runtime/policies/base.py): ``admin`` (the admin role), the
project ``member`` and ``reader`` (Keystone's bootstrap makes admin imply
member imply reader), and owner checks on a key pair's user or a project's
resources. Operators override single rules in [oslo_policy] policy_file;
``oslopolicy-sample-generator --namespace nova_runtime`` lists them all.
"""

import itertools

from nova_runtime.policies import (
    aggregates,
    availability_zone,
    base,
    flavor_access,
    flavor_extra_specs,
    flavor_manage,
    hypervisors,
    instance_actions,
    keypairs,
    limits,
    quota_sets,
    remote_consoles,
    server_actions,
    server_groups,
    server_metadata,
    servers,
    services,
)

_MODULES = (
    base,
    aggregates,
    availability_zone,
    flavor_access,
    flavor_extra_specs,
    flavor_manage,
    hypervisors,
    instance_actions,
    keypairs,
    limits,
    quota_sets,
    remote_consoles,
    server_actions,
    server_groups,
    server_metadata,
    servers,
    services,
)


def list_rules():
    return list(itertools.chain.from_iterable(module.list_rules() for module in _MODULES))
