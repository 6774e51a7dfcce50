"""POST /servers/{server_id}/action: one action per body, {"<action>": {...}}.

Each action checks its policy on the server's project, validates its body
and calls the compute API, which checks the server's state (409 when it does
not allow the action) and casts to the compute or the conductor: the answer
is 202 and the server's status shows the progress (REBOOT, RESIZE, ...).
"""

from nova_runtime.api import errors, util, validation
from nova_runtime.objects import quotas
from nova_runtime.api.handlers import console_output, crash_dump, remote_consoles, servers
from nova_runtime.api.schemas import servers as schemas
from nova_runtime.image import glance
from nova_runtime.policies import console_output as console_output_policies
from nova_runtime.policies import crash_dump as crash_dump_policies
from nova_runtime.policies import remote_consoles as remote_console_policies
from nova_runtime.policies import server_actions as action_policies
from nova_runtime.policies import servers as server_policies

SERVERS = server_policies.SERVERS


def _reboot(req, server_id, instance, body):
    data = validation.body(req, schemas.REBOOT)["reboot"]
    req.compute_api.reboot(req.context, server_id, data["type"].upper())
    return util.empty_response(202)


def _simple(method, status=202):
    """An action without a body: the compute API's ``method``, then ``status``."""
    def action(req, server_id, instance, body):
        getattr(req.compute_api, method)(req.context, server_id)
        return util.empty_response(status)
    return action


def _resize(req, server_id, instance, body):
    data = validation.body(req, schemas.RESIZE)["resize"]
    flavor = servers._flavor(req, data["flavorRef"])
    quotas.check_resize(req.db, req.conf, instance["project_id"], instance["user_id"],
                        instance, flavor)
    req.compute_api.resize(req.context, server_id, flavor)
    return util.empty_response(202)


def _migrate(req, server_id, instance, body):
    host = None
    if req.version >= "2.56":
        data = validation.body(req, schemas.MIGRATE_V256)["migrate"] or {}
        host = data.get("host")
        if host:
            req.context.can(action_policies.MIGRATE % "migrate:host",
                            target={"project_id": instance["project_id"]})
    # Before 2.56 upstream reads nothing of the body.
    req.compute_api.migrate(req.context, server_id, host=host)
    return util.empty_response(202)


def _rebuild(req, server_id, instance, body):
    data = validation.body(req, schemas.rebuild_schema(req.version))["rebuild"]
    if validation.to_bool(data.get("preserve_ephemeral", False)):
        raise errors.BadRequest("preserve_ephemeral is not supported by this deployment's "
                                "drivers.")
    image = servers.active_image(req, data["imageRef"])
    if "metadata" in data:
        servers._check_metadata_quota(req, data["metadata"])
    password = data.get("adminPass") or servers._password()
    # 2.54 key_name and 2.57 user_data: given (null included) they replace the
    # server's; absent, they stay. The key pair is the caller's, as upstream
    # looks it up (another member of the project may rebuild the server).
    changes = {}
    if "key_name" in data:
        changes["keypair"] = servers._keypair(req, data["key_name"]) if data["key_name"] \
            else None
    if "user_data" in data:
        changes["user_data"] = data["user_data"]
    req.compute_api.rebuild(req.context, server_id, image, name=data.get("name"),
                            metadata=data.get("metadata"), admin_password=password,
                            **changes)
    updates = {column: data[key] for key, column in (
        ("description", "display_description"), ("hostname", "hostname")) if key in data}
    updates.update(servers.access_ips(data))
    if updates:
        req.compute_api.update(req.context, server_id, updates)
    instance = req.compute_api.get(req.context, server_id)
    groups = servers._member_groups(req, server_id) if req.version >= "2.71" else None
    view = servers.server_view(req, groups, action="rebuild")
    [shown] = servers.view(req, [instance], shown=view)
    shown["adminPass"] = password
    if req.version >= "2.57":
        shown["user_data"] = instance.get("user_data")
    return util.json_response({"server": shown}, status=202)


def _create_image(req, server_id, instance, body):
    data = validation.body(req, schemas.CREATE_IMAGE)["createImage"]
    metadata = data.get("metadata") or {}
    servers._check_metadata_quota(req, metadata)
    image_id = req.compute_api.snapshot(req.context, server_id, data["name"],
                                        metadata=metadata)
    return _image_response(req, image_id)


def _create_backup(req, server_id, instance, body):
    data = validation.body(req, schemas.CREATE_BACKUP)["createBackup"]
    metadata = data.get("metadata") or {}
    servers._check_metadata_quota(req, metadata)
    image_id = req.compute_api.backup(req.context, server_id, data["name"],
                                      data["backup_type"], int(data["rotation"]),
                                      metadata=metadata)
    return _image_response(req, image_id)


def _image_response(req, image_id):
    """createImage and createBackup: the image id (2.45), else its Location."""
    if req.version >= "2.45":
        return util.json_response({"image_id": image_id}, status=202)
    response = util.empty_response(202)
    response.headers["Location"] = (
        f"{glance.endpoint(req.context, req.conf)}/images/{image_id}")
    return response


