"""Request schemas of /os-quota-sets; the names accepted depend on the microversion."""

from nova_runtime.api import validation
from nova_runtime.objects import quotas


def update_schema(version):
    properties = {name: validation.QUOTA_LIMIT for name in quotas.resources_for(version)}
    properties["force"] = validation.BOOLEAN
    return {
        "type": "object",
        "properties": {
            "quota_set": {
                "type": "object",
                "properties": properties,
                "additionalProperties": False,
            },
        },
        "required": ["quota_set"],
        "additionalProperties": False,
    }


QUERY = {
    "type": "object",
    "properties": {"user_id": {"type": "string", "minLength": 1, "maxLength": 255}},
    "additionalProperties": True,
}
