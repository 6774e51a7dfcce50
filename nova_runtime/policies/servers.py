"""Rules of /servers and the server actions that servers.py owns upstream."""

from nova_runtime.policies import base

SERVERS = "os_compute_api:servers:%s"


def list_rules():
    member, reader, admin = base.PROJECT_MEMBER_OR_ADMIN, base.PROJECT_READER_OR_ADMIN, base.ADMIN
    return [
        base.rule(SERVERS % "index", reader, "List all servers", [("GET", "/servers")]),
        base.rule(SERVERS % "detail", reader, "List all servers with detailed information",
                  [("GET", "/servers/detail")]),
        base.rule(SERVERS % "index:get_all_tenants", admin,
                  "List all servers for all projects", [("GET", "/servers")]),
        base.rule(SERVERS % "detail:get_all_tenants", admin,
                  "List all servers with detailed information for all projects",
                  [("GET", "/servers/detail")]),
        base.rule(SERVERS % "allow_all_filters", admin,
                  "Allow all filters when listing servers",
                  [("GET", "/servers"), ("GET", "/servers/detail")]),
        base.rule(SERVERS % "show", reader, "Show a server", [("GET", "/servers/{server_id}")]),
        base.rule(SERVERS % "show:flavor-extra-specs", reader,
                  "Show a server's embedded flavor extra specs (2.47)",
                  [("GET", "/servers/{server_id}"), ("GET", "/servers/detail")]),
        base.rule(SERVERS % "show:host_status", admin,
                  "Show the status of a server's host (2.16)",
                  [("GET", "/servers/{server_id}"), ("GET", "/servers/detail")]),
        base.rule(SERVERS % "create", member, "Create a server", [("POST", "/servers")]),
        base.rule(SERVERS % "create:forced_host", admin,
                  "Create a server on a given host (availability_zone zone:host)",
                  [("POST", "/servers")]),
        base.rule(SERVERS % "create:zero_disk_flavor", admin,
                  "Create an image-backed server with a flavor of zero disk",
                  [("POST", "/servers")]),
        base.rule(SERVERS % "delete", member, "Delete a server",
                  [("DELETE", "/servers/{server_id}")]),
        base.rule(SERVERS % "update", member, "Update a server",
                  [("PUT", "/servers/{server_id}")]),
        base.rule(SERVERS % "start", member, "Start a server",
                  [("POST", "/servers/{server_id}/action (os-start)")]),
        base.rule(SERVERS % "stop", member, "Stop a server",
                  [("POST", "/servers/{server_id}/action (os-stop)")]),
        base.rule(SERVERS % "reboot", member, "Reboot a server",
                  [("POST", "/servers/{server_id}/action (reboot)")]),
        base.rule(SERVERS % "resize", member, "Resize a server",
                  [("POST", "/servers/{server_id}/action (resize)")]),
        base.rule(SERVERS % "confirm_resize", member, "Confirm a server resize",
                  [("POST", "/servers/{server_id}/action (confirmResize)")]),
        base.rule(SERVERS % "revert_resize", member, "Revert a server resize",
                  [("POST", "/servers/{server_id}/action (revertResize)")]),
        base.rule(SERVERS % "rebuild", member, "Rebuild a server",
                  [("POST", "/servers/{server_id}/action (rebuild)")]),
        base.rule(SERVERS % "create_image", member, "Create an image from a server",
                  [("POST", "/servers/{server_id}/action (createImage)")]),
        base.rule("os_compute_api:os-extended-server-attributes", admin,
                  "Show the OS-EXT-SRV-ATTR attributes (host, instance_name, ...) of a server",
                  [("GET", "/servers/{server_id}"), ("GET", "/servers/detail")]),
    ]
