"""How a server looks in the Compute API: status, addresses, the microversions.

``status(vm_state, task_state)`` is upstream's mapping of the two states to
the one status clients poll (ACTIVE, BUILD, SHUTOFF, REBOOT, RESIZE, ...).
``ServerView(req, ...).show(server, details)`` builds the body of GET
/servers/{id} and of each entry of /servers/detail from an instance dict
(objects.instances columns plus cell_uuid) and what objects.servers.details
read for it; one ServerView serves a whole page.

Update and rebuild answer with fewer attributes than GET until 2.75
(``ServerView(..., action=...)``). Security groups: every interface is on the
flat network, in group "default".

Microversions honoured here (see microversion.py for the whole list):
2.3 more OS-EXT-SRV-ATTR fields for admins, 2.9 locked, 2.16 host_status,
2.19 description, 2.26 tags (objects.servers.details reads them),
2.47 the flavor embedded instead of linked, 2.63 trusted_image_certificates,
2.71 server_groups (show, update, rebuild), 2.73 locked_reason, 2.90
OS-EXT-SRV-ATTR:hostname for everyone, 2.96 pinned_availability_zone, 2.98
the image's properties embedded, 2.100 scheduler_hints.

Addresses: there is no Neutron. Every server's fixed address comes from the
flat network that nova.conf defines; it is shown as a "fixed" address of that
network's label with its interface's MAC, read from instance_extra's
network_info (the flat network's interface list, or upstream's VIF model) or,
when that is empty, from the fixed_ips table.
"""

import hashlib

from nova_runtime.api import util
from nova_runtime.compute.api import SECURITY_GROUPS_KEY, security_groups_of

# vm_state -> {task_state: status}, with the status of "no special task" under None.
_STATUS = {
    "active": {None: "ACTIVE", "rebooting": "REBOOT", "reboot_pending": "REBOOT",
               "reboot_started": "REBOOT", "rebooting_hard": "HARD_REBOOT",
               "reboot_pending_hard": "HARD_REBOOT", "reboot_started_hard": "HARD_REBOOT",
               "updating_password": "PASSWORD", "rebuilding": "REBUILD",
               "rebuild_block_device_mapping": "REBUILD", "rebuild_spawning": "REBUILD",
               "migrating": "MIGRATING", "resize_prep": "RESIZE",
               "resize_migrating": "RESIZE", "resize_migrated": "RESIZE",
               "resize_finish": "RESIZE"},
    "building": {None: "BUILD"},
    "stopped": {None: "SHUTOFF", "resize_prep": "RESIZE", "resize_migrating": "RESIZE",
                "resize_migrated": "RESIZE", "resize_finish": "RESIZE",
                "rebuilding": "REBUILD", "rebuild_block_device_mapping": "REBUILD",
                "rebuild_spawning": "REBUILD"},
    "resized": {None: "VERIFY_RESIZE", "resize_reverting": "REVERT_RESIZE"},
    "paused": {None: "PAUSED", "migrating": "MIGRATING"},
    "suspended": {None: "SUSPENDED"},
    "rescued": {None: "RESCUE"},
    "error": {None: "ERROR", "rebuilding": "REBUILD",
              "rebuild_block_device_mapping": "REBUILD", "rebuild_spawning": "REBUILD"},
    "deleted": {None: "DELETED"},
    "soft-delete": {None: "SOFT_DELETED"},
    "shelved": {None: "SHELVED"},
    "shelved_offloaded": {None: "SHELVED_OFFLOADED"},
}
# Statuses that show a server's progress.
_PROGRESS_STATUSES = ("ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING")


def status(vm_state, task_state):
    """Upstream's status of a server: UNKNOWN for a vm_state it does not know."""
    by_task = _STATUS.get(vm_state)
    if by_task is None:
        return "UNKNOWN"
    return by_task.get(task_state, by_task[None])


def states_of(statuses):
    """(vm_states, task_states) that the ``status`` filter values select, as
    upstream reads them: a status that is some vm_state's default selects
    that vm_state whatever its task (task_states None); otherwise only the
    task states that show as it. Unknown statuses select nothing."""
    wanted = {value.strip().upper() for value in statuses}
    vm_states, task_states, any_task = set(), set(), False
    for vm_state, by_task in _STATUS.items():
        for task_state, shown in by_task.items():
            if shown in wanted:
                vm_states.add(vm_state)
                if task_state is None:
                    any_task = True
                task_states.add(task_state)
    return sorted(vm_states), None if any_task else sorted(task_states)


