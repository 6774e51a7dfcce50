from nova_runtime.policies import base

ROOT = "os_compute_api:os-hypervisors:%s"


def list_rules():
    return [
        base.rule(ROOT % "list", base.ADMIN, "List all hypervisors",
                  [("GET", "/os-hypervisors")]),
        base.rule(ROOT % "list-detail", base.ADMIN, "List all hypervisors with details",
                  [("GET", "/os-hypervisors/detail")]),
        base.rule(ROOT % "statistics", base.ADMIN,
                  "Show summary statistics for all hypervisors over all compute nodes",
                  [("GET", "/os-hypervisors/statistics")]),
        base.rule(ROOT % "show", base.ADMIN, "Show details for a hypervisor",
                  [("GET", "/os-hypervisors/{hypervisor_id}")]),
        base.rule(ROOT % "uptime", base.ADMIN, "Show the uptime of a hypervisor",
                  [("GET", "/os-hypervisors/{hypervisor_id}/uptime")]),
        base.rule(ROOT % "search", base.ADMIN, "Search hypervisor by hypervisor_hostname pattern",
                  [("GET", "/os-hypervisors/{hypervisor_hostname_pattern}/search")]),
        base.rule(ROOT % "servers", base.ADMIN,
                  "List all servers on hypervisors that can match the provided "
                  "hypervisor_hostname pattern",
                  [("GET", "/os-hypervisors/{hypervisor_hostname_pattern}/servers")]),
    ]
