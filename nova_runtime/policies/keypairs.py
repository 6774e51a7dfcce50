from nova_runtime.policies import base

ROOT = "os_compute_api:os-keypairs:%s"


def list_rules():
    return [
        base.rule(ROOT % "index", base.ADMIN_OR_KEYPAIR_OWNER, "List all keypairs",
                  [("GET", "/os-keypairs")]),
        base.rule(ROOT % "create", base.ADMIN_OR_KEYPAIR_OWNER, "Create a keypair",
                  [("POST", "/os-keypairs")]),
        base.rule(ROOT % "delete", base.ADMIN_OR_KEYPAIR_OWNER, "Delete a keypair",
                  [("DELETE", "/os-keypairs/{keypair_name}")]),
        base.rule(ROOT % "show", base.ADMIN_OR_KEYPAIR_OWNER, "Show details of a keypair",
                  [("GET", "/os-keypairs/{keypair_name}")]),
    ]