def timestamp(value):
    """created/updated: 2012-08-20T21:11:09Z."""
    if not value:
        return None
    if value.tzinfo is None:  # as the databases give them; isoformat is 3x strftime's speed
        return value.isoformat(timespec="seconds") + "Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def usage_timestamp(value):
    """launched_at/terminated_at: util.timestamp's 2013-04-18T21:19:08.000000."""
    if not value:
        return None
    if value.tzinfo is None:
        return value.isoformat(timespec="microseconds")
    return util.timestamp(value)


def host_id(project_id, host):
    """A hash of the host, unique per project: lets users see which of their
    servers share a host without learning host names."""
    if not host:
        return ""
    return hashlib.sha224(f"{project_id}{host}".encode()).hexdigest()


def addresses(details, extended=True):
    """{network label: [{"version", "addr", "OS-EXT-IPS:type", "OS-EXT-IPS-MAC:mac_addr"}]};
    without the OS-EXT-IPS keys unless ``extended`` (upstream's update and
    rebuild answers before 2.75)."""
    shown = _addresses(details)
    if not extended:
        shown = {label: [{"version": ip["version"], "addr": ip["addr"]} for ip in ips]
                 for label, ips in shown.items()}
    return shown


def _addresses(details):
    shown = {}
    for vif in details.get("network_info") or []:
        if "fixed_ip" in vif:  # the flat network's form (objects.fixed_ips.network_info)
            if vif["fixed_ip"]:
                shown.setdefault(vif.get("label") or "private", []).append({
                    "version": 6 if ":" in vif["fixed_ip"] else 4, "addr": vif["fixed_ip"],
                    "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": vif.get("address")})
            continue
        network = vif.get("network") or {}
        label = network.get("label") or "private"
        for subnet in network.get("subnets") or []:
            for ip in subnet.get("ips") or []:
                shown.setdefault(label, []).append({
                    "version": ip.get("version") or (6 if ":" in ip["address"] else 4),
                    "addr": ip["address"], "OS-EXT-IPS:type": ip.get("type", "fixed"),
                    "OS-EXT-IPS-MAC:mac_addr": vif.get("address")})
                for floating in ip.get("floating_ips") or []:
                    shown[label].append({
                        "version": floating.get("version", 4), "addr": floating["address"],
                        "OS-EXT-IPS:type": "floating",
                        "OS-EXT-IPS-MAC:mac_addr": vif.get("address")})
    if not shown:
        for fixed in details.get("fixed_ips") or []:
            shown.setdefault(fixed["network"] or "private", []).append({
                "version": 6 if ":" in fixed["address"] else 4, "addr": fixed["address"],
                "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": None})
    return shown


# System metadata image_* keys that record the image itself, not its properties.
IMAGE_BASE_KEYS = ("image_base_image_ref", "image_min_ram", "image_min_disk",
                   "image_disk_format", "image_container_format")


def image_properties(system_metadata):
    """The image properties kept with the instance (system metadata image_*)."""
    return {key[len("image_"):]: value for key, value in system_metadata.items()
            if key.startswith("image_") and key not in IMAGE_BASE_KEYS}


def fault(instance, details, admin):
    found = details.get("fault")
    if not found:
        return None
    body = {"code": found["code"], "created": timestamp(found["created_at"]),
            "message": found["message"]}
    # Details can hold a traceback: only admins see those of internal errors.
    if found.get("details") and (admin or found["code"] != 500):
        body["details"] = found["details"]
    return body


# The instances columns that ServerView.show may read (the flavor view falls
# back on memory_mb, vcpus, root_gb and ephemeral_gb; ServerView.columns are
# those of one request), and those that summary reads: a page is read with
# these only (objects.instances.query adds the sort keys).
COLUMNS = ("id", "uuid", "display_name", "display_description", "project_id", "user_id",
           "host", "node", "hostname", "image_ref", "kernel_id", "ramdisk_id", "vm_state",
           "task_state", "power_state", "progress", "availability_zone", "config_drive",
           "key_name", "access_ip_v4", "access_ip_v6", "reservation_id", "launch_index",
           "user_data", "locked", "memory_mb", "vcpus", "root_gb", "ephemeral_gb",
           "created_at", "updated_at", "launched_at", "terminated_at")
SUMMARY_COLUMNS = ("uuid", "display_name")
# Those only admins see, from 2.3 (user_data can be tens of KiB per server).
_EXTENDED_COLUMNS = ("reservation_id", "launch_index", "kernel_id", "ramdisk_id", "user_data")


