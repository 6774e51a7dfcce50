"""/servers/{server_id}/metadata: the user metadata of a server.

Keys and values are strings of at most 255 characters; the number of keys is
limited by the metadata_items quota (403 beyond it). Changing metadata needs
the server active, paused, suspended or stopped with no task running (409
otherwise), as upstream.
"""

from nova_runtime.api import errors, util, validation
from nova_runtime.api.handlers import servers
from nova_runtime.api.schemas import servers as schemas
from nova_runtime.policies import server_metadata as policies


def _server(req, server_id, rule):
    instance = servers.get_server(req, server_id)
    servers.authorize(req, policies.ROOT % rule, instance)
    return instance


def _check_quota(req, server_id, metadata, replace):
    keys = set(metadata)
    if not replace:
        keys |= set(req.compute_api.get_metadata(req.context, server_id))
    servers._check_metadata_quota(req, dict.fromkeys(keys))


def index(req, server_id):
    _server(req, server_id, "index")
    return util.json_response({"metadata": req.compute_api.get_metadata(req.context, server_id)})


def create(req, server_id):
    """Add or change keys; the others stay."""
    _server(req, server_id, "create")
    metadata = validation.body(req, schemas.METADATA)["metadata"]
    _check_quota(req, server_id, metadata, replace=False)
    result = req.compute_api.update_metadata(req.context, server_id, metadata)
    return util.json_response({"metadata": result})


def update_all(req, server_id):
    """Replace the whole metadata."""
    _server(req, server_id, "update_all")
    metadata = validation.body(req, schemas.METADATA)["metadata"]
    _check_quota(req, server_id, metadata, replace=True)
    result = req.compute_api.update_metadata(req.context, server_id, metadata, replace=True)
    return util.json_response({"metadata": result})


def show(req, server_id, key):
    _server(req, server_id, "show")
    metadata = req.compute_api.get_metadata(req.context, server_id)
    if key not in metadata:
        raise errors.NotFound("Metadata item was not found")
    return util.json_response({"meta": {key: metadata[key]}})


def update(req, server_id, key):
    _server(req, server_id, "update")
    meta = validation.body(req, schemas.METADATA_ITEM)["meta"]
    if key not in meta:
        raise errors.BadRequest("Request body and URI mismatch")
    _check_quota(req, server_id, meta, replace=False)
    req.compute_api.update_metadata(req.context, server_id, meta)
    return util.json_response({"meta": meta})


def delete(req, server_id, key):
    _server(req, server_id, "delete")
    if not req.compute_api.delete_metadata_item(req.context, server_id, key):
        raise errors.NotFound("Metadata item was not found")
    return util.empty_response(204)
