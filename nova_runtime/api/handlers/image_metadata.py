"""/images/{image_id}/metadata (below microversion 2.39): an image's
properties in Glance, read and changed with the caller's token.

Glance decides who may change an image (403 otherwise); the number of
properties is held to the project's metadata_items quota, as upstream does.
"""

from nova_runtime.api import errors, util, validation
from nova_runtime.api.handlers.images import glance_errors
from nova_runtime.objects import quotas
from nova_runtime.api.schemas import images as schemas
from nova_runtime.image import glance


def _properties(req, image_id):
    return glance.show(req.context, image_id, req.conf)["properties"]


def _save(req, image_id, current, wanted):
    limit = quotas.limit_for(req.db.api_url, req.conf, req.context.project_id, "metadata_items",
                             user_id=req.context.user_id)
    if limit >= 0 and len(wanted) > limit:
        raise errors.QuotaExceeded(f"Quota exceeded for metadata_items: Requested "
                                   f"{len(wanted)}, but the limit is {limit}.")
    return glance.set_properties(req.context, image_id, current, wanted, req.conf)


@glance_errors
def index(req, image_id):
    return util.json_response({"metadata": _properties(req, image_id)})


@glance_errors
def show(req, image_id, key):
    properties = _properties(req, image_id)
    if key not in properties:
        raise errors.NotFound(f"Image {image_id} has no metadata with key {key}.")
    return util.json_response({"meta": {key: properties[key]}})


@glance_errors
def create(req, image_id):
    """POST: add to and replace in the image's properties."""
    given = validation.body(req, schemas.METADATA)["metadata"]
    current = _properties(req, image_id)
    image = _save(req, image_id, current, {**current, **given})
    return util.json_response({"metadata": image["properties"]})


@glance_errors
def update_all(req, image_id):
    """PUT: the given metadata becomes all of the image's properties."""
    given = validation.body(req, schemas.METADATA)["metadata"]
    _save(req, image_id, _properties(req, image_id), given)
    return util.json_response({"metadata": given})


@glance_errors
def update(req, image_id, key):
    meta = validation.body(req, schemas.META_ITEM)["meta"]
    if key not in meta:
        raise errors.BadRequest("Request body and URI mismatch")
    current = _properties(req, image_id)
    _save(req, image_id, current, {**current, key: meta[key]})
    return util.json_response({"meta": meta})


@glance_errors
def delete(req, image_id, key):
    current = _properties(req, image_id)
    if key not in current:
        raise errors.NotFound("Invalid metadata key")
    _save(req, image_id, current, {k: v for k, v in current.items() if k != key})
    return util.empty_response(204)
