"""/servers/{server_id}/tags (2.26): list, replace and clear a server's tags,
and check, add or remove one.

Tags live beside the instance in its cell (objects.tags). Changing them
needs the server active, paused, suspended or stopped (409 otherwise, a
server still being scheduled included), as upstream; reading them does not
(a server being scheduled has none yet). A tag is 1 to 60 characters
without '/' or ','; a server has at most 50.
"""

import jsonschema

from nova_runtime.api import errors, util, validation
from nova_runtime.api.handlers import servers
from nova_runtime.api.schemas import server_tags as schemas
from nova_runtime.states import vm_states
from nova_runtime.objects import tags
from nova_runtime.policies import server_tags as policies

# The vm_states in which upstream lets tags change.
_CHANGEABLE = (vm_states.ACTIVE, vm_states.PAUSED, vm_states.SUSPENDED, vm_states.STOPPED)


def _server(req, server_id, rule, action=None):
    """(instance, its cell database URL or None while it is scheduled),
    after the policy and, for a change (``action``), the vm_state."""
    instance = servers.get_server(req, server_id)
    servers.authorize(req, policies.ROOT % rule, instance)
    if action is not None and instance["vm_state"] not in _CHANGEABLE:
        raise errors.Conflict(f"Cannot '{action}' instance {server_id} while it is in "
                              f"vm_state {instance['vm_state']}")
    if instance.get("cell_uuid") is None:
        return instance, None
    return instance, req.db.cell_by_uuid(instance["cell_uuid"]).database_connection


def _check_tag(tag):
    try:
        jsonschema.validate(tag, schemas.TAG)
    except jsonschema.ValidationError as exc:
        raise errors.BadRequest(
            f"Tag '{tag}' is invalid. It must be a non empty string without characters '/' "
            f"and ','. Validation error message: {exc.message}") from None


def index(req, server_id):
    _, url = _server(req, server_id, "index")
    return util.json_response({"tags": tags.get(url, server_id) if url else []})


def update_all(req, server_id):
    """Replace every tag of the server."""
    wanted = validation.body(req, schemas.UPDATE_ALL)["tags"]
    _, url = _server(req, server_id, "update_all", "update tags")
    return util.json_response({"tags": tags.replace(url, server_id, wanted)})


def delete_all(req, server_id):
    _, url = _server(req, server_id, "delete_all", "delete tags")
    tags.delete_all(url, server_id)
    return util.empty_response(204)


def show(req, server_id, tag):
    """204 if the server has the tag, 404 otherwise."""
    _, url = _server(req, server_id, "show")
    if url is None or not tags.exists(url, server_id, tag):
        raise errors.NotFound(f"Server {server_id} has no tag '{tag}'")
    return util.empty_response(204)


def update(req, server_id, tag):
    """Add one tag: 201 with its Location, or 204 if the server had it."""
    _, url = _server(req, server_id, "update", "update tag")
    _check_tag(tag)
    created = tags.add(url, server_id, tag)
    if not created:
        return util.empty_response(204)
    response = util.empty_response(201)
    response.headers["Location"] = f"{util.base_url(req)}/v2.1/servers/{server_id}/tags/{tag}"
    return response


def delete(req, server_id, tag):
    _, url = _server(req, server_id, "delete", "delete tag")
    if not tags.delete(url, server_id, tag):
        raise errors.NotFound(f"Instance {server_id} has no tag '{tag}'")
    return util.empty_response(204)
