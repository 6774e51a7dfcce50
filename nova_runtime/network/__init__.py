"""Networking without Neutron: one flat network per cell, defined in nova.conf.

The role nova-network's FlatManager played: every instance gets one fixed IPv4
address from ``[DEFAULT] fixed_range`` and a MAC address, on the bridge
``flat_network_bridge`` of its compute host; the guest learns them from the
metadata API's or the config drive's network_data.json, and with
``[DEFAULT] network_manager = nova.network.manager.FlatDHCPManager`` also by
DHCP on a libvirt compute. ``flat`` checks the options as a whole, ``api`` is
what the conductor and the compute call, and objects.fixed_ips keeps the
records. The host side of a libvirt compute: ``linux_net`` (the bridge's
gateway address, ``dhcp``'s dnsmasq, ``metadata_proxy`` behind ``firewall``'s
DNAT rule).
"""
