from nova_runtime.policies import base

ROOT = "os_compute_api:os-availability-zone:%s"


def list_rules():
    return [
        base.rule(ROOT % "list", base.ANY, "List availability zone information without host "
                  "information", [("GET", "/os-availability-zone")]),
        base.rule(ROOT % "detail", base.ADMIN, "List detailed availability zone information "
                  "with host information", [("GET", "/os-availability-zone/detail")]),
    ]
