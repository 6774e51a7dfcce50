"""Request schemas of /servers/{server_id}/remote-consoles and of the legacy
os-getVNCConsole server action.

They accept every protocol and type that upstream's API knows, so that a
console this cloud does not offer gets a 400 that says what it offers (the
handler's), not a bare schema error.
"""

import copy

_PROTOCOLS_V26 = ["vnc", "spice", "rdp", "serial"]
_TYPES_V26 = ["novnc", "xvpvnc", "rdp-html5", "spice-html5", "serial"]

CREATE_V26 = {
    "type": "object",
    "properties": {
        "remote_console": {
            "type": "object",
            "properties": {
                "protocol": {"type": "string", "enum": _PROTOCOLS_V26},
                "type": {"type": "string", "enum": _TYPES_V26},
            },
            "required": ["protocol", "type"],
            "additionalProperties": False,
        },
    },
    "required": ["remote_console"],
    "additionalProperties": False,
}

# 2.8: VMware's MKS consoles.
CREATE_V28 = copy.deepcopy(CREATE_V26)
CREATE_V28["properties"]["remote_console"]["properties"]["protocol"]["enum"] = (
    _PROTOCOLS_V26 + ["mks"])
CREATE_V28["properties"]["remote_console"]["properties"]["type"]["enum"] = (
    _TYPES_V26 + ["webmks"])

# POST /servers/{server_id}/action {"os-getVNCConsole": {"type": "novnc"}}, 2.1 to 2.5.
GET_VNC_CONSOLE = {
    "type": "object",
    "properties": {
        "os-getVNCConsole": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": ["novnc", "xvpvnc"]},
            },
            "required": ["type"],
            "additionalProperties": False,
        },
    },
    "required": ["os-getVNCConsole"],
    "additionalProperties": False,
}


def create_schema(version):
    return CREATE_V28 if version >= "2.8" else CREATE_V26
