from nova_runtime.policies import base

ROOT = "os_compute_api:os-instance-actions:%s"


def list_rules():
    reader, admin = base.PROJECT_READER_OR_ADMIN, base.ADMIN
    path = "/servers/{server_id}/os-instance-actions"
    return [
        base.rule(ROOT % "list", reader, "List actions for a server", [("GET", path)]),
        base.rule(ROOT % "show", reader, "Show action details for a server",
                  [("GET", path + "/{request_id}")]),
        base.rule(ROOT % "events", admin,
                  "Add the events of the action to the action details",
                  [("GET", path + "/{request_id}")]),
        base.rule(ROOT % "events:details", admin,
                  "Add the details of each event (2.84)", [("GET", path + "/{request_id}")]),
    ]
