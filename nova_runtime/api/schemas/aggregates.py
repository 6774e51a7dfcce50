"""Request schemas of /os-aggregates and its actions."""

from nova_runtime.api import validation

CREATE = {
    "type": "object",
    "properties": {
        "aggregate": {
            "type": "object",
            "properties": {
                "name": validation.NAME,
                "availability_zone": validation.OPTIONAL_AZ_NAME,
            },
            "required": ["name"],
            "additionalProperties": False,
        },
    },
    "required": ["aggregate"],
    "additionalProperties": False,
}

UPDATE = {
    "type": "object",
    "properties": {
        "aggregate": {
            "type": "object",
            "properties": {
                "name": validation.NAME,
                "availability_zone": validation.OPTIONAL_AZ_NAME,
            },
            "additionalProperties": False,
            "minProperties": 1,
        },
    },
    "required": ["aggregate"],
    "additionalProperties": False,
}

_HOST = {
    "type": "object",
    "properties": {"host": validation.HOSTNAME},
    "required": ["host"],
    "additionalProperties": False,
}
ADD_HOST = {"type": "object", "properties": {"add_host": _HOST},
            "required": ["add_host"], "additionalProperties": False}
REMOVE_HOST = {"type": "object", "properties": {"remove_host": _HOST},
               "required": ["remove_host"], "additionalProperties": False}
SET_METADATA = {
    "type": "object",
    "properties": {
        "set_metadata": {
            "type": "object",
            "properties": {
                "metadata": {
                    "type": "object",
                    "patternProperties": {
                        r"^[a-zA-Z0-9-_:. ]{1,255}$": validation.METADATA_VALUE,
                    },
                    "additionalProperties": False,
                },
            },
            "required": ["metadata"],
            "additionalProperties": False,
        },
    },
    "required": ["set_metadata"],
    "additionalProperties": False,
}
