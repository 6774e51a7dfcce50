"""[DEFAULT] options of the flat network (nova-network's role, without Neutron).

The names are upstream nova-network's (FlatManager / FlatDHCPManager), so that a
nova.conf written for it keeps its meaning. Each cell keeps the network in its
``networks`` row; the super-conductor's nova.conf is the one that counts, because
it allocates the addresses when it creates an instance in its cell
(nova_runtime/network/flat.py checks that the values fit together).
"""

import ipaddress

from oslo_config import cfg, types

# Each address of fixed_range is a fixed_ips row: a /16 is the largest range.
MIN_PREFIX, MAX_PREFIX = 16, 30
# Upstream nova-network's class paths, kept as the option's values.
FLAT_MANAGER = "nova.network.manager.FlatManager"
FLAT_DHCP_MANAGER = "nova.network.manager.FlatDHCPManager"


class IPv4Network(types.ConfigType):
    """An IPv4 network in CIDR notation (10.0.0.0/24), host bits clear."""

    def __init__(self, type_name="IPv4 network value"):
        super().__init__(type_name=type_name)

    def __call__(self, value):
        if isinstance(value, ipaddress.IPv4Network):
            return value
        try:
            network = ipaddress.IPv4Network(str(value).strip())
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IPv4 network in CIDR notation: {exc}") from None
        if not MIN_PREFIX <= network.prefixlen <= MAX_PREFIX:
            raise ValueError(f"{value}: the prefix must be /{MIN_PREFIX} to /{MAX_PREFIX}")
        return network

    def __repr__(self):
        return "IPv4Network"

    def __eq__(self, other):
        return self.__class__ == other.__class__

    def _formatter(self, value):
        return str(value)


opts = [
    cfg.Opt(
        "fixed_range", type=IPv4Network(), default="10.0.0.0/24",
        help="The flat network's IPv4 range (CIDR, /16 to /30). Every instance gets one "
             "fixed address from it when the super-conductor creates it in its cell; the "
             "address is released when the instance is deleted."),
    cfg.IPOpt(
        "gateway", version=4,
        help="The instances' default gateway; it must lie in fixed_range and is never "
             "given to an instance. Default: the first host address of fixed_range."),
    cfg.IPOpt(
        "flat_network_dhcp_start", version=4,
        help="The first address given to instances; the addresses of fixed_range below "
             "it stay reserved (for hosts, routers, ...). Default: the address after the "
             "gateway."),
    cfg.StrOpt(
        "flat_network_bridge", default="br100",
        help="The Linux bridge on each compute host that instances are plugged into "
             "(the libvirt driver's <interface type='bridge'>)."),
    cfg.StrOpt(
        "flat_interface",
        help="The host's physical interface that belongs to flat_network_bridge, if any. "
             "Kept with the network for the operator's and the driver's information; "
             "nova_runtime does not create bridges or enslave interfaces."),
    cfg.ListOpt(
        "flat_network_dns", item_type=types.IPAddress(4), default=["8.8.4.4"],
        help="DNS servers (at most two) that instances are told about in "
             "network_data.json and the config drive."),
    # --- FlatDHCPManager: the host side on each libvirt compute (network/linux_net.py) ---
    cfg.StrOpt(
        "network_manager", default=FLAT_MANAGER, choices=[FLAT_MANAGER, FLAT_DHCP_MANAGER],
        help="FlatManager: the guest learns its address from network_data.json only. "
             "FlatDHCPManager: each libvirt compute gives flat_network_bridge the gateway "
             "address, runs dnsmasq on it (static leases for its instances) and a metadata "
             "proxy behind 169.254.169.254:80."),
    cfg.StrOpt(
        "networks_path", default="$state_path/networks",
        help="Where a compute keeps the flat network's files: dnsmasq's hosts, leases and "
             "pid files, the metadata proxy's instance table and log."),
    cfg.IntOpt(
        "dhcp_lease_time", default=86400, min=120,
        help="Seconds of a DHCP lease given by the compute's dnsmasq."),
    cfg.HostAddressOpt(
        "metadata_host", default="$my_ip",
        help="The host of the metadata API that the computes' metadata proxies forward to."),
    cfg.PortOpt(
        "metadata_port", default=8775,
        help="The port of the metadata API at metadata_host."),
    cfg.StrOpt(
        "root_helper", default="",
        help="Command prefix for what changes the host's network (ip, iptables, dnsmasq, "
             "dhcp_release, kill), e.g. 'sudo -n' when nova-compute does not run as root."),
    cfg.PortOpt(
        "metadata_proxy_port", default=9697,
        help="The port on the bridge's gateway address where the compute's metadata proxy "
             "listens; guests' 169.254.169.254:80 is sent there (DNAT)."),
]


def register_opts(conf):
    conf.register_opts(opts)


def list_opts():
    return [("DEFAULT", opts)]
