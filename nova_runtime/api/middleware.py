"""The WSGI middleware of nova-api; nova_runtime/api/app.py stacks them."""

import logging
import time

import webob.dec
from oslo_middleware import request_id

from nova_runtime.api import context as nova_context
from nova_runtime.api import errors, microversion
from nova_runtime import cells

LOG = logging.getLogger(__name__)


class RequestId(request_id.RequestId):
    """x-openstack-request-id, and x-compute-request-id as upstream also sends."""

    compat_headers = ["x-compute-request-id"]


class FaultWrapper:
    """Turns every exception into Nova's JSON fault body.

    APIError subclasses keep their status and message; the errors of the
    layers below get theirs from errors.from_exception; database outages are
    503; anything else is a 500 computeFault that names the exception type
    only (the traceback goes to the log, not to the client)."""

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, req):
        try:
            return req.get_response(self.application)
        except errors.APIError as exc:
            response = errors.fault_response(exc.code, exc.message, exc.headers)
        except errors.TRANSLATED as exc:
            api_error = errors.from_exception(exc)
            response = errors.fault_response(api_error.code, api_error.message)
        except cells.DOWN_ERRORS as exc:
            LOG.error("Database unavailable during %s %s: %s", req.method, req.path, exc)
            response = errors.fault_response(503, "The database is not available; retry later.")
        except Exception as exc:
            LOG.exception("Unexpected exception in API method %s %s", req.method, req.path)
            response = errors.fault_response(
                500, "Unexpected API Error. Check the nova-api log for request "
                     f"{req.environ.get(request_id.ENV_REQUEST_ID)}.\n{type(exc)}")
        version = req.environ.get("nova.api_version")
        # The legacy v2.0 endpoint shows no microversions, faults included.
        if version is not None and not req.environ.get("nova.legacy_v2"):
            microversion.add_headers(response, version)
        return response


class RequestLog:
    """One INFO line per request, as upstream's request log writes it."""

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, req):
        start = time.monotonic()
        response = req.get_response(self.application)
        version = req.environ.get("nova.api_version")
        LOG.info('%s "%s %s" status: %s len: %s microversion: %s time: %.6f',
                 req.remote_addr, req.method, req.path_qs, response.status_int,
                 response.content_length, version or "-", time.monotonic() - start)
        return response


class BodySizeLimit:
    """Refuses request bodies above [wsgi] max_request_body_size with 413."""

    def __init__(self, application, limit):
        self.application = application
        self.limit = limit

    @webob.dec.wsgify
    def __call__(self, req):
        if req.content_length is not None and req.content_length > self.limit:
            raise errors.RequestTooLarge("Request is too large.")
        if req.content_length is None and req.is_body_readable:
            # Chunked bodies: read at most one byte more than allowed.
            body = req.body_file.read(self.limit + 1)
            if len(body) > self.limit:
                raise errors.RequestTooLarge("Request is too large.")
            req.body = body
        return req.get_response(self.application)


class NoAuth:
    """[api] auth_strategy = noauth2, for tests: the token 'user:project' is
    trusted as is. The user 'admin' has the admin role (which implies member
    and reader); anyone else is member and reader of the project, unless
    X-Roles says otherwise."""

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, req):
        token = req.headers.get("X-Auth-Token", "")
        user, _, project = token.partition(":")
        if not user or not project:
            raise errors.Unauthorized("Authentication required")
        roles = req.headers.get("X-Roles") or (
            "admin,member,reader" if user == "admin" else "member,reader")
        for name, value in (("X-User-Id", user), ("X-User-Name", user),
                            ("X-Project-Id", project), ("X-Project-Name", project),
                            ("X-Roles", roles), ("X-Identity-Status", "Confirmed")):
            req.headers[name] = value
        return req.get_response(self.application)


class Context:
    """Builds the RequestContext from auth_token's headers into
    environ['nova.context']; 401 if the request carries no user."""

    def __init__(self, application, enforcer, use_forwarded_for=False):
        self.application = application
        self.enforcer = enforcer
        self.use_forwarded_for = use_forwarded_for

    @webob.dec.wsgify
    def __call__(self, req):
        if req.headers.get("X-Identity-Status", "Confirmed") != "Confirmed" \
                or not (req.headers.get("X-User-Id") or req.headers.get("X-User")):
            raise errors.Unauthorized("Authentication required")
        req.environ["nova.context"] = nova_context.RequestContext.from_request(
            req, self.enforcer, use_forwarded_for=self.use_forwarded_for)
        return req.get_response(self.application)


class VersionedPaths:
    """Serves version discovery at /, /v2 and /v2.1 without authentication
    and sends /v2.1/... on to the authenticated API with /v2.1 moved to
    SCRIPT_NAME; /v2/... goes to the same API as upstream's legacy v2.0
    compatibility endpoint (LegacyV2). Anything else is 404."""

    def __init__(self, discovery, api):
        self.discovery = discovery
        self.api = api
        self.legacy_api = LegacyV2(api)

    @webob.dec.wsgify
    def __call__(self, req):
        req.environ["nova.root_url"] = req.host_url + req.script_name
        path = req.path_info
        if path in ("", "/", "/v2", "/v2/", "/v2.1", "/v2.1/"):
            return req.get_response(self.discovery)
        if path.startswith("/v2.1/"):
            req.path_info_pop()
            return req.get_response(self.api)
        if path.startswith("/v2/"):
            req.path_info_pop()
            return req.get_response(self.legacy_api)
        raise errors.NotFound("The resource could not be found.")


class LegacyV2:
    """The v2.0 compatibility endpoint, as upstream's: the v2.1 API at its
    base microversion whatever the client asks (the microversion headers are
    dropped on the way in), without microversion headers on the way out,
    and with request bodies whose unknown properties are ignored rather than
    refused (environ['nova.legacy_v2'], read by validation.body)."""

    _HEADERS = (microversion.HEADER, microversion.LEGACY_HEADER)

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, req):
        req.environ["nova.legacy_v2"] = True
        for name in self._HEADERS:
            req.headers.pop(name, None)
        response = req.get_response(self.application)
        for name in self._HEADERS:
            response.headers.pop(name, None)
        vary = [value.strip() for values in response.headers.getall("Vary")
                for value in values.split(",") if value.strip() not in self._HEADERS]
        if "Vary" in response.headers:
            del response.headers["Vary"]
        if vary:
            response.headers["Vary"] = ", ".join(vary)
        return response
