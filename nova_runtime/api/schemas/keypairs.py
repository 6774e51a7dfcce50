"""Request schemas of /os-keypairs, one per microversion that changed them."""

import copy

_NAME = {"type": "string", "minLength": 1, "maxLength": 255,
         "pattern": r"^[a-zA-Z0-9 _-]+$"}

CREATE = {
    "type": "object",
    "properties": {
        "keypair": {
            "type": "object",
            "properties": {
                "name": _NAME,
                "public_key": {"type": "string"},
            },
            "required": ["name"],
            "additionalProperties": False,
        },
    },
    "required": ["keypair"],
    "additionalProperties": False,
}

# 2.2: the key's type.
CREATE_V22 = copy.deepcopy(CREATE)
CREATE_V22["properties"]["keypair"]["properties"]["type"] = {
    "type": "string", "enum": ["ssh", "x509"]}

# 2.10: admins create key pairs for other users.
CREATE_V210 = copy.deepcopy(CREATE_V22)
CREATE_V210["properties"]["keypair"]["properties"]["user_id"] = {
    "type": "string", "minLength": 1, "maxLength": 255}

# 2.92: no more generated keys, and names may contain '@' and '.'.
CREATE_V292 = copy.deepcopy(CREATE_V210)
CREATE_V292["properties"]["keypair"]["required"] = ["name", "public_key"]
CREATE_V292["properties"]["keypair"]["properties"]["name"] = {
    **_NAME, "pattern": r"^[a-zA-Z0-9 @._-]+$"}


def create_schema(version):
    if version >= "2.92":
        return CREATE_V292
    if version >= "2.10":
        return CREATE_V210
    if version >= "2.2":
        return CREATE_V22
    return CREATE
