"""What every handler uses: the request object, JSON responses, links, paging."""

import json

import webob

from nova_runtime.api import errors


class Request(webob.Request):
    """A webob request with what the middleware and the router attached."""

    @property
    def context(self):
        return self.environ["nova.context"]

    @property
    def version(self):
        return self.environ["nova.api_version"]

    @property
    def conf(self):
        return self.environ["nova.conf"]

    @property
    def db(self):
        return self.environ["nova.databases"]

    @property
    def compute_api(self):
        """The nova_runtime.compute.api.API of this nova-api."""
        return self.environ["nova.compute_api"]


def json_response(body, status=200):
    response = webob.Response(status=status, content_type="application/json", charset="UTF-8")
    response.text = json.dumps(body, default=_json_default)
    return response


def empty_response(status):
    response = webob.Response(status=status)
    response.content_type = None
    return response


def _json_default(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def timestamp(value):
    """Upstream's time format in bodies: 2013-04-18T21:19:08.000000."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None


# --- links ----------------------------------------------------------------------

def base_url(req):
    """Scheme, host and any prefix the API is mounted under, without /v2.1."""
    prefix = req.conf.api.compute_link_prefix
    if prefix:
        return prefix.rstrip("/")
    return req.environ.get("nova.root_url", req.host_url).rstrip("/")


def links(req, collection, identifier):
    base = base_url(req)
    return [
        {"rel": "self", "href": f"{base}/v2.1/{collection}/{identifier}"},
        {"rel": "bookmark", "href": f"{base}/{collection}/{identifier}"},
    ]


def next_link(req, collection, marker):
    """The collection_links entry that continues a page after ``marker``."""
    params = [(k, v) for k, v in req.GET.items() if k != "marker"]
    params.append(("marker", marker))
    query = "&".join(f"{k}={v}" for k, v in params)
    return [{"rel": "next", "href": f"{base_url(req)}/v2.1/{collection}?{query}"}]


# --- paging ---------------------------------------------------------------------

def limit_and_marker(req, params=None):
    """(limit, marker) from the query; limit capped by [api] max_limit."""
    params = req.GET if params is None else params
    max_limit = req.conf.api.max_limit
    limit = params.get("limit")
    if limit is not None:
        try:
            limit = int(limit)
        except ValueError:
            raise errors.BadRequest("limit param must be an integer") from None
        if limit < 0:
            raise errors.BadRequest("limit param must be positive")
        limit = min(limit, max_limit)
    else:
        limit = max_limit
    return limit, params.get("marker")


def page(items, key, limit, marker, not_found):
    """The items after the one whose ``key`` is ``marker``, at most ``limit``."""
    if marker is not None:
        for index, item in enumerate(items):
            if str(key(item)) == str(marker):
                items = items[index + 1:]
                break
        else:
            raise errors.BadRequest(not_found)
    return items[:limit]
