from nova_runtime.policies import base

BASE_POLICY_NAME = "os_compute_api:os-remote-consoles"


def list_rules():
    return [
        base.rule(BASE_POLICY_NAME, base.PROJECT_MEMBER_OR_ADMIN,
                  "Generate a URL to access a remote server console (POST /remote-consoles, "
                  "and the deprecated server action os-getVNCConsole)",
                  [("POST", "/servers/{server_id}/action (os-getVNCConsole)"),
                   ("POST", "/servers/{server_id}/remote-consoles")]),
    ]
