"""dnsmasq on the flat bridge: static leases for this host's instances.

One dnsmasq per bridge, as nova-network's FlatDHCPManager ran it. It gives an
address only to a MAC listed in its hosts file (``--dhcp-range=...,static``),
tells the guest that the bridge's address is its router and DNS server, and
answers DNS only from what it knows itself (the instances' names): it has no
upstream server (``--no-resolv``), so nothing is forwarded off the host.

The hosts file is rewritten and dnsmasq sent SIGHUP when an instance comes or
goes; SIGHUP does not forget leases, so a deleted instance's lease is
released with ``dhcp_release`` (Debian's dnsmasq-utils), or its address would
stay bound to the old MAC when the conductor gives it to a new instance.
"""

import dataclasses
import ipaddress
import os
import re
import signal

# What dnsmasq accepts as a host name: no commas (the file's separator), no dots
# (the domain is added by dnsmasq).
_HOSTNAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


@dataclasses.dataclass(frozen=True)
class Host:
    """One static lease: the instance's MAC, fixed address and host name."""
    mac: str
    address: str
    hostname: str | None = None


@dataclasses.dataclass(frozen=True)
class Paths:
    """dnsmasq's files for one bridge under [DEFAULT] networks_path."""
    directory: str
    bridge: str

    def _file(self, suffix):
        return os.path.join(self.directory, f"nova-{self.bridge}.{suffix}")

    @property
    def hosts(self):
        return self._file("hosts")

    @property
    def leases(self):
        return self._file("leases")

    @property
    def pid(self):
        return self._file("pid")

    @property
    def log(self):
        return self._file("log")


def hosts_file(hosts):
    """The --dhcp-hostsfile content: ``MAC,address[,hostname]`` per line,
    sorted so that an unchanged set writes the same bytes (no reload)."""
    lines = []
    for host in sorted(hosts, key=lambda h: (ipaddress.ip_address(h.address), h.mac.lower())):
        fields = [host.mac.lower(), host.address]
        if host.hostname and _HOSTNAME.match(host.hostname):
            fields.append(host.hostname)
        lines.append(",".join(fields))
    return "".join(line + "\n" for line in lines)


def command(network, paths, lease_time, domain=None, user=None, group=None):
    """dnsmasq's command line for ``network`` (a network.flat.FlatNetwork).
    ``user``/``group``: whom dnsmasq becomes once it has bound its sockets
    (the owner of networks_path, so that it reads the hosts file that
    nova-compute writes and keeps its lease file there)."""
    gateway = str(network.gateway)
    argv = [
        "dnsmasq",
        "--conf-file=/dev/null",  # Debian's /etc/dnsmasq.conf and conf-dir stay out
        "--no-hosts",
        "--no-resolv",            # no upstream DNS server: names are answered locally only
        "--strict-order",
        "--bind-interfaces",
        f"--interface={network.bridge}",
        "--except-interface=lo",
        f"--listen-address={gateway}",
        f"--dhcp-range={network.dhcp_start},static,{network.netmask},{lease_time}s",
        f"--dhcp-hostsfile={paths.hosts}",
        f"--dhcp-leasefile={paths.leases}",
        f"--dhcp-option=option:router,{gateway}",
        f"--dhcp-option=option:dns-server,{gateway}",
        f"--pid-file={paths.pid}",
        f"--log-facility={paths.log}",  # each DHCP exchange, for the operator
        "--dhcp-authoritative",   # answer a guest that asks for an address it held before
    ]
    if user:
        argv.append(f"--user={user}")
    if group:
        argv.append(f"--group={group}")
    if domain:
        argv += [f"--domain={domain}", "--local=/" + domain + "/"]
    return argv


def release_command(bridge, host):
    """dhcp_release's command line: dnsmasq drops the lease of ``host`` at once."""
    return ["dhcp_release", bridge, host.address, host.mac.lower()]


def leases(paths):
    """[(mac, address)] of the lease file (empty when there is none)."""
    try:
        with open(paths.leases, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    # expiry MAC address hostname client-id
    return [(fields[1], fields[2]) for fields in (line.split() for line in lines)
            if len(fields) >= 3]


def running_pid(pid_file, program="dnsmasq"):
    """The pid in ``pid_file`` if that process is alive and runs ``program``."""
    try:
        with open(pid_file, encoding="utf-8") as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return pid if runs(pid, program) else None


def runs(pid, program):
    """Whether process ``pid`` lives and runs ``program`` (a reused pid runs
    something else, and a zombie has an empty command line: neither is
    ``program``, so neither is ever signalled)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().decode(errors="replace").split("\0")
    except OSError:
        return False
    return any(arg == program or arg.endswith(("/" + program, "." + program))
               for arg in cmdline[:3])


def signal_command(pid, signum):
    """kill's command line: dnsmasq runs as root, nova-compute may not, so
    signals go through the same root helper as the other commands."""
    return ["kill", f"-{signal.Signals(signum).name.removeprefix('SIG')}", str(pid)]
