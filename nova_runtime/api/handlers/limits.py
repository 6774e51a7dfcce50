"""/limits: the caller's (or, for admins, ?tenant_id=) absolute limits and usage."""

from nova_runtime.api import util
from nova_runtime.objects import quotas
from nova_runtime.policies import limits as policies

# absolute limit name -> quota resource
_MAX = {
    "maxImageMeta": "metadata_items",
    "maxPersonality": "injected_files",
    "maxPersonalitySize": "injected_file_content_bytes",
    "maxSecurityGroupRules": "security_group_rules",
    "maxSecurityGroups": "security_groups",
    "maxServerGroupMembers": "server_group_members",
    "maxServerGroups": "server_groups",
    "maxServerMeta": "metadata_items",
    "maxTotalCores": "cores",
    "maxTotalFloatingIps": "floating_ips",
    "maxTotalInstances": "instances",
    "maxTotalKeypairs": "key_pairs",
    "maxTotalRAMSize": "ram",
}
_USED = {
    "totalCoresUsed": "cores",
    "totalFloatingIpsUsed": "floating_ips",
    "totalInstancesUsed": "instances",
    "totalRAMUsed": "ram",
    "totalSecurityGroupsUsed": "security_groups",
    "totalServerGroupsUsed": "server_groups",
}
_NETWORK_2_36 = ("maxSecurityGroupRules", "maxSecurityGroups", "maxTotalFloatingIps",
                 "totalFloatingIpsUsed", "totalSecurityGroupsUsed")


def _shown(version, name):
    if version >= "2.36" and name in _NETWORK_2_36:
        return False
    if version >= "2.39" and name == "maxImageMeta":
        return False
    if version >= "2.57" and name in ("maxPersonality", "maxPersonalitySize"):
        return False
    return True


def index(req):
    context = req.context
    req.context.can(policies.BASE, target={"project_id": context.project_id})
    project_id = req.GET.get("tenant_id") or context.project_id
    if project_id != context.project_id:
        context.can(policies.OTHER_PROJECT, target={"project_id": project_id})
    values = quotas.limits(req.db.api_url, req.conf, project_id, resources=quotas.ALL_RESOURCES)
    in_use = quotas.usage(req.db, project_id)
    absolute = {name: values[resource] for name, resource in _MAX.items()
                if _shown(req.version, name)}
    absolute.update({name: in_use.get(resource, 0) for name, resource in _USED.items()
                     if _shown(req.version, name)})
    return util.json_response({"limits": {"rate": [], "absolute": absolute}})
