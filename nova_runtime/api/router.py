"""Dispatch a versioned request to its handler through the route table.

The table (nova_runtime/api/routes.py) maps a path template such as
``/flavors/{flavor_id}`` and a method to a handler function; an entry may be
limited to a range of microversions (``Versioned``). A path that exists with
another method is 405 with an Allow header; a path outside its versions, or
unknown, is 404.
"""

import dataclasses
import re

import webob.dec

from nova_runtime.api import errors, microversion, util
from nova_runtime.compute import api as compute_api


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
        self._first_segments = {template.strip("/").split("/")[0] for template in routes}

    @webob.dec.wsgify(RequestClass=util.Request)
    def __call__(self, req):
        req.environ["nova.conf"] = self.conf
        req.environ["nova.databases"] = self.databases
        req.environ["nova.compute_api"] = self.compute_api
        req.environ["nova.api_version"] = microversion.from_request(req.headers)
        path = self._without_project_id(req)
        handler, params = self._match(req.method, path, req.version)
        response = handler(req, **params)
        microversion.add_headers(response, req.version)
        return response

    def _without_project_id(self, req):
        """Paths may still carry the project id (/v2.1/{project_id}/flavors),
        as catalogs with %(tenant_id)s in the compute URL produce."""
        path = req.path_info.rstrip("/") or "/"
        first, _, rest = path.strip("/").partition("/")
        if first in self._first_segments or not first or not rest:
            return path
        project_id = req.context.project_id
        if first != project_id:
            raise errors.BadRequest(
                f"Malformed request URL: URL's project_id '{first}' doesn't match "
                f"Context's project_id '{project_id}'")
        return "/" + rest

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
        raise errors.NotFound("The resource could not be found.")


def _compile(template):
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{regex}$")
