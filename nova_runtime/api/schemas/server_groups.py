"""Request schemas of /os-server-groups."""

import copy

from nova_runtime.api import validation

_POLICIES = ["anti-affinity", "affinity"]
_SOFT = ["soft-anti-affinity", "soft-affinity"]

CREATE = {
    "type": "object",
    "properties": {
        "server_group": {
            "type": "object",
            "properties": {
                "name": validation.NAME,
                "policies": {
                    "type": "array",
                    "items": [{"type": "string", "enum": _POLICIES}],
                    "uniqueItems": True,
                    "minItems": 1,
                    "maxItems": 1,
                    "additionalItems": False,
                },
            },
            "required": ["name", "policies"],
            "additionalProperties": False,
        },
    },
    "required": ["server_group"],
    "additionalProperties": False,
}

# 2.15: the soft policies.
CREATE_V215 = copy.deepcopy(CREATE)
CREATE_V215["properties"]["server_group"]["properties"]["policies"]["items"] = [
    {"type": "string", "enum": _POLICIES + _SOFT}]

# 2.64: one policy, and rules.
CREATE_V264 = {
    "type": "object",
    "properties": {
        "server_group": {
            "type": "object",
            "properties": {
                "name": validation.NAME,
                "policy": {"type": "string", "enum": _POLICIES + _SOFT},
                "rules": {
                    "type": "object",
                    "properties": {
                        "max_server_per_host": validation.POSITIVE_INTEGER,
                    },
                    "additionalProperties": False,
                },
            },
            "required": ["name", "policy"],
            "additionalProperties": False,
        },
    },
    "required": ["server_group"],
    "additionalProperties": False,
}

INDEX_QUERY = {
    "type": "object",
    "properties": {
        "all_projects": {"type": "string"},
        "limit": {"type": "string", "pattern": r"^[0-9]+$"},
        "offset": {"type": "string", "pattern": r"^[0-9]+$"},
    },
    "additionalProperties": True,
}


def create_schema(version):
    if version >= "2.64":
        return CREATE_V264
    if version >= "2.15":
        return CREATE_V215
    return CREATE
