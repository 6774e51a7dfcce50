"""Glance's image API v2, called with the token of whoever made the request.

Nova never holds images itself: the API looks an image up when a server is
created or rebuilt (so that a user can only boot what Glance lets them see),
and a snapshot becomes a new Glance image. Every call uses the request
context's own token (``context.auth_token``) through a keystoneauth session,
so Glance applies its own visibility rules (private, shared, public) to the
caller, not to nova.

Where Glance is: the first of [glance] api_servers when set, otherwise the
``image`` endpoint of the Keystone service catalog that came with the token
(``context.service_catalog``; public, then internal interface).

Retries, as upstream's: a call that cannot reach Glance (connection refused or
timed out) or that Glance answers with 503 is made again, up to [glance]
num_retries times, one second apart, each time at the next of api_servers.

Images are returned as nova handles them (upstream's glance.py does the same):
the base attributes of a Glance v2 image at the top level (id, name, status,
min_ram, min_disk, size, disk_format, container_format, visibility, ...) and
every other attribute — the image properties such as hw_architecture or
os_type — under ``properties``.

Errors: ImageNotFound when Glance does not show the image to the caller (404,
also 403 for an image that is not theirs), ImageServiceError when Glance is
not reachable or fails.
"""

import hashlib
import logging
import re
import time

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
import requests

# Glance v2 attributes that are not image properties.
BASE_ATTRIBUTES = frozenset((
    "id", "name", "status", "visibility", "protected", "os_hidden", "owner", "size",
    "virtual_size", "checksum", "os_hash_algo", "os_hash_value", "min_ram", "min_disk",
    "disk_format", "container_format", "created_at", "updated_at", "tags", "file", "self",
    "schema", "direct_url", "locations", "stores",
))
TIMEOUT = 30  # seconds per HTTP call
RETRY_DELAY = 1  # seconds between two attempts of a call (upstream's)

LOG = logging.getLogger(__name__)


class ImageError(Exception):
    pass


class ImageNotFound(ImageError):
    def __init__(self, image_id):
        super().__init__(f"Image {image_id} could not be found.")
        self.image_id = image_id


class ImageServiceError(ImageError):
    """Glance cannot be reached, or answered with an error of its own."""


class ImageNotAuthorized(ImageError):
    """Glance shows the image but refuses the change (not the owner, protected)."""


class InvalidImageRequest(ImageError):
    """Glance refused the query or the change as malformed (its 400)."""


def endpoint(context, conf=None, attempt=0):
    """Glance's base URL (without /v2) for this request; the attempt-th
    (from 0, in turn) of api_servers."""
    servers = list(conf.glance.api_servers or []) if conf is not None else []
    if servers:
        return servers[attempt % len(servers)].rstrip("/")
    catalog = getattr(context, "service_catalog", None) or []
    for interface in ("public", "internal"):
        for service in catalog:
            if service.get("type") != "image":
                continue
            for entry in service.get("endpoints", []):
                if entry.get("interface") == interface and entry.get("url"):
                    return entry["url"].rstrip("/")
    raise ImageServiceError(
        "No Glance endpoint: set [glance] api_servers or register an 'image' service "
        "in the Keystone catalog")


# Connections to Glance kept per process, more than nova-api's request threads
# ([wsgi] server_threads) that may call Glance at once.
POOL_SIZE = 64


def _process_session():
    """The process's one keystoneauth session: its connections to Glance are
    kept and reused (a session per call opened a new connection for every
    image lookup). Each call brings the caller's token as its own auth."""
    http = requests.Session()
    adapter = ks_session.TCPKeepAliveAdapter(pool_maxsize=POOL_SIZE)
    for scheme in ("https://", "http://"):
        http.mount(scheme, adapter)
    return ks_session.Session(session=http, timeout=TIMEOUT)


_SESSION = _process_session()


def _auth(context, url):
    """The caller's token, for one call to Glance at ``url``."""
    if not context.auth_token:
        raise ImageServiceError("The request has no token to call Glance with")
    return token_endpoint.Token(url, context.auth_token)


