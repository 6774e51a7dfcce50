from nova_runtime.policies import base

ROOT = "os_compute_api:server-metadata:%s"


def list_rules():
    member, reader = base.PROJECT_MEMBER_OR_ADMIN, base.PROJECT_READER_OR_ADMIN
    path = "/servers/{server_id}/metadata"
    return [
        base.rule(ROOT % "index", reader, "List all metadata of a server", [("GET", path)]),
        base.rule(ROOT % "show", reader, "Show metadata for a server",
                  [("GET", path + "/{key}")]),
        base.rule(ROOT % "create", member, "Create metadata for a server", [("POST", path)]),
        base.rule(ROOT % "update_all", member, "Replace metadata for a server",
                  [("PUT", path)]),
        base.rule(ROOT % "update", member, "Update metadata from a server",
                  [("PUT", path + "/{key}")]),
        base.rule(ROOT % "delete", member, "Delete metadata from a server",
                  [("DELETE", path + "/{key}")]),
    ]
