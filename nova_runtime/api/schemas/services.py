"""Request schemas of /os-services."""

from nova_runtime.api import validation

_HOST_BINARY = {
    "host": validation.HOSTNAME,
    "binary": {"type": "string", "minLength": 1, "maxLength": 255},
}
_REASON = {"type": "string", "minLength": 1, "maxLength": 255}

ENABLE_DISABLE = {
    "type": "object",
    "properties": _HOST_BINARY,
    "required": ["host", "binary"],
    "additionalProperties": False,
}
DISABLE_LOG_REASON = {
    "type": "object",
    "properties": {**_HOST_BINARY, "disabled_reason": _REASON},
    "required": ["host", "binary", "disabled_reason"],
    "additionalProperties": False,
}
FORCE_DOWN = {
    "type": "object",
    "properties": {**_HOST_BINARY, "forced_down": validation.BOOLEAN},
    "required": ["host", "binary", "forced_down"],
    "additionalProperties": False,
}
# 2.53: PUT /os-services/{service_id}
UPDATE_V253 = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["enabled", "disabled"]},
        "disabled_reason": _REASON,
        "forced_down": validation.BOOLEAN,
    },
    "additionalProperties": False,
}
QUERY = {
    "type": "object",
    "properties": {"host": {"type": "string"}, "binary": {"type": "string"}},
    "additionalProperties": True,
}
