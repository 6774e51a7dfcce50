"""The rule of the os-getConsoleOutput server action, named as upstream's."""

from nova_runtime.policies import base

BASE_POLICY_NAME = "os_compute_api:os-console-output"


def list_rules():
    return [
        base.rule(BASE_POLICY_NAME, base.PROJECT_MEMBER_OR_ADMIN,
                  "Show console output for a server",
                  [("POST", "/servers/{server_id}/action (os-getConsoleOutput)")]),
    ]
