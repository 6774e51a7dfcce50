"""Dispatch a versioned request to its handler through the route table.

The table (nova_runtime/api/routes.py) maps a path template such as
``/flavors/{flavor_id}`` and a method to a handler function; an entry may be
limited to a range of microversions (``Versioned``). A path that exists with
another method is 405 with an Allow header; a path outside its versions is
404 with Nova's fault body, and a path that no route knows is webob's plain
404, as upstream's router answers both.

Paths may carry a project id first (/v2.1/{project_id}/flavors), as catalogs
with %(tenant_id)s in the compute URL produce. As upstream, that segment is
only taken for a project id when it looks like one (hex digits and dashes,
upstream's default [osapi_v21] project_id_regex; or the caller's own project
id, whatever its form) and the rest of the path is a route: so
/v2.1/os-unknown/... is 404, not a project mismatch, and a project id that
is not the caller's is 400.
"""

import dataclasses
import re

import webob.dec
import webob.exc

from nova_runtime.api import errors, microversion, util
from nova_runtime.compute import api as compute_api

# Upstream's default [osapi_v21] project_id_regex.
_PROJECT_ID = re.compile(r"[0-9a-f\-]+")


@dataclasses.dataclass(frozen=True)
class Versioned:
    """A handler that exists only from ``minimum`` (and up to ``maximum``)."""

    handler: object
    minimum: str = "2.1"
    maximum: str | None = None


class Router:
    def __init__(self, routes, conf, databases):
        self.conf = conf
        self.databases = databases
        # One compute API per application: it keeps the RPC clients it made.
        self.compute_api = compute_api.API(conf, databases.api_url)
        self._routes = [(_compile(template), methods) for template, methods in routes.items()]

    @webob.dec.wsgify(RequestClass=util.Request)
    def __call__(self, req):
        req.environ["nova.conf"] = self.conf
        req.environ["nova.databases"] = self.databases
        req.environ["nova.compute_api"] = self.compute_api
        req.environ["nova.api_version"] = microversion.from_request(req.headers)
        found = self._route(req)
        if found is None:
            return webob.exc.HTTPNotFound()
        handler, params = found
        response = handler(req, **params)
        microversion.add_headers(response, req.version)
        return response

    def _route(self, req):
        """(handler, params) for the request, or None when no route knows the path."""
        # A trailing slash is a different path, as upstream's routes see it
        # (GET /os-simple-tenant-usage/ asks for an empty tenant id: 404).
        path = req.path_info or "/"
        found = self._match(req.method, path, req.version)
        if found is not None:
            return found
        first, _, rest = path.strip("/").partition("/")
        project_id = req.context.project_id
        if not rest or not (_PROJECT_ID.fullmatch(first) or first == project_id):
            return None
        found = self._match(req.method, "/" + rest, req.version)
        if found is not None and first != project_id:
            raise errors.BadRequest(
                f"Malformed request URL: URL's project_id '{first}' doesn't match "
                f"Context's project_id '{project_id}'")
        return found

    def _match(self, method, path, version):
        for pattern, methods in self._routes:
            found = pattern.match(path)
            if not found:
                continue
            entry = methods.get(method)
            if entry is None:
                allowed = ", ".join(sorted(methods))
                raise errors.MethodNotAllowed(
                    "The method specified is not allowed for this resource.",
                    headers={"Allow": allowed})
            if isinstance(entry, Versioned):
                if not version.matches(entry.minimum, entry.maximum):
                    raise errors.NotFound("The resource could not be found.")
                entry = entry.handler
            return entry, found.groupdict()
        return None


def _compile(template):
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{regex}$")
