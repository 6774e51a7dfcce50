from nova_runtime.policies import base

ROOT = "os_compute_api:os-migrations:%s"
SERVER_ROOT = "os_compute_api:servers:migrations:%s"


def list_rules():
    return [
        base.rule(ROOT % "index", base.PROJECT_MANAGER_OR_ADMIN,
                  "List migrations", [("GET", "/os-migrations")]),
        base.rule(ROOT % "index:all_projects", base.ADMIN,
                  "List migrations for all or cross projects", [("GET", "/os-migrations")]),
        base.rule(ROOT % "index:host", base.ADMIN,
                  "List migrations with host information", [("GET", "/os-migrations")]),
        base.rule(SERVER_ROOT % "index", base.PROJECT_MANAGER_OR_ADMIN,
                  "Lists in-progress live migrations for a given server",
                  [("GET", "/servers/{server_id}/migrations")]),
        base.rule(SERVER_ROOT % "index:host", base.ADMIN,
                  "Lists in-progress live migrations for a given server with host "
                  "information", [("GET", "/servers/{server_id}/migrations")]),
        base.rule(SERVER_ROOT % "show", base.ADMIN,
                  "Show details for an in-progress live migration for a given server",
                  [("GET", "/servers/{server_id}/migrations/{migration_id}")]),
    ]
