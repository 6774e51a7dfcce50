"""/images (below microversion 2.36): a view of Glance v2 for old clients.

Every call goes to Glance with the caller's token (nova_runtime/image/glance.py),
so Glance decides what the caller sees and may delete. The view is the v2.1
image of upstream: Glance's lower-case statuses as server-like ones with a
progress, minRam/minDisk, the image properties as ``metadata``, the size,
the server a snapshot was taken of (its instance_uuid property), and links
including the image in Glance.

Filters are upstream's names, turned into Glance v2's query: name, status,
changes-since (updated_at), server (the instance_uuid property; a server's
URL will do), type (image_type: "snapshot"), property-<name>; minRam and
minDisk keep the images that need at least that much. limit and marker
page as everywhere.
"""

import uuid

from nova_runtime.api import errors, util, validation
from nova_runtime.api.schemas import images as schemas
from nova_runtime.image import glance

_STATUS = {"active": "ACTIVE", "queued": "SAVING", "saving": "SAVING",
           "deleted": "DELETED", "pending_delete": "DELETED", "killed": "ERROR"}
_PROGRESS = {"queued": 25, "saving": 50, "active": 100}
# Our filter name -> the image property Glance filters on.
_PROPERTY_FILTERS = {"server": "instance_uuid", "type": "image_type"}


def glance_errors(function):
    """An image the proxy is asked about and Glance does not show is 404 (an
    image a server request names is 400: api/errors). An image id that is not a
    UUID names no image (Glance's ids are UUIDs): 404 without asking Glance (a
    70,000-character id made Glance's server refuse the URL, a 500 here)."""
    def wrapper(req, *args, **kwargs):
        image_id = kwargs.get("image_id", args[0] if args else None)
        if image_id is not None and not _is_uuid(image_id):
            raise errors.NotFound("Image not found.")
        try:
            return function(req, *args, **kwargs)
        except glance.ImageNotFound:
            raise errors.NotFound("Image not found.") from None
    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    return wrapper


def _is_uuid(text):
    try:
        uuid.UUID(str(text))
    except ValueError:
        return False
    return True


# --- views ------------------------------------------------------------------------

def _links(req, image_id):
    alternate = {"rel": "alternate", "type": "application/vnd.openstack.image",
                 "href": f"{glance.endpoint(req.context, req.conf)}/images/{image_id}"}
    return util.links(req, "images", image_id) + [alternate]


def basic_view(req, image):
    return {"id": image["id"], "name": image.get("name"), "links": _links(req, image["id"])}


def detail_view(req, image):
    properties = image.get("properties", {})
    view = {
        "id": image["id"],
        "name": image.get("name"),
        "minRam": int(image.get("min_ram") or 0),
        "minDisk": int(image.get("min_disk") or 0),
        "metadata": properties,
        # Glance's times are already ISO 8601 in UTC with a Z, as upstream shows them.
        "created": image.get("created_at"),
        "updated": image.get("updated_at"),
        "status": _STATUS.get(image.get("status"), "UNKNOWN"),
        "progress": _PROGRESS.get(image.get("status"), 0),
        "OS-EXT-IMG-SIZE:size": image.get("size"),
        "links": _links(req, image["id"]),
    }
    server = properties.get("instance_uuid")
    if server:
        view["server"] = {"id": server, "links": util.links(req, "servers", server)}
    if "auto_disk_config" in properties:
        automatic = validation.to_bool(properties["auto_disk_config"])
        view["OS-DCF:diskConfig"] = "AUTO" if automatic else "MANUAL"
    return view


# --- listing ----------------------------------------------------------------------

def _glance_filters(params):
    """(Glance v2 query, [(image attribute, minimum)] to check here)."""
    query = {}
    for name in ("name", "status"):
        if params.get(name):
            query[name] = params[name].lower() if name == "status" else params[name]
    if params.get("changes-since"):
        query["updated_at"] = f"gte:{params['changes-since']}"
    for name, prop in _PROPERTY_FILTERS.items():
        if params.get(name):
            # A server's URL names it by its last segment.
            query[prop] = params[name].rstrip("/").rsplit("/", 1)[-1]
    for name, value in params.items():
        if name.startswith("property-") and len(name) > len("property-"):
            query[name[len("property-"):]] = value
    minimums = []
    for name, attribute in (("minRam", "min_ram"), ("minDisk", "min_disk")):
        if params.get(name):
            try:
                minimums.append((attribute, int(params[name])))
            except ValueError:
                raise errors.BadRequest(f"{name} must be an integer") from None
    return query, minimums


def _list(req, view, collection):
    params = validation.query(req, schemas.LIST_QUERY)
    query, minimums = _glance_filters(params)
    limit, marker = util.limit_and_marker(req, params)
    images = glance.list_images(req.context, query, limit=limit, marker=marker, conf=req.conf)
    images = [image for image in images
              if all(int(image.get(attribute) or 0) >= minimum
                     for attribute, minimum in minimums)]
    body = {"images": [view(req, image) for image in images]}
    if images and len(images) == limit:
        body["images_links"] = util.next_link(req, collection, images[-1]["id"])
    return util.json_response(body)


@glance_errors
def index(req):
    return _list(req, basic_view, "images")


@glance_errors
def detail(req):
    return _list(req, detail_view, "images/detail")


@glance_errors
def show(req, image_id):
    return util.json_response({"image": detail_view(req, glance.show(req.context, image_id,
                                                                       req.conf))})


@glance_errors
def delete(req, image_id):
    glance.delete_image(req.context, image_id, req.conf)
    return util.empty_response(204)
