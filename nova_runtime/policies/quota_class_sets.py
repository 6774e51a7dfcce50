from nova_runtime.policies import base

ROOT = "os_compute_api:os-quota-class-sets:%s"


def list_rules():
    return [
        base.rule(ROOT % "show", base.ADMIN, "List quotas for specific quota classes",
                  [("GET", "/os-quota-class-sets/{quota_class}")]),
        base.rule(ROOT % "update", base.ADMIN, "Update quotas for specific quota class",
                  [("PUT", "/os-quota-class-sets/{quota_class}")]),
    ]
