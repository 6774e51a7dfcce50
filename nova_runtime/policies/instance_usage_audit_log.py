from nova_runtime.policies import base

ROOT = "os_compute_api:os-instance-usage-audit-log:%s"


def list_rules():
    return [
        base.rule(ROOT % "list", base.ADMIN, "List all usage audits.",
                  [("GET", "/os-instance_usage_audit_log")]),
        base.rule(ROOT % "show", base.ADMIN,
                  "List all usage audits occurred before a specified time for all "
                  "servers on all compute hosts where usage auditing is configured",
                  [("GET", "/os-instance_usage_audit_log/{before_timestamp}")]),
    ]