def request(context, method, path, conf=None, **kwargs):
    """One call to Glance, retried as the module doc says; returns the
    keystoneauth response (any status)."""
    attempts = 1 + (conf.glance.num_retries if conf is not None else 0)
    data = kwargs.get("data")
    start = _position(data)
    for attempt in range(attempts):
        url = endpoint(context, conf, attempt)
        auth = _auth(context, url)
        last = attempt == attempts - 1
        try:
            response = _SESSION.request(f"{url}{path}", method, auth=auth, raise_exc=False,
                                        **kwargs)
        except (ks_exceptions.ConnectFailure, ks_exceptions.ConnectTimeout) as error:
            if last or not _rewind(data, start):
                raise ImageServiceError(f"Glance at {url} cannot be reached: {error}") from error
            reason = f"cannot be reached: {error}"
        except ks_exceptions.ClientException as error:
            raise ImageServiceError(f"Glance at {url} failed: {error}") from error
        else:
            if response.status_code != 503 or last or not _rewind(data, start):
                return response
            response.close()
            reason = "is unavailable (503)"
        LOG.warning("Glance at %s %s; retrying %s %s (attempt %d of %d)",
                    url, reason, method, path, attempt + 2, attempts)
        time.sleep(RETRY_DELAY)


def _position(data):
    """Where a file object body starts, if it can be sought back to."""
    try:
        return data.tell() if data is not None and data.seekable() else None
    except (AttributeError, OSError):
        return None


def _rewind(data, start):
    """Whether a call's body can be sent again: none, bytes, or a file
    object put back where it started; not an iterator already consumed."""
    if data is None or isinstance(data, (bytes, str)):
        return True
    if start is None:
        return False
    data.seek(start)
    return True


def show(context, image_id, conf=None):
    """The image ``image_id`` as the caller may see it (see the module doc)."""
    response = request(context, "GET", f"/v2/images/{image_id}", conf)
    if response.status_code in (403, 404):
        raise ImageNotFound(image_id)
    if response.status_code >= 400:
        raise ImageServiceError(
            f"Glance answered {response.status_code} for image {image_id}: "
            f"{response.text[:200]}")
    return from_glance(response.json())


def from_glance(body):
    """A Glance v2 image body in nova's shape (base attributes + properties)."""
    image = {key: value for key, value in body.items() if key in BASE_ATTRIBUTES}
    image["properties"] = {key: value for key, value in body.items()
                           if key not in BASE_ATTRIBUTES}
    image.setdefault("min_ram", 0)
    image.setdefault("min_disk", 0)
    return image


def list_images(context, filters=None, limit=None, marker=None, conf=None):
    """Images the caller may see, in nova's shape, Glance's order (newest
    first). ``filters`` are Glance v2 query parameters (name, status,
    updated_at=gte:..., property=value); Glance's pages are followed until
    ``limit`` images (all when None)."""
    params = dict(filters or {})
    if marker:
        params["marker"] = marker
    images, path = [], "/v2/images"
    while path and (limit is None or len(images) < limit):
        if limit is not None:
            params["limit"] = limit - len(images)
        response = request(context, "GET", path, conf, params=params)
        if response.status_code == 400:
            raise InvalidImageRequest(_message(response))
        if response.status_code >= 400:
            raise ImageServiceError(
                f"Glance answered {response.status_code} to a list of images: "
                f"{response.text[:200]}")
        body = response.json()
        images += [from_glance(image) for image in body.get("images", [])]
        # "next" carries the whole query (marker included) again.
        path, params = body.get("next"), {}
    return images if limit is None else images[:limit]


def set_properties(context, image_id, current, wanted, conf=None):
    """Make the image's properties ``wanted`` (a dict of strings): add and
    replace what differs, remove the properties of ``current`` that are not
    wanted, except Glance's own (os_glance_*), which nobody may change."""
    patch = [{"op": "replace" if key in current else "add", "path": f"/{key}",
              "value": str(value)}
             for key, value in wanted.items() if current.get(key) != value]
    patch += [{"op": "remove", "path": f"/{key}"} for key in current
              if key not in wanted and not key.startswith("os_glance")]
    if not patch:
        return show(context, image_id, conf)
    response = request(context, "PATCH", f"/v2/images/{image_id}", conf, json=patch,
                       headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})
    _raise_for_change(response, image_id)
    return from_glance(response.json())


def delete_image(context, image_id, conf=None):
    """Delete the image on the caller's behalf: ImageNotFound, ImageNotAuthorized."""
    _raise_for_change(request(context, "DELETE", f"/v2/images/{image_id}", conf), image_id)


