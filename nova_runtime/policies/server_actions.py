"""Rules of the server actions that have their own policy modules upstream:
pause, suspend and migrate."""

from nova_runtime.policies import base

PAUSE = "os_compute_api:os-pause-server:%s"
SUSPEND = "os_compute_api:os-suspend-server:%s"
MIGRATE = "os_compute_api:os-migrate-server:%s"


def list_rules():
    member, admin = base.PROJECT_MEMBER_OR_ADMIN, base.ADMIN
    action = "/servers/{server_id}/action (%s)"
    return [
        base.rule(PAUSE % "pause", member, "Pause a server", [("POST", action % "pause")]),
        base.rule(PAUSE % "unpause", member, "Unpause a paused server",
                  [("POST", action % "unpause")]),
        base.rule(SUSPEND % "suspend", member, "Suspend a server",
                  [("POST", action % "suspend")]),
        base.rule(SUSPEND % "resume", member, "Resume a suspended server",
                  [("POST", action % "resume")]),
        base.rule(MIGRATE % "migrate", admin, "Cold migrate a server to a host",
                  [("POST", action % "migrate")]),
        base.rule(MIGRATE % "migrate:host", admin,
                  "Cold migrate a server to a given host (2.56)", [("POST", action % "migrate")]),
    ]
