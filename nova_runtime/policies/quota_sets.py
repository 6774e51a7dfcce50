from nova_runtime.policies import base

ROOT = "os_compute_api:os-quota-sets:%s"
PATH = "/os-quota-sets/{tenant_id}"


def list_rules():
    return [
        base.rule(ROOT % "update", base.ADMIN, "Update the quotas", [("PUT", PATH)]),
        base.rule(ROOT % "defaults", base.ANY, "List default quotas",
                  [("GET", PATH + "/defaults")]),
        base.rule(ROOT % "show", base.PROJECT_READER_OR_ADMIN, "Show a quota",
                  [("GET", PATH)]),
        base.rule(ROOT % "delete", base.ADMIN, "Revert quotas to defaults",
                  [("DELETE", PATH)]),
        base.rule(ROOT % "detail", base.PROJECT_READER_OR_ADMIN,
                  "Show the detail of quota", [("GET", PATH + "/detail")]),
    ]
