from nova_runtime.policies import base

ROOT = "os_compute_api:os-aggregates:%s"
ACTION = "/os-aggregates/{aggregate_id}/action"


def list_rules():
    return [
        base.rule(ROOT % "set_metadata", base.ADMIN, "Create or replace metadata for an "
                  "aggregate", [("POST", ACTION + " (set_metadata)")]),
        base.rule(ROOT % "add_host", base.ADMIN, "Add a host to an aggregate",
                  [("POST", ACTION + " (add_host)")]),
        base.rule(ROOT % "create", base.ADMIN, "Create an aggregate",
                  [("POST", "/os-aggregates")]),
        base.rule(ROOT % "remove_host", base.ADMIN, "Remove a host from an aggregate",
                  [("POST", ACTION + " (remove_host)")]),
        base.rule(ROOT % "update", base.ADMIN, "Update name and/or availability zone for "
                  "an aggregate", [("PUT", "/os-aggregates/{aggregate_id}")]),
        base.rule(ROOT % "index", base.ADMIN, "List all aggregates",
                  [("GET", "/os-aggregates")]),
        base.rule(ROOT % "delete", base.ADMIN, "Delete an aggregate",
                  [("DELETE", "/os-aggregates/{aggregate_id}")]),
        base.rule(ROOT % "show", base.ADMIN, "Show details for an aggregate",
                  [("GET", "/os-aggregates/{aggregate_id}")]),
        base.rule(ROOT % "images", base.ADMIN, "Request image caching for an aggregate",
                  [("POST", "/os-aggregates/{aggregate_id}/images")]),
    ]
