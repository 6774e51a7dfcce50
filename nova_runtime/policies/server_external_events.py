from nova_runtime.policies import base

ROOT = "os_compute_api:os-server-external-events:%s"


def list_rules():
    return [
        base.rule(ROOT % "create", base.SERVICE_OR_ADMIN, "Create one or more external events",
                  [("POST", "/os-server-external-events")]),
    ]