class ServerView:
    """The full view of servers for one request. What the microversion and
    the caller's rights show is worked out once, not once per server: a
    page of /servers/detail holds up to [api] max_limit servers.

    ``admin_attributes``: the caller may see OS-EXT-SRV-ATTR;
    ``host_status``: may see 2.16 host_status; ``show_extra_specs``: the
    flavor's extra specs (2.47); ``server_groups``: the group uuids for 2.71
    (show, update and rebuild only).

    ``action``: "update" or "rebuild" for the answers of PUT /servers/{id}
    and of the rebuild action. Before 2.75 upstream shows there only the
    common attributes (no OS-EXT-*, config_drive, key_name, security groups
    or extended addresses), with key_name in rebuild's from 2.54; from 2.75
    they show what GET does, except that rebuild's user_data is its own
    ``user_data`` attribute (2.57, which the rebuild handler adds)."""

    def __init__(self, req, *, admin_attributes, show_extra_specs, host_status,
                 server_groups=None, action=None):
        version = req.version
        self.full = action is None or version >= "2.75"
        self.key_name = self.full or (action == "rebuild" and version >= "2.54")
        self.user_data_attribute = action != "rebuild"
        self.base = util.base_url(req)
        # The links' prefixes, made once for the page.
        self._self_prefix = f"{self.base}/v2.1/servers/"
        self._bookmark_prefix = f"{self.base}/servers/"
        self._image_prefix = f"{self.base}/images/"
        self._flavor_prefix = f"{self.base}/flavors/"
        self.admin_attributes = admin_attributes and self.full
        self.show_extra_specs = show_extra_specs
        self.server_groups = server_groups
        # Each microversion that changes the view, compared once.
        self.extended_attributes = version >= "2.3"  # more OS-EXT-SRV-ATTR for admins
        self.locked = version >= "2.9"
        self.host_status = version >= "2.16" and host_status and self.full
        self.description = version >= "2.19"
        self.tags = version >= "2.26"
        self.embedded_flavor = version >= "2.47"
        self.image_certificates = version >= "2.63"
        self.groups = version >= "2.71" and server_groups is not None
        self.locked_reason = version >= "2.73"
        self.hostname = version >= "2.90"
        self.pinned_zone = version >= "2.96"
        self.image_properties = version >= "2.98"
        self.hints = version >= "2.100"
        self._host_ids = {}  # (project, host) -> hostId: a page has few of them

    @property
    def system_keys(self):
        """The system metadata keys this view shows (objects.servers.details)."""
        return ((SECURITY_GROUPS_KEY,) if self.full else ()) + \
            (("locked_reason",) if self.locked_reason else ())

    @property
    def columns(self):
        """The instances columns that this view reads."""
        if self.admin_attributes and self.extended_attributes:
            return COLUMNS
        return tuple(name for name in COLUMNS if name not in _EXTENDED_COLUMNS)

    def host_id(self, project_id, host):
        key = (project_id, host)
        if key not in self._host_ids:
            self._host_ids[key] = host_id(project_id, host)
        return self._host_ids[key]

    def links(self, uuid):
        return [{"rel": "self", "href": f"{self._self_prefix}{uuid}"},
                {"rel": "bookmark", "href": f"{self._bookmark_prefix}{uuid}"}]

    def flavor(self, instance, details):
        current = details.get("flavor") or {}
        if not self.embedded_flavor:
            flavorid = current.get("flavorid") or ""
            return {"id": flavorid, "links": [
                {"rel": "bookmark", "href": f"{self._flavor_prefix}{flavorid}"}]}
        body = {"vcpus": current.get("vcpus", instance.get("vcpus")),
                "ram": current.get("memory_mb", instance.get("memory_mb")),
                "disk": current.get("root_gb", instance.get("root_gb")),
                "ephemeral": current.get("ephemeral_gb", instance.get("ephemeral_gb")),
                "swap": current.get("swap") or 0,
                "original_name": current.get("name")}
        if self.show_extra_specs:
            body["extra_specs"] = dict(current.get("extra_specs") or {})
        return body

    def image(self, instance, details):
        image_ref = instance.get("image_ref")
        if not image_ref:
            return ""  # booted from a volume, as upstream shows it
        body = {"id": image_ref, "links": [
            {"rel": "bookmark", "href": f"{self._image_prefix}{image_ref}"}]}
        if self.image_properties:
            # objects.servers.details read them (image_* system metadata, unprefixed).
            body["properties"] = dict(details.get("image_properties") or {})
        return body

    def show(self, instance, details):
        """The full view of one server (an instance dict and what
        objects.servers.details read for it)."""
        get = instance.get
        project_id = instance["project_id"]
        shown_status = status(instance["vm_state"], instance["task_state"])
        body = {
            "id": instance["uuid"],
            "name": get("display_name") or "",
            "status": shown_status,
            "tenant_id": project_id,
            "user_id": instance["user_id"],
            "metadata": dict(details.get("metadata") or {}),
            "hostId": self.host_id(project_id, get("host")),
            "image": self.image(instance, details),
            "flavor": self.flavor(instance, details),
            "created": timestamp(get("created_at")),
            "updated": timestamp(get("updated_at") or get("created_at")),
            "addresses": addresses(details, extended=self.full),
            "accessIPv4": get("access_ip_v4") or "",
            "accessIPv6": get("access_ip_v6") or "",
            "links": self.links(instance["uuid"]),
            "OS-DCF:diskConfig": "MANUAL",
        }
        if self.full:
            body.update({
                "OS-EXT-AZ:availability_zone": get("availability_zone") or "",
                "config_drive": get("config_drive") or "",
                "OS-SRV-USG:launched_at": usage_timestamp(get("launched_at")),
                "OS-SRV-USG:terminated_at": usage_timestamp(get("terminated_at")),
                "OS-EXT-STS:task_state": get("task_state"),
                "OS-EXT-STS:vm_state": get("vm_state"),
                "OS-EXT-STS:power_state": get("power_state") or 0,
                "os-extended-volumes:volumes_attached": [],
            })
            groups = security_groups_of(details.get("system", {}))
            if body["addresses"] and groups:
                # Upstream lists the security groups of the server's ports; here
                # every interface is on the flat network, in group "default"
                # (the only one) unless removeSecurityGroup took it out, and a
                # server without an interface yet has none.
                body["security_groups"] = [{"name": name} for name in groups]
        if self.key_name:
            body["key_name"] = get("key_name")
        if shown_status in _PROGRESS_STATUSES:
            body["progress"] = get("progress") or 0
        if self.admin_attributes:
            body["OS-EXT-SRV-ATTR:host"] = get("host")
            body["OS-EXT-SRV-ATTR:hypervisor_hostname"] = get("node")
            body["OS-EXT-SRV-ATTR:instance_name"] = (
                f"instance-{instance['id']:08x}" if get("id") else "")
            if self.extended_attributes:
                body.update({
                    "OS-EXT-SRV-ATTR:reservation_id": get("reservation_id"),
                    "OS-EXT-SRV-ATTR:launch_index": get("launch_index"),
                    "OS-EXT-SRV-ATTR:hostname": get("hostname"),
                    "OS-EXT-SRV-ATTR:kernel_id": get("kernel_id") or "",
                    "OS-EXT-SRV-ATTR:ramdisk_id": get("ramdisk_id") or "",
                    "OS-EXT-SRV-ATTR:root_device_name": None,
                })
                if self.user_data_attribute:
                    body["OS-EXT-SRV-ATTR:user_data"] = get("user_data")
        if self.hostname:
            body["OS-EXT-SRV-ATTR:hostname"] = get("hostname")
        if shown_status in ("ERROR", "DELETED"):
            shown_fault = fault(instance, details, self.admin_attributes)
            if shown_fault:
                body["fault"] = shown_fault
        if self.locked:
            body["locked"] = bool(get("locked"))
        if self.host_status:
            body["host_status"] = details.get("host_status", "")
        if self.description:
            body["description"] = get("display_description")
        if self.tags:
            body["tags"] = list(details.get("tags") or ())
        if self.image_certificates:
            body["trusted_image_certificates"] = None
        if self.groups:
            body["server_groups"] = list(self.server_groups)
        if self.locked_reason:
            body["locked_reason"] = details.get("system", {}).get("locked_reason")
        spec = details.get("request_spec") or {}
        if self.pinned_zone:
            body["pinned_availability_zone"] = spec.get("availability_zone")
        if self.hints:
            body["scheduler_hints"] = _hints(spec)
        return body


# Hints that take one value: shown as that value (Tempest's 2.100 schema), the
# others as lists.
_SINGLE_VALUED_HINTS = ("group", "target_cell", "build_near_host_ip", "cidr", "query")


def _hints(spec):
    """The scheduler hints the server was created with (2.100)."""
    hints = {}
    for key, value in (spec.get("scheduler_hints") or {}).items():
        values = value if isinstance(value, list) else [value]
        hints[key] = values[0] if key in _SINGLE_VALUED_HINTS and len(values) == 1 else values
    return hints


def summary(req, instance):
    """An entry of GET /servers."""
    return {"id": instance["uuid"], "name": instance.get("display_name") or "",
            "links": util.links(req, "servers", instance["uuid"])}
