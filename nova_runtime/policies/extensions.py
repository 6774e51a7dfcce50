from nova_runtime.policies import base

BASE_POLICY_NAME = "os_compute_api:extensions"


def list_rules():
    return [
        base.rule(BASE_POLICY_NAME, base.ANY, "List available extensions and show "
                  "information for an extension by alias",
                  [("GET", "/extensions"), ("GET", "/extensions/{alias}")]),
    ]
