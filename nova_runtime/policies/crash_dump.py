"""The trigger_crash_dump server action's rule (2.17), one of upstream's
servers rules, kept apart from policies/servers.py's."""

from nova_runtime.policies import base
from nova_runtime.policies.servers import SERVERS

TRIGGER_CRASH_DUMP = SERVERS % "trigger_crash_dump"


def list_rules():
    return [
        base.rule(TRIGGER_CRASH_DUMP, base.PROJECT_MEMBER_OR_ADMIN,
                  "Trigger crash dump in a server",
                  [("POST", "/servers/{server_id}/action (trigger_crash_dump)")]),
    ]
