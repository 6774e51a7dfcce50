"""The policy enforcer of one nova-api: upstream's defaults plus the policy file."""

from oslo_policy import policy as oslo_policy

from nova_runtime import policies


class Enforcer:
    def __init__(self, conf):
        self._enforcer = oslo_policy.Enforcer(conf)
        self._enforcer.register_defaults(policies.list_rules())
        self._enforcer.load_rules()

    def authorize(self, action, target, context):
        """True if ``context`` may do ``action`` on ``target``. An unregistered
        action is a programming error (PolicyNotRegistered), not a refusal.
        oslo.policy's enforce re-reads the policy file when it changed (its
        load_rules, at every check)."""
        return self._enforcer.authorize(action, target, context, do_raise=False)

    def check_is_admin(self, context):
        return self._enforcer.authorize("context_is_admin", {}, context, do_raise=False)
