"""Request schemas of /flavors, its extra specs and its access list."""

import copy

from nova_runtime.api import validation

FLAVOR_ID = {
    "type": ["string", "number", "null"], "minLength": 1, "maxLength": 255,
    "pattern": r"^(?! )[a-zA-Z0-9. _-]+(?<! )$",
}

CREATE = {
    "type": "object",
    "properties": {
        "flavor": {
            "type": "object",
            "properties": {
                "name": validation.NAME,
                "id": FLAVOR_ID,
                "ram": validation.POSITIVE_INTEGER,
                "vcpus": validation.POSITIVE_INTEGER,
                "disk": validation.NON_NEGATIVE_INTEGER,
                "OS-FLV-EXT-DATA:ephemeral": validation.NON_NEGATIVE_INTEGER,
                "swap": validation.NON_NEGATIVE_INTEGER,
                "rxtx_factor": {
                    "type": ["number", "string"], "pattern": r"^[0-9]+(\.[0-9]+)?$",
                    "minimum": 0, "exclusiveMinimum": True, "maximum": 3.40282e38,
                },
                "os-flavor-access:is_public": validation.BOOLEAN,
            },
            "required": ["name", "ram", "vcpus", "disk"],
            "additionalProperties": False,
        },
    },
    "required": ["flavor"],
    "additionalProperties": False,
}

# 2.55: a description at creation and PUT /flavors/{id} to change it.
CREATE_V255 = copy.deepcopy(CREATE)
CREATE_V255["properties"]["flavor"]["properties"]["description"] = validation.DESCRIPTION

UPDATE_V255 = {
    "type": "object",
    "properties": {
        "flavor": {
            "type": "object",
            "properties": {"description": validation.DESCRIPTION},
            "required": ["description"],
            "additionalProperties": False,
        },
    },
    "required": ["flavor"],
    "additionalProperties": False,
}

INDEX_QUERY = {
    "type": "object",
    "properties": {
        "sort_key": {"type": "string"},
        "sort_dir": {"type": "string", "enum": ["asc", "desc"]},
        "limit": {"type": "string", "pattern": r"^[0-9]+$"},
        "marker": {"type": "string"},
        "is_public": {"type": "string"},
        "minRam": {"type": "string", "pattern": r"^[0-9]+$"},
        "minDisk": {"type": "string", "pattern": r"^[0-9]+$"},
    },
    # Unknown query parameters are ignored, as upstream does before 2.75.
    "additionalProperties": True,
}

EXTRA_SPEC_KEY = r"^[a-zA-Z0-9-_:. ]{1,255}$"
EXTRA_SPEC_VALUE = {
    "type": ["string", "number", "boolean"], "minLength": 0, "maxLength": 255,
}

EXTRA_SPECS_CREATE = {
    "type": "object",
    "properties": {
        "extra_specs": {
            "type": "object",
            "patternProperties": {EXTRA_SPEC_KEY: EXTRA_SPEC_VALUE},
            "additionalProperties": False,
        },
    },
    "required": ["extra_specs"],
    "additionalProperties": False,
}

EXTRA_SPEC_UPDATE = {
    "type": "object",
    "patternProperties": {EXTRA_SPEC_KEY: EXTRA_SPEC_VALUE},
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": False,
}

_TENANT = {
    "type": "object",
    "properties": {"tenant": {"type": "string", "minLength": 1, "maxLength": 255,
                              "pattern": r"^[^\x00-\x1f\x7f]*$"}},
    "required": ["tenant"],
    "additionalProperties": False,
}
ADD_TENANT_ACCESS = {
    "type": "object",
    "properties": {"addTenantAccess": _TENANT},
    "required": ["addTenantAccess"],
    "additionalProperties": False,
}
REMOVE_TENANT_ACCESS = {
    "type": "object",
    "properties": {"removeTenantAccess": _TENANT},
    "required": ["removeTenantAccess"],
    "additionalProperties": False,
}
