"""[oslo_policy]: oslo.policy's own options (policy_file, enforce_scope, ...).

The rules themselves are defaults in code (nova_runtime/policies); a policy
file only needs the rules an operator changes.
"""

from oslo_policy import opts as policy_opts

GROUP = "oslo_policy"


def register_opts(conf):
    # Registers [oslo_policy] with oslo.policy's defaults, and nova's policy file name.
    policy_opts.set_defaults(conf, policy_file="policy.yaml")


def list_opts():
    return [(GROUP, opts) for group, opts in policy_opts.list_opts() if group == GROUP]
