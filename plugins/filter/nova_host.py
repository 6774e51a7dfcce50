"""Filters that decide what the nova role does on a host, so that its vars hold data, not logic.

roles/nova/vars/main.yml keeps nova.conf and the Debian packages as plain data
keyed by *part* (what a host is: controller, compute, libvirt, ...); these
functions say which parts a host has, and which daemons it runs. Unit tests: tests/unit/test_filter_nova_host.py.
"""

# The parts a host can have, in the order their settings are merged into
# nova.conf (a later part wins). common is every host's.
PARTS = ("common", "controller", "compute", "libvirt", "flat_dhcp_controller", "flat_dhcp_compute")


def nova_host_profile(host, groups, hostvars, services, driver, flat_network_dhcp):
    """What nova does on ``host``: a dict of decisions.

    ``groups`` and ``hostvars`` are Ansible's; ``services`` is nova_services
    ({daemon: {group: ...}}); ``driver`` and ``flat_network_dhcp`` are this
    host's nova_compute_driver and nova_flat_network_dhcp.

    controller, compute      the host is in that inventory group
    libvirt                  it is a compute with the libvirt driver
    libvirt_anywhere         this host or any compute host of the inventory uses
                             libvirt (every nova virtualenv then gets the binding)
    flat_dhcp                it is a libvirt compute that serves the flat network
                             (FlatDHCPManager: dnsmasq, the metadata proxy)
    flat_dhcp_anywhere       some host does: the metadata API then trusts only
                             the proxies' signed requests
    parts                    the keys of the role's per-part data that apply, in
                             merge order (PARTS)
    daemons                  the nova daemons this host runs, in nova_services' order
    """
    if not isinstance(flat_network_dhcp, bool):
        raise TypeError(f"flat_network_dhcp must be a boolean (pass nova_flat_network_dhcp | bool), "
                        f"got {flat_network_dhcp!r}")
    computes = groups.get("compute", [])
    controller = host in groups.get("controller", [])
    compute = host in computes
    libvirt = compute and driver == "libvirt"
    # Only what the inventory sets counts for the other hosts (role defaults are
    # not in hostvars): the fake driver is the default.
    libvirt_anywhere = driver == "libvirt" or any(
        hostvars[name].get("nova_compute_driver") == "libvirt" for name in computes)
    flat_dhcp = libvirt and flat_network_dhcp
    flat_dhcp_anywhere = flat_network_dhcp and libvirt_anywhere
    has = {
        "common": True,
        "controller": controller,
        "compute": compute,
        "libvirt": libvirt,
        "flat_dhcp_controller": controller and flat_dhcp_anywhere,
        "flat_dhcp_compute": flat_dhcp,
    }
    return {
        "controller": controller,
        "compute": compute,
        "libvirt": libvirt,
        "libvirt_anywhere": libvirt_anywhere,
        "flat_dhcp": flat_dhcp,
        "flat_dhcp_anywhere": flat_dhcp_anywhere,
        "parts": [part for part in PARTS if has[part]],
        "daemons": nova_host_daemons(services, host, groups),
    }


def nova_host_daemons(services, host, groups):
    """The daemons of ``services`` ({daemon: {group: ...}}) whose group holds ``host``."""
    daemons = []
    for name, service in services.items():
        if not isinstance(service, dict) or "group" not in service:
            raise ValueError(f"nova_services: {name} needs a group (the inventory group that runs it), "
                             f"got {service!r}")
        if host in groups.get(service["group"], []):
            daemons.append(name)
    return daemons


def nova_for_parts(by_part, parts):
    """The values of ``by_part`` ({part: value}) for ``parts``, in the order of ``parts``.

    Parts without a value are left out: ``| combine(recursive=true)`` then
    merges nova.conf's sections, ``| flatten`` joins package lists.
    """
    unknown = set(by_part) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown parts {sorted(unknown)}; the parts are {', '.join(PARTS)}")
    return [by_part[part] for part in parts if part in by_part]


class FilterModule:
    def filters(self):
        return {
            "nova_host_profile": nova_host_profile,
            "nova_for_parts": nova_for_parts,
        }
