"""The flat network on a compute host, as nova-network's FlatDHCPManager set it up.

For ``[DEFAULT] flat_network_bridge`` (which the nova role creates):

- the bridge gets the gateway address of ``fixed_range`` (``[DEFAULT] gateway``,
  else its first host address): the guests' router, DHCP and DNS server;
- one dnsmasq (network/dhcp.py) with a static lease per instance on this host;
- one metadata proxy (network/metadata_proxy.py) on the gateway address, and a
  DNAT rule from 169.254.169.254:80 to it (network/firewall.py).

Why a proxy rather than DNAT to a metadata API on the compute: a metadata API
reads the cell and API databases, and a compute never reaches a database (it
goes through the conductor); DNAT straight to the controller's metadata API
would need the controller to route fixed_range back through this compute. The
proxy needs neither: it knows which instance asks from this host's own table
(fixed address -> instance), signs the instance id with
``[neutron] metadata_proxy_shared_secret`` and forwards to
``[DEFAULT] metadata_host:metadata_port`` over the management network, where
the metadata API runs with ``[neutron] service_metadata_proxy = true``.

Why this lives in network/ and not in virt/libvirt/: nothing here speaks to
libvirt. It is the host side of the flat network (what nova-network's
linux_net.py was), built from the same network.flat description that the
conductor allocates from; the libvirt driver calls it when it plugs and
unplugs an instance's interfaces, and the fake driver never does.

What it knows survives nova-compute restarts and host reboots in
``[DEFAULT] networks_path``: ``nova-<bridge>.instances.json`` (the instances
plugged here, their MACs, addresses and host names), from which the dnsmasq
hosts file and the proxy's table are written. Every step checks before it
acts, so each call is idempotent; ``teardown`` undoes all of them.
"""

import contextlib
import ipaddress
import grp
import json
import logging
import os
import pwd
import shlex
import signal
import subprocess
import sys
import threading
import time

from nova_runtime.network import dhcp, firewall, flat
from nova_runtime.network.metadata_proxy import SECRET_VARIABLE

LOG = logging.getLogger(__name__)

_STOP_SECONDS = 10
_START_SECONDS = 10


class FlatHostError(Exception):
    pass


