"""Rules of the server actions that have their own policy modules upstream:
pause, suspend, migrate, lock, the admin actions, backups, deferred delete,
security groups and shelve."""

from nova_runtime.policies import base

PAUSE = "os_compute_api:os-pause-server:%s"
SUSPEND = "os_compute_api:os-suspend-server:%s"
MIGRATE = "os_compute_api:os-migrate-server:%s"
LOCK = "os_compute_api:os-lock-server:%s"
ADMIN_ACTIONS = "os_compute_api:os-admin-actions:%s"
CREATE_BACKUP = "os_compute_api:os-create-backup"
DEFERRED_DELETE = "os_compute_api:os-deferred-delete:%s"
SECURITY_GROUPS = "os_compute_api:os-security-groups:%s"
SHELVE = "os_compute_api:os-shelve:%s"


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
        base.rule(LOCK % "lock", member, "Lock a server", [("POST", action % "lock")]),
        base.rule(LOCK % "unlock", member, "Unlock a server", [("POST", action % "unlock")]),
        base.rule(LOCK % "unlock:unlock_override", admin,
                  "Unlock a server that another (an admin, or its owner) locked",
                  [("POST", action % "unlock")]),
        base.rule(ADMIN_ACTIONS % "reset_state", admin, "Reset a server's state",
                  [("POST", action % "os-resetState")]),
        base.rule(CREATE_BACKUP, member, "Create a backup of a server",
                  [("POST", action % "createBackup")]),
        base.rule(DEFERRED_DELETE % "restore", member, "Restore a soft-deleted server",
                  [("POST", action % "restore")]),
        base.rule(DEFERRED_DELETE % "force", member, "Delete a soft-deleted server now",
                  [("POST", action % "forceDelete")]),
        base.rule(SECURITY_GROUPS % "add", member, "Add a security group to a server",
                  [("POST", action % "addSecurityGroup")]),
        base.rule(SECURITY_GROUPS % "remove", member,
                  "Remove a security group from a server",
                  [("POST", action % "removeSecurityGroup")]),
        base.rule(SHELVE % "shelve", member, "Shelve a server", [("POST", action % "shelve")]),
        base.rule(SHELVE % "shelve_offload", admin, "Shelf-offload (remove) a server",
                  [("POST", action % "shelveOffload")]),
        base.rule(SHELVE % "unshelve", member, "Unshelve (restore) a shelved server",
                  [("POST", action % "unshelve")]),
        base.rule(SHELVE % "unshelve_to_host", admin,
                  "Unshelve (restore) a shelve-offloaded server to a specific host (2.91)",
                  [("POST", action % "unshelve")]),
    ]
