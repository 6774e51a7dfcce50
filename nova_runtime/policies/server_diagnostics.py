from nova_runtime.policies import base

ROOT = "os_compute_api:os-server-diagnostics"


def list_rules():
    return [
        base.rule(ROOT, base.ADMIN, "Show the usage data for a server",
                  [("GET", "/servers/{server_id}/diagnostics")]),
    ]
