"""/os-console-auth-tokens/{console_token}: where a live console token leads
(admins only): {"console": {"instance_uuid", "host", "port",
"internal_access_path"}}.

Tokens live, hashed, in the cell database of their instance
(objects.console_auth_tokens, the records nova-novncproxy checks); the
token alone does not say which cell, so every cell is asked until one knows
it. 404 for a token that is unknown, expired or whose instance is gone.
Before 2.31 only RDP consoles' details are shown (401 for the others, as
upstream); nova_runtime issues noVNC tokens only. From 2.99 the console
has a tls_port too (null: only spice-direct consoles have one).
"""

from nova_runtime.api import errors, util
from nova_runtime.objects import console_auth_tokens as tokens
from nova_runtime.policies import console_auth_tokens as policies

RDP = "rdp-html5"


def show(req, console_token):
    context = req.context
    context.can(policies.BASE_POLICY_NAME, target={"project_id": context.project_id})
    found = None
    for _, result in req.db.scatter(lambda cell: _validate(cell, console_token)):
        if isinstance(result, dict):
            found = result
            break
    if found is None:
        raise errors.NotFound("Token not found")
    if req.version < "2.31" and found["console_type"] != RDP:
        raise errors.Unauthorized("The requested console type details are not accessible")
    console = {"instance_uuid": found["instance_uuid"], "host": found["host"],
               "port": found["port"], "internal_access_path": found["internal_access_path"]}
    if req.version >= "2.99":
        console["tls_port"] = None  # spice-direct's; noVNC consoles have none
    return util.json_response({"console": console})


def _validate(cell, token):
    try:
        return tokens.validate(cell.database_connection, token)
    except tokens.InvalidToken:
        return None
