"""The flat network as nova.conf describes it, checked as a whole.

The options (nova_runtime/conf/network.py) are each valid on their own; here
they must also fit together: the gateway and the first address lie in
fixed_range, and at least one address is left for instances. Which address is
what:

    network address, gateway, addresses below flat_network_dhcp_start,
    broadcast address                         -> reserved: never given out
    flat_network_dhcp_start .. broadcast - 1  -> given to instances, lowest first
"""

import dataclasses
import ipaddress

from nova_runtime.network.exceptions import NetworkConfigError

# The label under which the network is kept (networks.label) and shown in a
# server's addresses; devstack's nova-network used the same.
LABEL = "private"
MAX_DNS = 2  # networks.dns1 and dns2


@dataclasses.dataclass(frozen=True)
class FlatNetwork:
    label: str
    cidr: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address
    dhcp_start: ipaddress.IPv4Address
    bridge: str
    bridge_interface: str | None
    dns: tuple[str, ...]

    @property
    def netmask(self):
        return str(self.cidr.netmask)

    @property
    def broadcast(self):
        return str(self.cidr.broadcast_address)

    def is_reserved(self, address):
        address = ipaddress.IPv4Address(address)
        return (address == self.gateway or address < self.dhcp_start
                or address in (self.cidr.network_address, self.cidr.broadcast_address))

    def instance_addresses(self):
        """How many addresses instances can get: dhcp_start up to the one
        before the broadcast address, the gateway aside. Counted, not listed:
        the conductor checks the options before every allocation."""
        first, last = int(self.dhcp_start), int(self.cidr.broadcast_address) - 1
        count = max(last - first + 1, 0)
        return count - 1 if first <= int(self.gateway) <= last else count

    def addresses(self):
        """[(address, reserved)] for every address of the range, in order."""
        return [(str(address), self.is_reserved(address)) for address in self.cidr]

    def columns(self):
        """The networks row's columns (uuid and id aside)."""
        dns = list(self.dns) + [None] * (MAX_DNS - len(self.dns))
        return {"label": self.label, "cidr": str(self.cidr), "netmask": self.netmask,
                "broadcast": self.broadcast, "gateway": str(self.gateway),
                "dhcp_start": str(self.dhcp_start), "bridge": self.bridge,
                "bridge_interface": self.bridge_interface, "dns1": dns[0], "dns2": dns[1]}


def from_conf(conf):
    """The FlatNetwork of a loaded ConfigOpts; NetworkConfigError names the
    option that does not fit."""
    cidr = conf.fixed_range
    hosts = (cidr.network_address + 1, cidr.broadcast_address - 1)
    gateway = ipaddress.IPv4Address(conf.gateway) if conf.gateway else hosts[0]
    if not hosts[0] <= gateway <= hosts[1]:
        raise NetworkConfigError(
            f"[DEFAULT] gateway {gateway} is not a host address of fixed_range {cidr}")
    if conf.flat_network_dhcp_start:
        dhcp_start = ipaddress.IPv4Address(conf.flat_network_dhcp_start)
    else:
        dhcp_start = gateway + 1 if gateway < hosts[1] else hosts[0]
    if not hosts[0] <= dhcp_start <= hosts[1]:
        raise NetworkConfigError(
            f"[DEFAULT] flat_network_dhcp_start {dhcp_start} is not a host address of "
            f"fixed_range {cidr}")
    if len(conf.flat_network_dns) > MAX_DNS:
        raise NetworkConfigError(
            f"[DEFAULT] flat_network_dns lists {len(conf.flat_network_dns)} servers; "
            f"at most {MAX_DNS} are kept")
    network = FlatNetwork(
        label=LABEL, cidr=cidr, gateway=gateway, dhcp_start=dhcp_start,
        bridge=conf.flat_network_bridge, bridge_interface=conf.flat_interface,
        dns=tuple(str(server) for server in conf.flat_network_dns))
    if network.instance_addresses() < 1:
        raise NetworkConfigError(
            f"[DEFAULT] fixed_range {cidr} leaves no address for instances between "
            f"flat_network_dhcp_start {dhcp_start} and the broadcast address "
            f"(gateway {gateway})")
    return network
