"""/extensions: the v2.0-era extension records, kept for old clients.

v2.1 has no extensions any more (microversions replaced them), but upstream
still answers with one record per feature that used to be an extension.
This list holds only the features this API really serves, so a client that
probes for one finds it only when it works here.
"""

from nova_runtime.api import errors, util
from nova_runtime.policies import extensions as policies

# Every record shares these: v2.1 gave up per-extension namespaces and dates.
_NAMESPACE = "http://docs.openstack.org/compute/ext/fake_xml"
_UPDATED = "2014-12-03T00:00:00Z"

# (alias, name, description) of each feature served by nova_runtime.api.routes
# or by the server views.
EXTENSIONS = (
    ("OS-DCF", "DiskConfig", "The OS-DCF:diskConfig attribute of servers."),
    ("OS-EXT-AZ", "ExtendedAvailabilityZone", "The availability zone of a server."),
    ("OS-EXT-IMG-SIZE", "ImageSize", "The size of an image in the images proxy."),
    ("OS-EXT-IPS", "ExtendedIps", "The type (fixed) of each server address."),
    ("OS-EXT-IPS-MAC", "ExtendedIpsMac", "The MAC address of each server address."),
    ("OS-EXT-SRV-ATTR", "ExtendedServerAttributes", "Host and hypervisor of a server."),
    ("OS-EXT-STS", "ExtendedStatus", "vm_state, task_state and power_state of a server."),
    ("OS-FLV-DISABLED", "FlavorDisabled", "Whether a flavor is disabled."),
    ("OS-FLV-EXT-DATA", "FlavorExtraData", "Ephemeral disk size of a flavor."),
    ("OS-SCH-HNT", "SchedulerHints", "Scheduler hints when a server is created."),
    ("OS-SRV-USG", "ServerUsage", "When a server was launched and terminated."),
    ("os-access-ips", "AccessIPs", "accessIPv4 and accessIPv6 of servers."),
    ("os-aggregates", "Aggregates", "Host aggregates."),
    ("os-availability-zone", "AvailabilityZone", "Availability zones."),
    ("os-config-drive", "ConfigDrive", "Config drives for servers."),
    ("os-console-output", "ConsoleOutput", "The console log of a server."),
    ("os-consoles", "Consoles", "Remote (noVNC) consoles of servers."),
    ("os-flavor-access", "FlavorAccess", "Projects that may use a private flavor."),
    ("os-flavor-extra-specs", "FlavorExtraSpecs", "Extra specs of flavors."),
    ("os-flavor-manage", "FlavorManage", "Creating and deleting flavors."),
    ("os-flavor-rxtx", "FlavorRxtx", "The rxtx_factor of flavors."),
    ("os-flavor-swap", "FlavorSwap", "The swap size of flavors."),
    ("os-hosts", "Hosts", "Hosts and their resources (before microversion 2.43)."),
    ("os-hypervisors", "Hypervisors", "Hypervisors and their resources."),
    ("os-instance-actions", "InstanceActions", "The actions taken on a server."),
    ("os-keypairs", "Keypairs", "SSH key pairs."),
    ("os-multiple-create", "MultipleCreate", "Creating several servers at once."),
    ("os-networks", "Networks", "The flat network (before microversion 2.36)."),
    ("os-pause-server", "PauseServer", "Pausing and unpausing servers."),
    ("os-quota-sets", "Quotas", "Project quotas."),
    ("os-server-groups", "ServerGroups", "Server groups and their policies."),
    ("os-server-start-stop", "ServerStartStop", "Starting and stopping servers."),
    ("os-services", "Services", "Service records: list, enable, disable, delete."),
    ("os-suspend-server", "SuspendServer", "Suspending and resuming servers."),
    ("os-used-limits", "UsedLimits", "Quota usage in the limits."),
    ("os-user-data", "UserData", "User data for servers."),
)


def _record(alias, name, description):
    return {"alias": alias, "name": name, "description": description,
            "namespace": _NAMESPACE, "updated": _UPDATED, "links": []}


def index(req):
    req.context.can(policies.BASE_POLICY_NAME, target={})
    return util.json_response({"extensions": [_record(*row) for row in EXTENSIONS]})


def show(req, alias):
    req.context.can(policies.BASE_POLICY_NAME, target={})
    for row in EXTENSIONS:
        if row[0] == alias:
            return util.json_response({"extension": _record(*row)})
    raise errors.NotFound(f"Extension {alias} could not be found.")
