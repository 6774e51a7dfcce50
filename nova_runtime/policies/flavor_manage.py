from nova_runtime.policies import base

ROOT = "os_compute_api:os-flavor-manage:%s"


def list_rules():
    return [
        base.rule(ROOT % "create", base.ADMIN, "Create a flavor", [("POST", "/flavors")]),
        base.rule(ROOT % "update", base.ADMIN, "Update a flavor",
                  [("PUT", "/flavors/{flavor_id}")]),
        base.rule(ROOT % "delete", base.ADMIN, "Delete a flavor",
                  [("DELETE", "/flavors/{flavor_id}")]),
    ]
