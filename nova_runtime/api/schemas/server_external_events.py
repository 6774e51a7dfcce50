"""Bodies of POST /os-server-external-events."""

import copy

# (microversion, event names it adds)
_NAMES = (("2.1", ("network-changed", "network-vif-plugged", "network-vif-unplugged",
                   "network-vif-deleted")),
          ("2.51", ("volume-extended",)),
          ("2.76", ("power-update",)),
          ("2.82", ("accelerator-request-bound",)),
          ("2.93", ("volume-reimaged",)))
TAG_REQUIRED = ("volume-extended", "power-update", "accelerator-request-bound")

_CREATE = {
    "type": "object",
    "properties": {
        "events": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "enum": []},
                    "server_uuid": {"type": "string", "format": "uuid"},
                    "status": {"type": "string",
                               "enum": ["failed", "completed", "in-progress"]},
                    "tag": {"type": "string", "maxLength": 255},
                },
                "required": ["name", "server_uuid"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["events"],
    "additionalProperties": False,
}



def event_names(version):
    return [name for since, names in _NAMES if version >= since for name in names]


def create(version):
    """The body's schema at ``version``: the event names it knows."""
    schema = copy.deepcopy(_CREATE)
    schema["properties"]["events"]["items"]["properties"]["name"]["enum"] = \
        event_names(version)
    return schema
