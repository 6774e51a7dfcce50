from nova_runtime.policies import base

ROOT = "os_compute_api:os-simple-tenant-usage:%s"


def list_rules():
    return [
        base.rule(ROOT % "show", base.PROJECT_READER_OR_ADMIN,
                  "Show usage statistics for a specific tenant",
                  [("GET", "/os-simple-tenant-usage/{tenant_id}")]),
        base.rule(ROOT % "list", base.ADMIN, "List per tenant usage statistics for all tenants",
                  [("GET", "/os-simple-tenant-usage")]),
    ]
