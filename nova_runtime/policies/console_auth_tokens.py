from nova_runtime.policies import base

BASE_POLICY_NAME = "os_compute_api:os-console-auth-tokens"


def list_rules():
    return [
        base.rule(BASE_POLICY_NAME, base.ADMIN,
                  "Show console connection information for a given console authentication "
                  "token", [("GET", "/os-console-auth-tokens/{console_token}")]),
    ]
