"""Errors that handlers raise, and Nova's JSON fault body for each.

A fault is ``{"<name>": {"code": <status>, "message": "..."}}`` where the name
depends on the status as upstream's wsgi.Fault maps it (400 badRequest, 403
forbidden, 404 itemNotFound, 409 conflictingRequest, anything unmapped
computeFault).

Handlers raise these. The errors of the layers below (records, the compute
API, the image service) reach the client through ``from_exception``: the one
table that says which HTTP status each of them is.
"""

import json

import webob

from nova_runtime.compute import api as compute_api
from nova_runtime.console import api as console_api
from nova_runtime.image import glance
from nova_runtime.objects import exceptions as record_exc

FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}
DEFAULT_FAULT_NAME = "computeFault"


class APIError(Exception):
    """An error with an HTTP status; its message is shown to the client."""

    code = 500
    default_message = "An unknown error occurred."

    def __init__(self, message=None, headers=None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.headers = headers or {}


class BadRequest(APIError):
    code = 400
    default_message = "Bad request."


class Unauthorized(APIError):
    code = 401
    default_message = "Authentication required"


class Forbidden(APIError):
    code = 403
    default_message = "Forbidden."


class NotFound(APIError):
    code = 404
    default_message = "The resource could not be found."


class MethodNotAllowed(APIError):
    code = 405
    default_message = "The method specified is not allowed for this resource."


class NotAcceptable(APIError):
    code = 406


class Conflict(APIError):
    code = 409


class RequestTooLarge(APIError):
    code = 413
    default_message = "Request is too large."


class UnsupportedMediaType(APIError):
    code = 415
    default_message = "Unsupported Content-Type"


class NotImplementedYet(APIError):
    code = 501


class QuotaExceeded(Forbidden):
    """Upstream answers an exceeded quota with 403 forbidden."""


class ImageServiceFailed(APIError):
    code = 500

    def __init__(self, message=None, headers=None):
        super().__init__(f"The image service failed: {message}", headers)


# Most specific first: the first class that matches decides.
_BELOW_THE_API = (
    (compute_api.InstanceInvalidState, Conflict),
    (compute_api.InvalidRequest, BadRequest),
    (record_exc.NotFound, NotFound),  # compute_api.SecurityGroupNotFound too
    (record_exc.Conflict, Conflict),
    (record_exc.Invalid, BadRequest),
    (record_exc.QuotaExceeded, QuotaExceeded),
    (glance.ImageNotFound, BadRequest),  # an image a request names
    (glance.ImageNotAuthorized, Forbidden),
    (glance.InvalidImageRequest, BadRequest),
    (glance.ImageServiceError, ImageServiceFailed),
    (console_api.ServerNotFound, NotFound),
    (console_api.ServerNotReady, Conflict),
    (console_api.ConsoleUnavailable, BadRequest),
)


# What FaultWrapper hands to from_exception.
TRANSLATED = tuple(error_type for error_type, _ in _BELOW_THE_API)


def from_exception(exc):
    """The APIError that ``exc`` (one of TRANSLATED) is shown as."""
    for error_type, api_error in _BELOW_THE_API:
        if isinstance(exc, error_type):
            return api_error(str(exc))
    raise TypeError(f"{type(exc).__name__} is not an error below the API")


def fault_body(code, message):
    name = FAULT_NAMES.get(code, DEFAULT_FAULT_NAME)
    return {name: {"code": code, "message": message}}


def fault_response(code, message, headers=None):
    response = webob.Response(status=code, content_type="application/json", charset="UTF-8")
    response.text = json.dumps(fault_body(code, message))
    for key, value in (headers or {}).items():
        response.headers[key] = str(value)
    return response
