"""Errors that handlers raise, and Nova's JSON fault body for each.

A fault is ``{"<name>": {"code": <status>, "message": "..."}}`` where the name
depends on the status as upstream's wsgi.Fault maps it (400 badRequest, 403
forbidden, 404 itemNotFound, 409 conflictingRequest, anything unmapped
computeFault).
"""

import json

import webob

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


def fault_body(code, message):
    name = FAULT_NAMES.get(code, DEFAULT_FAULT_NAME)
    return {name: {"code": code, "message": message}}


def fault_response(code, message, headers=None):
    response = webob.Response(status=code, content_type="application/json", charset="UTF-8")
    response.text = json.dumps(fault_body(code, message))
    for key, value in (headers or {}).items():
        response.headers[key] = str(value)
    return response
