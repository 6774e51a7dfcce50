"""Request bodies and query strings checked against JSON schemas.

Handlers call ``body(req, SCHEMA)``; a body that does not match is a 400 whose
message names the field, in upstream's words: "Invalid input for
field/attribute ram. Value: abc. 'abc' is not of type 'integer'". The
schemas live in nova_runtime/api/schemas, one module per resource, with the
shared types below.
"""

import base64
import binascii
import json
import re
import uuid

import jsonschema

from nova_runtime.api import errors

# --- shared types ---------------------------------------------------------------

DB_INT_MAX = 2 ** 31 - 1

# No leading or trailing whitespace, printable characters only.
NAME = {
    "type": "string", "minLength": 1, "maxLength": 255,
    "pattern": r"^(?! )[^\x00-\x1f\x7f]*(?<! )$",
}
# Names of aggregates and availability zones may not contain ':' (the AZ:host:node form).
AZ_NAME = {**NAME, "pattern": r"^(?! )[^\x00-\x1f\x7f:]*(?<! )$"}
OPTIONAL_AZ_NAME = {**AZ_NAME, "type": ["string", "null"]}
DESCRIPTION = {
    "type": ["string", "null"], "minLength": 0, "maxLength": 65535,
    "pattern": r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$",
}
BOOLEAN = {
    "type": ["boolean", "string"],
    "enum": [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
             False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"],
}
NON_NEGATIVE_INTEGER = {
    "type": ["integer", "string"], "pattern": r"^[0-9]*$", "minimum": 0,
    "maximum": DB_INT_MAX, "minLength": 1,
}
POSITIVE_INTEGER = {**NON_NEGATIVE_INTEGER, "pattern": r"^[0-9]*$", "minimum": 1}
QUOTA_LIMIT = {
    "type": ["integer", "string"], "pattern": r"^-?[0-9]+$", "minimum": -1,
    "maximum": DB_INT_MAX, "minLength": 1,
}
HOSTNAME = {"type": "string", "minLength": 1, "maxLength": 255,
            "pattern": r"^[a-zA-Z0-9-._]*$"}
METADATA_VALUE = {"type": ["string", "null"], "maxLength": 255}
# Server (and image) metadata: up to 255 characters per key and value.
METADATA = {
    "type": "object",
    "patternProperties": {
        r"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255},
    },
    "additionalProperties": False,
}
UUID = {"type": "string", "format": "uuid"}
IMAGE_REF = {"type": "string", "minLength": 1}
FLAVOR_REF = {"type": ["string", "integer"], "minLength": 1}
ADMIN_PASSWORD = {"type": "string"}
IP_ADDRESS_V4 = {"type": "string", "format": "ipv4"}
IP_ADDRESS_V6 = {"type": "string", "format": "ipv6"}
DISK_CONFIG = {"type": "string", "enum": ["AUTO", "MANUAL"]}


def to_bool(value):
    """The boolean a BOOLEAN-typed field or query parameter means."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "on", "yes", "y", "t"):
        return True
    if text in ("false", "0", "off", "no", "n", "f"):
        return False
    raise errors.BadRequest(f"Invalid boolean value: {value}")


# --- checking -------------------------------------------------------------------

# jsonschema's formats (uuid, ipv4, ...) plus base64, which upstream's user_data uses.
FORMAT_CHECKER = jsonschema.FormatChecker()


@FORMAT_CHECKER.checks("base64", raises=(binascii.Error, ValueError))
def _is_base64(value):
    if not isinstance(value, str):
        return True
    base64.b64decode(value.encode(), validate=True)
    return True


def _check(instance, schema, what="field/attribute"):
    validator = jsonschema.Draft4Validator(schema, format_checker=FORMAT_CHECKER)
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance),
                                             key=_error_rank)
    if error is None:
        _check_numeric_strings(instance, schema)
        return
    # absolute_path: an error under oneOf/anyOf has a path relative to it.
    if error.absolute_path:
        field = error.absolute_path[-1]
        raise errors.BadRequest(
            f"Invalid input for {what} {field}. "
            f"Value: {_show(error.instance)}. {error.message}")
    raise errors.BadRequest(error.message)


def _error_rank(error):
    # Prefer errors deeper in the document: they name the field.
    return (-len(error.path), jsonschema.exceptions.relevance(error))


def _show(value):
    return json.dumps(value) if isinstance(value, (dict, list)) else value


def _check_numeric_strings(instance, schema, path=None):
    """Integers may come as strings ("512"), as upstream accepts: check their
    bounds once the schema has passed (jsonschema applies minimum/maximum to
    numbers only)."""
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        patterns = schema.get("patternProperties", {})
        for key, value in instance.items():
            sub = properties.get(key)
            if sub is None:
                sub = next((s for p, s in patterns.items() if re.search(p, key)), None)
            if sub is None and isinstance(schema.get("additionalProperties"), dict):
                sub = schema["additionalProperties"]
            if sub is not None:
                _check_numeric_strings(value, sub, key)
        return
    if isinstance(instance, str) and re.fullmatch(r"-?[0-9]+", instance.strip()):
        number = int(instance)
        if "minimum" in schema and number < schema["minimum"]:
            raise errors.BadRequest(
                f"Invalid input for field/attribute {path}. Value: {instance}. "
                f"{instance} is less than the minimum of {schema['minimum']}")
        if "maximum" in schema and number > schema["maximum"]:
            raise errors.BadRequest(
                f"Invalid input for field/attribute {path}. Value: {instance}. "
                f"{instance} is greater than the maximum of {schema['maximum']}")


def body(req, schema):
    """The request's JSON body, checked against ``schema``. On the legacy
    v2.0 endpoint unknown properties are dropped, not refused, as upstream
    relaxes them there."""
    data = json_body(req)
    if req.environ.get("nova.legacy_v2"):
        _drop_unknown(data, schema)
    _check(data, schema)
    return data


def _drop_unknown(instance, schema):
    """Drops the properties that ``schema`` does not name, where it allows
    no others; keys checked by patternProperties (metadata) stay checked."""
    if not isinstance(instance, dict) or not isinstance(schema, dict):
        return
    properties = schema.get("properties", {})
    strict = schema.get("additionalProperties") is False and not schema.get(
        "patternProperties")
    for key in list(instance):
        if key in properties:
            _drop_unknown(instance[key], properties[key])
        elif strict:
            del instance[key]


def json_body(req):
    if not req.body:
        raise errors.BadRequest("The request body is empty: a JSON object is expected.")
    content_type = req.content_type or "application/json"
    if content_type not in ("application/json", "application/vnd.openstack.compute+json"):
        raise errors.UnsupportedMediaType("Unsupported Content-Type")
    try:
        return json.loads(req.body)
    except ValueError:
        raise errors.BadRequest("Malformed request body") from None


def query(req, schema):
    """The query parameters as {name: value} (the last of repeated ones),
    checked against ``schema`` whose properties are all strings."""
    params = {key: req.GET.getall(key)[-1] for key in req.GET.keys()}
    _check(params, schema, what="query parameters")  # upstream's words for the query
    return params


def is_uuid(value):
    try:
        return str(uuid.UUID(value)) == value.lower()
    except (TypeError, ValueError, AttributeError):
        return False


def check_uuid(value):
    if not is_uuid(value):
        raise errors.BadRequest(f"Invalid uuid {value}")
    return value.lower()
