from nova_runtime.policies import base

ROOT = "os_compute_api:os-services:%s"


def list_rules():
    return [
        base.rule(ROOT % "list", base.ADMIN, "List all running Compute services in a region",
                  [("GET", "/os-services")]),
        base.rule(ROOT % "update", base.ADMIN,
                  "Update a Compute service: enable, disable, force down",
                  [("PUT", "/os-services/enable"), ("PUT", "/os-services/disable"),
                   ("PUT", "/os-services/disable-log-reason"),
                   ("PUT", "/os-services/force-down"), ("PUT", "/os-services/{service_id}")]),
        base.rule(ROOT % "delete", base.ADMIN, "Delete a Compute service",
                  [("DELETE", "/os-services/{service_id}")]),
    ]