class FlatHost:
    """The flat bridge of this host. Commands that change the host's network
    run behind ``[DEFAULT] root_helper`` (e.g. ``sudo -n``: nova-compute runs
    as nova); ``netns`` runs everything, the proxy too, in that network
    namespace (the tests')."""

    def __init__(self, conf, netns=None):
        self.network = flat.from_conf(conf)
        self.bridge = self.network.bridge
        self.paths = dhcp.Paths(conf.networks_path, self.bridge)
        self.lease_time = conf.dhcp_lease_time
        self.domain = conf.api.dhcp_domain
        self.proxy_port = conf.metadata_proxy_port
        self.upstream = f"http://{_url_host(conf.metadata_host)}:{conf.metadata_port}"
        self.secret = conf.neutron.metadata_proxy_shared_secret
        self.netns = ["ip", "netns", "exec", netns] if netns else []
        self.prefix = shlex.split(conf.root_helper or "") + self.netns
        self.iptables = firewall.Iptables(self.prefix)
        self._lock = threading.Lock()
        self._proxy = None  # the Popen of a proxy this process started (to reap it)

    # --- files ------------------------------------------------------------------------

    def _file(self, suffix):
        return os.path.join(self.paths.directory, f"nova-{self.bridge}.{suffix}")

    @property
    def state_file(self):
        return self._file("instances.json")

    @property
    def proxy_table(self):
        return self._file("metadata.json")

    @property
    def proxy_pid_file(self):
        return self._file("proxy.pid")

    def instances(self):
        """{instance uuid: {"project_id", "hosts": [{"mac", "address", "hostname"}]}}."""
        try:
            with open(self.state_file, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def hosts(self, instances=None):
        instances = self.instances() if instances is None else instances
        return [dhcp.Host(**host) for entry in instances.values() for host in entry["hosts"]]

    # --- what the driver calls ----------------------------------------------------------

    def plug(self, instance, network_info):
        """Serve the instance's interfaces on this bridge (DHCP, metadata)."""
        hosts = [{"mac": vif["address"].lower(), "address": vif["fixed_ip"],
                  "hostname": instance.get("hostname")}
                 for vif in network_info or [] if vif.get("bridge") == self.bridge]
        skipped = len(network_info or []) - len(hosts)
        if skipped:
            LOG.warning("Instance %s: %d interface(s) not on bridge %s get no DHCP here",
                        instance["uuid"], skipped, self.bridge)
        with self._lock:
            state = self.instances()
            released = []
            if hosts:
                # The conductor gave these addresses and MACs to this instance: an
                # entry of another that still holds one is stale (its delete was
                # missed) and would hand the address to the wrong MAC.
                taken = {h["address"] for h in hosts} | {h["mac"] for h in hosts}
                for uuid, entry in list(state.items()):
                    if uuid != instance["uuid"] and any(
                            h["address"] in taken or h["mac"] in taken for h in entry["hosts"]):
                        released += self.hosts({uuid: state.pop(uuid)})
                state[instance["uuid"]] = {"project_id": instance.get("project_id"),
                                           "hosts": hosts}
            self._apply(state, released)

    def unplug(self, instance_uuid):
        """Forget the instance: its lease is released, its name and table entry gone."""
        with self._lock:
            state = self.instances()
            gone = state.pop(instance_uuid, None)
            if gone is None:
                return  # never plugged here (e.g. a build that failed before it)
            self._apply(state, released=[dhcp.Host(**host) for host in gone["hosts"]])

    def sync(self, live_uuids):
        """At nova-compute start: bring everything up again (after a host reboot
        nothing runs and the bridge has no address) and forget instances whose
        domains are gone."""
        with self._lock:
            state = self.instances()
            stale = [uuid for uuid in state if uuid not in set(live_uuids)]
            released = [host for uuid in stale for host in self.hosts({uuid: state.pop(uuid)})]
            self._apply(state, released)
            if stale:
                LOG.info("Bridge %s: forgot %d instance(s) without a domain here: %s",
                         self.bridge, len(stale), ", ".join(stale))

    def teardown(self):
        """Undo everything: proxy and dnsmasq stopped, rules and the gateway
        address removed, files deleted. The bridge itself stays (the role's)."""
        with self._lock:
            self._stop(self.proxy_pid_file, "metadata_proxy")
            self._stop(self.paths.pid, "dnsmasq")
            self.iptables.remove_tagged(self.bridge)
            if self._bridge_exists() and self._has_gateway():
                self._ip("addr", "del", self._gateway_cidr(), "dev", self.bridge)
            for path in (self.paths.hosts, self.paths.leases, self.paths.pid, self.paths.log,
                         self.state_file, self.proxy_table, self.proxy_pid_file,
                         self._file("proxy.log")):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
            with contextlib.suppress(OSError):
                os.rmdir(self.paths.directory)  # only if nothing else is there

    # --- the steps ------------------------------------------------------------------------

    def _apply(self, state, released):
        os.makedirs(self.paths.directory, exist_ok=True)
        self._ensure_gateway()
        _write(self.state_file, json.dumps(state, indent=1, sort_keys=True) + "\n")
        _write(self.proxy_table, json.dumps(
            {host["address"]: {"uuid": uuid, "project_id": entry["project_id"]}
             for uuid, entry in state.items() for host in entry["hosts"]}, sort_keys=True))
        changed = _write(self.paths.hosts, dhcp.hosts_file(self.hosts(state)))
        pid = dhcp.running_pid(self.paths.pid)
        if pid is None:
            self._start_dnsmasq()
        elif changed:
            self._run(*dhcp.signal_command(pid, signal.SIGHUP))  # re-reads the hosts file
        for host in released:
            # Tolerated to fail: dnsmasq may hold no lease for it (never asked).
            self._run(*dhcp.release_command(self.bridge, host), check=False)
        self._ensure_proxy()
        self.iptables.ensure(firewall.rules(self.bridge, self.network.gateway, self.proxy_port))

    def _gateway_cidr(self):
        return f"{self.network.gateway}/{self.network.cidr.prefixlen}"

    def _bridge_exists(self):
        return self._ip("link", "show", "dev", self.bridge, check=False).returncode == 0

    def _has_gateway(self):
        out = self._ip("-o", "-4", "addr", "show", "dev", self.bridge).stdout
        return any(ipaddress.IPv4Interface(word) == ipaddress.IPv4Interface(self._gateway_cidr())
                   for line in out.splitlines() for word in line.split()[3:4])

    def _ensure_gateway(self):
        if not self._bridge_exists():
            raise FlatHostError(f"bridge {self.bridge} ([DEFAULT] flat_network_bridge) does not "
                                "exist on this host: the nova role creates it")
        if not self._has_gateway():
            self._ip("addr", "add", self._gateway_cidr(), "brd", "+", "dev", self.bridge)
        self._ip("link", "set", "dev", self.bridge, "up")

    def _start_dnsmasq(self):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.paths.pid)
        # dnsmasq forks; the parent exits once it listens, non-zero if it cannot.
        owner = os.stat(self.paths.directory)
        self._run(*dhcp.command(self.network, self.paths, self.lease_time, self.domain,
                                user=pwd.getpwuid(owner.st_uid).pw_name,
                                group=grp.getgrgid(owner.st_gid).gr_name))
        LOG.info("dnsmasq serves bridge %s (%s)", self.bridge, self.network.gateway)

    def _ensure_proxy(self):
        if dhcp.running_pid(self.proxy_pid_file, "metadata_proxy") is not None:
            return
        log = open(self._file("proxy.log"), "ab")  # noqa: SIM115 (the child keeps it)
        try:
            self._proxy = subprocess.Popen(
                # Not behind the root helper: the proxy needs no privilege.
                [*self.netns, sys.executable, "-m", "nova_runtime.network.metadata_proxy",
                 str(self.network.gateway), str(self.proxy_port), self.proxy_table,
                 self.upstream],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                env=dict(os.environ, **{SECRET_VARIABLE: self.secret}))
        finally:
            log.close()
        _write(self.proxy_pid_file, f"{self._proxy.pid}\n")
        deadline = time.monotonic() + _START_SECONDS
        while not _listening(self._proxy.pid, self.proxy_port):
            if self._proxy.poll() is not None or time.monotonic() > deadline:
                raise FlatHostError(f"the metadata proxy on {self.network.gateway}:"
                                    f"{self.proxy_port} did not start; see "
                                    f"{self._file('proxy.log')}")
            time.sleep(0.05)

    def _stop(self, pid_file, program):
        pid = dhcp.running_pid(pid_file, program)
        if pid is None:
            return
        self._run(*dhcp.signal_command(pid, signal.SIGTERM), check=False)
        deadline = time.monotonic() + _STOP_SECONDS
        # Until the process is gone, not its pid file: dnsmasq deletes that first.
        while dhcp.runs(pid, program):
            if self._proxy is not None and self._proxy.pid == pid:
                self._proxy.poll()  # reap our own child, or it lingers as a zombie
            if time.monotonic() > deadline:
                self._run(*dhcp.signal_command(pid, signal.SIGKILL), check=False)
            time.sleep(0.05)
        if self._proxy is not None and self._proxy.pid == pid:
            self._proxy.wait(_STOP_SECONDS)
            self._proxy = None

    def _ip(self, *args, check=True):
        return self._run("ip", *args, check=check)

    def _run(self, *argv, check=True):
        result = subprocess.run([*self.prefix, *argv], capture_output=True, text=True)
        if check and result.returncode != 0:
            raise FlatHostError(f"{' '.join(argv)} failed ({result.returncode}): "
                                f"{result.stderr.strip()}")
        return result


def _write(path, text):
    """Write ``text`` if it differs (atomically); True if it did."""
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return False
    except FileNotFoundError:
        pass
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return True


def _listening(pid, port):
    """Whether a TCP socket listens on ``port`` in the network namespace of ``pid``."""
    try:
        with open(f"/proc/{pid}/net/tcp", encoding="ascii") as f:
            rows = f.read().splitlines()[1:]
    except OSError:
        return False
    return any(row.split()[1].endswith(f":{port:04X}") and row.split()[3] == "0A" for row in rows)


def _url_host(host):
    return f"[{host}]" if ":" in host else host
