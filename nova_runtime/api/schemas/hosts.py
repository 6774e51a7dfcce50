"""The body of PUT /os-hosts/{host_name}: at least one of ``status`` and
``maintenance_mode``, each "enable" or "disable" (all lower, Capitalised or
all upper case, as upstream accepts)."""

_SWITCH = {"type": "string",
           "enum": ["enable", "disable", "Enable", "Disable", "ENABLE", "DISABLE"]}

UPDATE = {
    "type": "object",
    "properties": {"status": _SWITCH, "maintenance_mode": _SWITCH},
    "anyOf": [{"required": ["status"]}, {"required": ["maintenance_mode"]}],
    "additionalProperties": False,
}

# ?zone=NAME; other parameters are ignored, as upstream keeps them allowed.
INDEX_QUERY = {
    "type": "object",
    "properties": {"zone": {"type": "string"}},
    "additionalProperties": True,
}
