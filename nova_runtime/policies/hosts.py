from nova_runtime.policies import base

POLICY_NAME = "os_compute_api:os-hosts:%s"


def list_rules():
    def rule(action, description, method, path):
        return base.rule(POLICY_NAME % action, base.ADMIN,
                         f"{description} (deprecated: below microversion 2.43)",
                         [(method, path)])
    return [
        rule("list", "List physical hosts", "GET", "/os-hosts"),
        rule("show", "Show details for a host", "GET", "/os-hosts/{host_name}"),
        rule("update", "Update a physical host", "PUT", "/os-hosts/{host_name}"),
        rule("reboot", "Reboot a host", "GET", "/os-hosts/{host_name}/reboot"),
        rule("shutdown", "Shutdown a host", "GET", "/os-hosts/{host_name}/shutdown"),
        rule("start", "Start a host", "GET", "/os-hosts/{host_name}/startup"),
    ]
