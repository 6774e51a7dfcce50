"""Request schemas of /servers, their actions and their metadata.

``create_schema(version)`` and friends build the schema of one microversion
from the base one, as upstream's schemas grow: 2.19 description, 2.37
networks required ("auto" / "none" or a list), 2.52 tags, 2.54 rebuild's
key_name, 2.57 no personality and rebuild's user_data, 2.90 hostname.
"""

import copy
import functools

from nova_runtime.api import validation

USER_DATA_MAX = 65535  # base64 characters, as upstream limits user_data
USER_DATA = {"type": "string", "format": "base64", "maxLength": USER_DATA_MAX}

_NETWORK = {
    "type": "object",
    "properties": {
        "fixed_ip": {"type": "string", "oneOf": [validation.IP_ADDRESS_V4,
                                                 validation.IP_ADDRESS_V6]},
        "port": {"type": ["string", "null"], "format": "uuid"},
        "uuid": {"type": "string"},
        "tag": {"type": "string", "maxLength": 60},
    },
    "additionalProperties": False,
}
_HINTS = {
    "type": "object",
    "properties": {
        "group": validation.UUID,
        "different_host": {"oneOf": [validation.UUID,
                                     {"type": "array", "items": validation.UUID}]},
        "same_host": {"oneOf": [validation.UUID,
                                {"type": "array", "items": validation.UUID}]},
        "query": {"type": ["string", "object"]},
        "target_cell": validation.NAME,
        "different_cell": {"type": ["string", "array"], "items": {"type": "string"}},
        "build_near_host_ip": {"type": "string", "oneOf": [validation.IP_ADDRESS_V4,
                                                           validation.IP_ADDRESS_V6]},
        "cidr": {"type": "string", "pattern": r"^/[0-9a-f.:]+$"},
    },
    # Out-of-tree filters read hints of their own: upstream lets them through.
    "additionalProperties": True,
}
_BLOCK_DEVICE = {
    "type": "object",
    "properties": {
        "source_type": {"type": "string",
                        "enum": ["volume", "image", "snapshot", "blank"]},
        "destination_type": {"type": "string", "enum": ["local", "volume"]},
        "uuid": {"type": "string", "minLength": 1, "maxLength": 255},
        "boot_index": {"type": ["integer", "string", "null"], "pattern": "^-?[0-9]+$"},
        "delete_on_termination": validation.BOOLEAN,
        "volume_size": {"type": ["integer", "string", "null"]},
        "device_name": {"type": "string", "maxLength": 255},
        "device_type": {"type": "string", "maxLength": 255},
        "disk_bus": {"type": "string", "maxLength": 255},
        "guest_format": {"type": "string", "maxLength": 255},
        "no_device": {},
        "tag": {"type": "string", "maxLength": 60},
        "volume_type": {"type": ["string", "null"], "maxLength": 255},
    },
    "additionalProperties": False,
}
HOSTNAME_V290 = {"type": "string", "minLength": 2, "maxLength": 63,
                 "pattern": r"^[a-zA-Z0-9]+[a-zA-Z0-9-]*[a-zA-Z0-9]+$"}
HOSTNAME_V294 = {"type": "string", "minLength": 1, "maxLength": 255,
                 "pattern": r"^[a-zA-Z0-9]+[a-zA-Z0-9-._]*[a-zA-Z0-9]+$"}

CREATE = {
    "type": "object",
    "properties": {
        "server": {
            "type": "object",
            "properties": {
                "name": validation.NAME,
                "imageRef": {"type": "string"},
                "flavorRef": validation.FLAVOR_REF,
                "adminPass": validation.ADMIN_PASSWORD,
                "metadata": validation.METADATA,
                "networks": {"type": "array", "items": _NETWORK},
                "OS-DCF:diskConfig": validation.DISK_CONFIG,
                "accessIPv4": validation.IP_ADDRESS_V4,
                "accessIPv6": validation.IP_ADDRESS_V6,
                "availability_zone": {"type": "string", "minLength": 1, "maxLength": 255},
                "config_drive": validation.BOOLEAN,
                "key_name": validation.NAME,
                "min_count": validation.POSITIVE_INTEGER,
                "max_count": validation.POSITIVE_INTEGER,
                "return_reservation_id": validation.BOOLEAN,
                "security_groups": {
                    "type": "array",
                    "items": {"type": "object",
                              "properties": {"name": {"type": "string", "minLength": 1}},
                              "additionalProperties": False},
                },
                "user_data": USER_DATA,
                "personality": {"type": "array", "maxItems": 0},
                # Only the image-to-local root disk that clients send with
                # imageRef: other mappings need Cinder (refused by the handler).
                "block_device_mapping_v2": {"type": "array", "items": _BLOCK_DEVICE},
            },
            "required": ["name", "flavorRef"],
            "additionalProperties": False,
        },
        "os:scheduler_hints": _HINTS,
        "OS-SCH-HNT:scheduler_hints": _HINTS,
    },
    "required": ["server"],
    "additionalProperties": False,
}