def _raise_for_change(response, image_id):
    if response.status_code == 404:
        raise ImageNotFound(image_id)
    if response.status_code == 403:
        raise ImageNotAuthorized(_message(response))
    if response.status_code in (400, 409, 413):
        raise InvalidImageRequest(_message(response))
    if response.status_code >= 400:
        raise ImageServiceError(
            f"Glance refused the change of image {image_id}: {response.status_code} "
            f"{response.text[:200]}")


def _message(response):
    """Glance's explanation of an error: webob's JSON error body when it sent
    one, else the text of its HTML page."""
    try:
        message = response.json().get("message")
    except ValueError:
        message = None
    if not message:
        text = re.sub(r"<title>.*?</title>|<h1>.*?</h1>|<[^>]+>", " ", response.text or "",
                      flags=re.S)
        message = " ".join(text.split())
    return message[:300] or f"Glance answered {response.status_code}"


def download(context, image_id, path, conf=None):
    """Write the image's data into the file ``path`` (a compute fetching the
    image it boots), streamed, checked against Glance's Content-MD5 if sent."""
    response = request(context, "GET", f"/v2/images/{image_id}/file", conf, stream=True)
    if response.status_code in (403, 404):
        raise ImageNotFound(image_id)
    if response.status_code == 204:
        raise ImageServiceError(f"Image {image_id} has no data (not uploaded yet)")
    if response.status_code >= 400:
        raise ImageServiceError(
            f"Glance answered {response.status_code} for the data of image {image_id}")
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "wb") as out:
        for chunk in response.iter_content(1024 * 1024):
            digest.update(chunk)
            out.write(chunk)
    expected = response.headers.get("Content-MD5")
    if expected and expected != digest.hexdigest():
        raise ImageServiceError(f"The data of image {image_id} arrived damaged (MD5 mismatch)")


# --- create and upload (snapshots) ----------------------------------------------------
# The API creates the image record (queued) with the user's token when the
# createImage request arrives, so that the user gets its id at once and
# Glance checks their quota and rights; the compute uploads the data later,
# with the same token, carried in the RPC context.

def create(context, name, *, disk_format=None, container_format=None, min_ram=0,
           min_disk=0, properties=None, visibility="private", conf=None):
    """A new, empty (queued) image owned by the caller's project; returns
    it in nova's shape. Properties are sent as strings, as Glance keeps them."""
    body = {"name": name, "visibility": visibility, "min_ram": int(min_ram or 0),
            "min_disk": int(min_disk or 0)}
    if disk_format:
        body["disk_format"] = disk_format
    if container_format:
        body["container_format"] = container_format
    for key, value in (properties or {}).items():
        if key not in BASE_ATTRIBUTES and value is not None:
            body[key] = str(value)
    response = request(context, "POST", "/v2/images", conf, json=body)
    if response.status_code >= 400:
        raise ImageServiceError(
            f"Glance refused to create image {name!r}: {response.status_code} "
            f"{response.text[:200]}")
    return from_glance(response.json())


def upload(context, image_id, data, conf=None):
    """Upload ``data`` (bytes or a file object) as the image's content;
    Glance makes it active."""
    response = request(context, "PUT", f"/v2/images/{image_id}/file", conf, data=data,
                       headers={"Content-Type": "application/octet-stream"})
    _raise_for_update(response, image_id, "the data")


def delete(context, image_id, conf=None):
    """Delete the image (a snapshot that failed); an image already gone is fine."""
    try:
        delete_image(context, image_id, conf)
    except ImageNotFound:
        pass


def set_formats(context, image_id, disk_format, container_format, conf=None):
    """Set a queued image's disk and container formats (a snapshot's are the
    hypervisor's, known once the disk is captured)."""
    patch = [{"op": "replace", "path": f"/{key}", "value": value}
             for key, value in (("disk_format", disk_format),
                                ("container_format", container_format)) if value]
    if not patch:
        return
    response = request(context, "PATCH", f"/v2/images/{image_id}", conf, json=patch,
                       headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})
    _raise_for_update(response, image_id, "the formats")


def _raise_for_update(response, image_id, what):
    """A snapshot's update refused: ImageNotFound when the image is gone,
    else ImageServiceError naming ``what`` was sent."""
    if response.status_code == 404:
        raise ImageNotFound(image_id)
    if response.status_code >= 400:
        raise ImageServiceError(
            f"Glance refused {what} of image {image_id}: {response.status_code} "
            f"{response.text[:200]}")
