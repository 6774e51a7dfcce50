"""/servers/{server_id}/remote-consoles (2.6+): a console URL for a server.

Only noVNC consoles exist here (protocol vnc, type novnc, served by
nova-novncproxy); other protocols and types that upstream's API knows get a
400 that names what this cloud supports. The server must be ACTIVE (409
otherwise). The URL comes from the server's compute: its [vnc]
novncproxy_base_url with a token valid for [consoleauth] token_ttl seconds.

``get_vnc_console_action`` serves the legacy server action os-getVNCConsole
(2.1 to 2.5); the server actions handler dispatches it here.
"""

from nova_runtime.api import errors, util, validation
from nova_runtime.api.schemas import remote_consoles as schemas
from nova_runtime.console import api as console_api
from nova_runtime.policies import remote_consoles as policies

PROTOCOL = "vnc"
CONSOLE_TYPE = "novnc"
SUPPORTED = f"protocol {PROTOCOL} with type {CONSOLE_TYPE}"


def create(req, server_id):
    data = validation.body(req, schemas.create_schema(req.version))["remote_console"]
    protocol, console_type = data["protocol"], data["type"]
    if protocol != PROTOCOL:
        raise errors.BadRequest(
            f"Unsupported console protocol {protocol}: this cloud supports {SUPPORTED}.")
    if console_type != CONSOLE_TYPE:
        raise errors.BadRequest(
            f"Unsupported console type {console_type} for protocol {protocol}: this cloud "
            f"supports {SUPPORTED}.")
    url = _console_url(req, server_id, console_type)
    return util.json_response(
        {"remote_console": {"protocol": protocol, "type": console_type, "url": url}})


def get_vnc_console_action(req, server_id, instance=None, body=None):
    """POST /servers/{server_id}/action with {"os-getVNCConsole": {"type": "novnc"}}
    (microversions 2.1 to 2.5; later ones use remote-consoles, as upstream):
    {"console": {"type", "url"}}. Fits the server actions table as it is:
    the server and the body are read again here."""
    if not req.version.matches(maximum="2.5"):
        raise errors.NotFound("There is no such action: os-getVNCConsole")
    console_type = validation.body(req, schemas.GET_VNC_CONSOLE)["os-getVNCConsole"]["type"]
    if console_type != CONSOLE_TYPE:
        raise errors.BadRequest(
            f"Unsupported console type {console_type}: this cloud supports {CONSOLE_TYPE}.")
    url = _console_url(req, server_id, console_type)
    return util.json_response({"console": {"type": console_type, "url": url}})


def _console_url(req, server_id, console_type):
    context = req.context
    api_url = req.conf.api_database.connection
    server = console_api.find_server(api_url, server_id)
    context.can(policies.BASE_POLICY_NAME, target={"project_id": server.project_id})
    return console_api.get_vnc_console(req.conf, context, server, console_type)["access_url"]
