"""Request schema of PUT /os-quota-class-sets/{id}: the names accepted
depend on the microversion (network quotas until 2.49, personality files
until 2.56; the server group quotas in every one)."""

from nova_runtime.api import validation
from nova_runtime.objects import quotas


def update_schema(version):
    names = set(quotas.RESOURCES)
    if version >= "2.50":
        names -= set(quotas.LEGACY_NETWORK)
    if version >= "2.57":
        names -= set(quotas.PERSONALITY)
    return {
        "type": "object",
        "properties": {
            "quota_class_set": {
                "type": "object",
                "properties": {name: validation.QUOTA_LIMIT for name in sorted(names)},
                "additionalProperties": False,
            },
        },
        "required": ["quota_class_set"],
        "additionalProperties": False,
    }
