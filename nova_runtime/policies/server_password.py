from nova_runtime.policies import base

ROOT = "os_compute_api:os-server-password:%s"


def list_rules():
    path = "/servers/{server_id}/os-server-password"
    return [
        base.rule(ROOT % "show", base.PROJECT_READER_OR_ADMIN,
                  "Show the encrypted administrative password of a server", [("GET", path)]),
        base.rule(ROOT % "clear", base.PROJECT_MEMBER_OR_ADMIN,
                  "Clear the encrypted administrative password of a server",
                  [("DELETE", path)]),
    ]
