from nova_runtime.policies import base

BASE = "os_compute_api:limits"
OTHER_PROJECT = "os_compute_api:limits:other_project"


def list_rules():
    return [
        base.rule(BASE, base.ANY, "Show rate and absolute limits for the current user project",
                  [("GET", "/limits")]),
        base.rule(OTHER_PROJECT, base.ADMIN,
                  "Show rate and absolute limits of another project (tenant_id query "
                  "parameter); checked after os_compute_api:limits",
                  [("GET", "/limits")]),
    ]
