from nova_runtime.policies import base

BASE = "os_compute_api:os-flavor-access"
ROOT = BASE + ":%s"


def list_rules():
    return [
        base.rule(ROOT % "add_tenant_access", base.ADMIN, "Add flavor access to a tenant",
                  [("POST", "/flavors/{flavor_id}/action (addTenantAccess)")]),
        base.rule(ROOT % "remove_tenant_access", base.ADMIN,
                  "Remove flavor access from a tenant",
                  [("POST", "/flavors/{flavor_id}/action (removeTenantAccess)")]),
        base.rule(BASE, base.ADMIN, "List the projects that have access to a flavor",
                  [("GET", "/flavors/{flavor_id}/os-flavor-access")]),
    ]