def _lock(req, server_id, instance, body):
    reason = None
    if req.version >= "2.73":
        reason = (validation.body(req, schemas.LOCK_V273)["lock"] or {}).get("locked_reason")
    req.compute_api.lock(req.context, server_id, reason=reason)
    return util.empty_response(202)


def _unlock(req, server_id, instance, body):
    # Who locked it may unlock it; a lock by the other side (an admin of
    # another project, or the owner) needs the override rule.
    if instance.get("locked") and \
            instance.get("locked_by") != req.compute_api.locker(req.context, instance):
        servers.authorize(req, action_policies.LOCK % "unlock:unlock_override", instance)
    req.compute_api.unlock(req.context, server_id)
    return util.empty_response(202)


def _reset_state(req, server_id, instance, body):
    state = validation.body(req, schemas.RESET_STATE)["os-resetState"]["state"]
    req.compute_api.reset_state(req.context, server_id, state)
    return util.empty_response(202)


def _shelve(req, server_id, instance, body):
    # Upstream reads nothing of the body (it validated none).
    req.compute_api.shelve(req.context, server_id)
    return util.empty_response(202)


def _unshelve(req, server_id, instance, body):
    """2.77: an availability zone; 2.91: a host (an admin's), a null zone unpins."""
    kwargs = {}
    if req.version >= "2.77":
        schema = schemas.UNSHELVE_V291 if req.version >= "2.91" else schemas.UNSHELVE_V277
        data = validation.body(req, schema)["unshelve"] or {}
        if "availability_zone" in data:
            kwargs["new_az"] = data["availability_zone"]
        if req.version >= "2.91" and data.get("host"):
            kwargs["host"] = data["host"]
            servers.authorize(req, action_policies.SHELVE % "unshelve_to_host", instance)
    req.compute_api.unshelve(req.context, server_id, **kwargs)
    return util.empty_response(202)


def _security_group(schema, name, method):
    def action(req, server_id, instance, body):
        group = validation.body(req, schema)[name]["name"]
        getattr(req.compute_api, method)(req.context, server_id, group.strip())
        return util.empty_response(202)
    return action


# action name -> (handler, policy rule)
ACTIONS = {
    "os-start": (_simple("start"), SERVERS % "start"),
    "os-stop": (_simple("stop"), SERVERS % "stop"),
    "reboot": (_reboot, SERVERS % "reboot"),
    "pause": (_simple("pause"), action_policies.PAUSE % "pause"),
    "unpause": (_simple("unpause"), action_policies.PAUSE % "unpause"),
    "suspend": (_simple("suspend"), action_policies.SUSPEND % "suspend"),
    "resume": (_simple("resume"), action_policies.SUSPEND % "resume"),
    "resize": (_resize, SERVERS % "resize"),
    "confirmResize": (_simple("confirm_resize", status=204), SERVERS % "confirm_resize"),
    "revertResize": (_simple("revert_resize"), SERVERS % "revert_resize"),
    "migrate": (_migrate, action_policies.MIGRATE % "migrate"),
    "rebuild": (_rebuild, SERVERS % "rebuild"),
    "createImage": (_create_image, SERVERS % "create_image"),
    "createBackup": (_create_backup, action_policies.CREATE_BACKUP),
    "lock": (_lock, action_policies.LOCK % "lock"),
    "unlock": (_unlock, action_policies.LOCK % "unlock"),
    "os-resetState": (_reset_state, action_policies.ADMIN_ACTIONS % "reset_state"),
    "shelve": (_shelve, action_policies.SHELVE % "shelve"),
    "shelveOffload": (_simple("shelve_offload"), action_policies.SHELVE % "shelve_offload"),
    "unshelve": (_unshelve, action_policies.SHELVE % "unshelve"),
    "restore": (_simple("restore"), action_policies.DEFERRED_DELETE % "restore"),
    "forceDelete": (_simple("force_delete"), action_policies.DEFERRED_DELETE % "force"),
    "addSecurityGroup": (_security_group(schemas.ADD_SECURITY_GROUP, "addSecurityGroup",
                                         "add_security_group"),
                         action_policies.SECURITY_GROUPS % "add"),
    "removeSecurityGroup": (_security_group(schemas.REMOVE_SECURITY_GROUP,
                                            "removeSecurityGroup", "remove_security_group"),
                            action_policies.SECURITY_GROUPS % "remove"),
    # before 2.6; later microversions have POST /servers/{id}/remote-consoles
    "os-getVNCConsole": (remote_consoles.get_vnc_console_action,
                         remote_console_policies.BASE_POLICY_NAME),
    "os-getConsoleOutput": (console_output.get_console_output,
                            console_output_policies.BASE_POLICY_NAME),
    "trigger_crash_dump": (crash_dump.trigger_crash_dump,  # 2.17
                           crash_dump_policies.TRIGGER_CRASH_DUMP),
}


def action(req, server_id):
    body = validation.json_body(req)
    if not isinstance(body, dict) or len(body) != 1:
        raise errors.BadRequest("The action body must be an object with exactly one action.")
    [name] = body
    if name not in ACTIONS:
        raise errors.BadRequest(f"There is no such action: {name}")
    handler, rule = ACTIONS[name]
    instance = servers.get_server(req, server_id)
    servers.authorize(req, rule, instance)
    return handler(req, server_id, instance, body)
