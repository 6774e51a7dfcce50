"""Request schemas of /servers/{server_id}/tags (2.26)."""

from nova_runtime.objects import tags

# A tag: 1 to 60 characters, no '/' (it is a path segment) and no ',' (the
# list filters separate tags with it).
TAG = {"type": "string", "minLength": 1, "maxLength": tags.MAX_LENGTH, "pattern": r"^[^,/]*$"}

UPDATE_ALL = {
    "type": "object",
    "properties": {
        "tags": {"type": "array", "items": TAG, "maxItems": tags.MAX_PER_SERVER},
    },
    "required": ["tags"],
    "additionalProperties": False,
}
