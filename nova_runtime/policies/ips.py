from nova_runtime.policies import base

ROOT = "os_compute_api:ips:%s"


def list_rules():
    reader = base.PROJECT_READER_OR_ADMIN
    path = "/servers/{server_id}/ips"
    return [
        base.rule(ROOT % "show", reader, "Show IP addresses details for a network label of a "
                  "server", [("GET", path + "/{network_label}")]),
        base.rule(ROOT % "index", reader, "List IP addresses that are assigned to a server",
                  [("GET", path)]),
    ]