UPDATE = {
    "type": "object",
    "properties": {
        "server": {
            "type": "object",
            "properties": {
                "name": validation.NAME,
                "OS-DCF:diskConfig": validation.DISK_CONFIG,
                "accessIPv4": validation.IP_ADDRESS_V4,
                "accessIPv6": validation.IP_ADDRESS_V6,
            },
            "additionalProperties": False,
        },
    },
    "required": ["server"],
    "additionalProperties": False,
}

REBUILD = {
    "type": "object",
    "properties": {
        "rebuild": {
            "type": "object",
            "properties": {
                "name": validation.NAME,
                "imageRef": {"type": "string", "minLength": 1},
                "adminPass": validation.ADMIN_PASSWORD,
                "metadata": validation.METADATA,
                "preserve_ephemeral": validation.BOOLEAN,
                "OS-DCF:diskConfig": validation.DISK_CONFIG,
                "accessIPv4": validation.IP_ADDRESS_V4,
                "accessIPv6": validation.IP_ADDRESS_V6,
                "personality": {"type": "array", "maxItems": 0},
            },
            "required": ["imageRef"],
            "additionalProperties": False,
        },
    },
    "required": ["rebuild"],
    "additionalProperties": False,
}


def _versioned(base, key, version, *, add=None, drop=(), required=()):
    schema = copy.deepcopy(base)
    inner = schema["properties"][key]
    inner["properties"].update(add or {})
    for name in drop:
        inner["properties"].pop(name, None)
    inner["required"] = list(inner.get("required", [])) + list(required)
    return schema


@functools.lru_cache(maxsize=None)  # one per microversion, built once: never changed
def create_schema(version):
    add, required, drop = {}, [], []
    if version >= "2.19":
        add["description"] = validation.DESCRIPTION
    if version >= "2.37":
        add["networks"] = {"oneOf": [CREATE["properties"]["server"]["properties"]["networks"],
                                     {"type": "string", "enum": ["none", "auto"]}]}
        required.append("networks")
    if version >= "2.52":
        add["tags"] = {"type": "array", "maxItems": 50,
                       "items": {"type": "string", "minLength": 1, "maxLength": 60,
                                 "pattern": r"^[^,/]*$"}}
    if version >= "2.57":
        drop.append("personality")
    if version >= "2.90":
        add["hostname"] = HOSTNAME_V294 if version >= "2.94" else HOSTNAME_V290
    return _versioned(CREATE, "server", version, add=add, drop=drop, required=required)


def update_schema(version):
    add = {}
    if version >= "2.19":
        add["description"] = validation.DESCRIPTION
    if version >= "2.90":
        add["hostname"] = HOSTNAME_V294 if version >= "2.94" else HOSTNAME_V290
    return _versioned(UPDATE, "server", version, add=add)


def rebuild_schema(version):
    add, drop = {}, []
    if version >= "2.19":
        add["description"] = validation.DESCRIPTION
    if version >= "2.54":
        add["key_name"] = {**validation.NAME, "type": ["string", "null"]}  # null removes it
    if version >= "2.57":
        drop.append("personality")
        add["user_data"] = {"oneOf": [USER_DATA, {"type": "null"}]}
    if version >= "2.90":
        add["hostname"] = HOSTNAME_V294 if version >= "2.94" else HOSTNAME_V290
    return _versioned(REBUILD, "rebuild", version, add=add, drop=drop)


def _action(name, properties=None, required=()):
    return {
        "type": "object",
        "properties": {name: {"type": "object", "properties": properties or {},
                              "required": list(required), "additionalProperties": False}},
        "required": [name],
        "additionalProperties": False,
    }


