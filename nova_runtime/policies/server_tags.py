from nova_runtime.policies import base

ROOT = "os_compute_api:os-server-tags:%s"


def list_rules():
    member, reader = base.PROJECT_MEMBER_OR_ADMIN, base.PROJECT_READER_OR_ADMIN
    path = "/servers/{server_id}/tags"
    return [
        base.rule(ROOT % "delete_all", member, "Delete all the server tags",
                  [("DELETE", path)]),
        base.rule(ROOT % "index", reader, "List all tags for given server", [("GET", path)]),
        base.rule(ROOT % "update_all", member, "Replace all tags on specified server with "
                  "the new set of tags.", [("PUT", path)]),
        base.rule(ROOT % "delete", member, "Delete a single tag from the specified server",
                  [("DELETE", path + "/{tag}")]),
        base.rule(ROOT % "update", member, "Add a single tag to the server if server has no "
                  "specified tag", [("PUT", path + "/{tag}")]),
        base.rule(ROOT % "show", reader, "Check tag existence on the server.",
                  [("GET", path + "/{tag}")]),
    ]
