"""Query strings of the images proxy and bodies of its metadata.

The list filters are upstream's; other parameters (property-<name> among
them) are allowed, as upstream keeps the query open. Metadata keys are 1 to
255 characters and values strings of at most 255, as for server metadata.
"""

_FILTER = {"type": "string"}

LIST_QUERY = {
    "type": "object",
    "properties": {name: _FILTER for name in (
        "name", "status", "changes-since", "server", "type", "minRam", "minDisk",
        "limit", "marker")},
    "additionalProperties": True,
}

_METADATA = {
    "type": "object",
    "patternProperties": {"^.{1,255}$": {"type": "string", "maxLength": 255}},
    "additionalProperties": False,
}

METADATA = {
    "type": "object",
    "properties": {"metadata": _METADATA},
    "required": ["metadata"],
    "additionalProperties": False,
}

META_ITEM = {
    "type": "object",
    "properties": {"meta": {**_METADATA, "minProperties": 1, "maxProperties": 1}},
    "required": ["meta"],
    "additionalProperties": False,
}