REBOOT = _action("reboot", {"type": {"type": "string",
                                     "pattern": "^([Hh][Aa][Rr][Dd]|[Ss][Oo][Ff][Tt])$"}},
                 required=["type"])
RESIZE = _action("resize", {"flavorRef": validation.FLAVOR_REF,
                            "OS-DCF:diskConfig": validation.DISK_CONFIG},
                 required=["flavorRef"])
CREATE_IMAGE = _action("createImage", {"name": validation.NAME,
                                       "metadata": validation.METADATA},
                       required=["name"])
LOCK_V273 = {
    "type": "object",
    "properties": {"lock": {"type": ["object", "null"],
                            "properties": {"locked_reason": {"type": "string", "minLength": 1,
                                                             "maxLength": 255}},
                            "additionalProperties": False}},
    "required": ["lock"],
    "additionalProperties": False,
}
RESET_STATE = _action("os-resetState", {"state": {"type": "string",
                                                   "enum": ["active", "error"]}},
                      required=["state"])
CREATE_BACKUP = _action("createBackup", {
    "name": validation.NAME, "backup_type": {"type": "string"},
    "rotation": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 0},
    "metadata": validation.METADATA}, required=["name", "backup_type", "rotation"])
ADD_SECURITY_GROUP = _action("addSecurityGroup", {"name": {"type": "string", "minLength": 1,
                                                          "maxLength": 255}},
                             required=["name"])
REMOVE_SECURITY_GROUP = _action("removeSecurityGroup",
                                {"name": {"type": "string", "minLength": 1,
                                          "maxLength": 255}}, required=["name"])
MIGRATE_V256 = {
    "type": "object",
    "properties": {"migrate": {"type": ["object", "null"],
                               "properties": {"host": {**validation.HOSTNAME,
                                                       "type": ["string", "null"]}},
                               "additionalProperties": False}},
    "required": ["migrate"],
    "additionalProperties": False,
}

# unshelve: before 2.77 the body is not read (upstream validated none); 2.77
# null or an availability zone; 2.91 also a host, and a null zone (unpin).
UNSHELVE_V277 = {
    "type": "object",
    "properties": {"unshelve": {"type": ["object", "null"],
                                "properties": {"availability_zone": validation.NAME},
                                "required": ["availability_zone"],
                                "additionalProperties": False}},
    "required": ["unshelve"],
    "additionalProperties": False,
}
UNSHELVE_V291 = {
    "type": "object",
    "properties": {"unshelve": {"oneOf": [
        {"type": "object",
         "properties": {"availability_zone": {"oneOf": [{"type": "null"},
                                                        {"type": "string"}]},
                        "host": {"type": "string"}},
         "additionalProperties": False},
        {"type": "null"}]}},
    "required": ["unshelve"],
    "additionalProperties": False,
}

METADATA = {
    "type": "object",
    "properties": {"metadata": validation.METADATA},
    "required": ["metadata"],
    "additionalProperties": False,
}
METADATA_ITEM = {
    "type": "object",
    "properties": {"meta": {**validation.METADATA, "minProperties": 1, "maxProperties": 1}},
    "required": ["meta"],
    "additionalProperties": False,
}

_QUERY_STRING = {"type": "string"}
# Filters that are regular expressions: one that does not compile is a 400,
# as upstream's query schema says (not a database error).
_QUERY_REGEX = {"type": "string", "format": "regex"}
# GET /servers and /servers/detail: what is known is checked, the rest ignored
# (upstream ignores unknown filters).
LIST_QUERY = {
    "type": "object",
    "properties": {
        "name": _QUERY_REGEX,
        "ip": _QUERY_REGEX,
        "ip6": _QUERY_REGEX,
        "limit": {"type": "string", "pattern": r"^[0-9]+$"},
        "marker": _QUERY_STRING,
        "sort_key": _QUERY_STRING,
        "sort_dir": {"type": "string", "enum": ["asc", "desc"]},
        "all_tenants": _QUERY_STRING,
        "deleted": _QUERY_STRING,
        "locked": _QUERY_STRING,
        "config_drive": _QUERY_STRING,
        "power_state": {"type": "string", "pattern": r"^[0-9]+$"},
        "progress": {"type": "string", "pattern": r"^[0-9]+$"},
    },
    "additionalProperties": True,
}
