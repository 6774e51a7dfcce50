from nova_runtime.policies import base

ROOT = "os_compute_api:os-flavor-extra-specs:%s"
PATH = "/flavors/{flavor_id}/os-extra_specs"


def list_rules():
    return [
        base.rule(ROOT % "show", base.PROJECT_READER_OR_ADMIN,
                  "Show an extra spec for a flavor", [("GET", PATH + "/{flavor_extra_spec_key}")]),
        base.rule(ROOT % "create", base.ADMIN, "Create extra specs for a flavor",
                  [("POST", PATH)]),
        base.rule(ROOT % "update", base.ADMIN, "Update an extra spec for a flavor",
                  [("PUT", PATH + "/{flavor_extra_spec_key}")]),
        base.rule(ROOT % "delete", base.ADMIN, "Delete an extra spec for a flavor",
                  [("DELETE", PATH + "/{flavor_extra_spec_key}")]),
        base.rule(ROOT % "index", base.PROJECT_READER_OR_ADMIN,
                  "List extra specs for a flavor; from microversion 2.61 also shown in "
                  "flavor bodies",
                  [("GET", PATH), ("POST", "/flavors"), ("GET", "/flavors/detail"),
                   ("GET", "/flavors/{flavor_id}"), ("PUT", "/flavors/{flavor_id}")]),
    ]
