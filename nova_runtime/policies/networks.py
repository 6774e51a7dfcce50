from nova_runtime.policies import base

POLICY_ROOT = "os_compute_api:os-networks:%s"


def list_rules():
    return [
        base.rule(POLICY_ROOT % "list", base.PROJECT_READER_OR_ADMIN,
                  "List networks for the project (deprecated: below microversion 2.36)",
                  [("GET", "/os-networks")]),
        base.rule(POLICY_ROOT % "show", base.PROJECT_READER_OR_ADMIN,
                  "Show network details (deprecated: below microversion 2.36)",
                  [("GET", "/os-networks/{network_id}")]),
    ]
