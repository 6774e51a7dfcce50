"""/servers/{server_id}/os-server-password: the password the guest posted to
the metadata service, encrypted with the server's public key by the guest
("" when there is none); DELETE clears it so that the guest may post a new
one (objects.server_passwords)."""

from nova_runtime.api import errors, util
from nova_runtime.api.handlers import servers
from nova_runtime.objects import server_passwords
from nova_runtime.policies import server_password as policies


def _cell_url(req, server_id, rule):
    """The server's cell database URL, or None while it is scheduled."""
    instance = servers.get_server(req, server_id)
    servers.authorize(req, policies.ROOT % rule, instance)
    if instance.get("cell_uuid") is None:
        return None
    return req.db.cell_by_uuid(instance["cell_uuid"]).database_connection


def show(req, server_id):
    url = _cell_url(req, server_id, "show")
    password = server_passwords.get(url, server_id) if url else ""
    return util.json_response({"password": password})


def clear(req, server_id):
    url = _cell_url(req, server_id, "clear")
    if url is None:
        raise errors.Conflict(f"Cannot 'clear password' instance {server_id} while it is "
                              "being scheduled")
    server_passwords.clear(url, server_id)
    return util.empty_response(204)
