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
    console_auth_tokens,
    console_output,
    crash_dump,
    extensions,
    flavor_access,
    flavor_extra_specs,
    flavor_manage,
    hosts,
    hypervisors,
    instance_actions,
    instance_usage_audit_log,
    ips,
    keypairs,
    limits,
    migrations,
    networks,
    quota_class_sets,
    quota_sets,
    remote_consoles,
    server_actions,
    server_diagnostics,
    server_external_events,
    server_groups,
    server_metadata,
    server_password,
    server_tags,
    servers,
    services,
    simple_tenant_usage,
)

_MODULES = (
    base,
    aggregates,
    availability_zone,
    console_output,
    extensions,
    flavor_access,
    flavor_extra_specs,
    flavor_manage,
    hosts,
    hypervisors,
    instance_actions,
    instance_usage_audit_log,
    keypairs,
    limits,
    migrations,
    networks,
    quota_sets,
    remote_consoles,
    server_actions,
    server_groups,
    server_metadata,
    servers,
    services,
    simple_tenant_usage,
    server_diagnostics,
    server_external_events,
    quota_class_sets,
    server_tags,
    ips,
    crash_dump,
    server_password,
    console_auth_tokens,
)


def list_rules():
    return list(itertools.chain.from_iterable(module.list_rules() for module in _MODULES))
