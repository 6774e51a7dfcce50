"""The libvirt connection of one nova-compute and what it says about the host.

One read-write connection, opened at init_host and reopened when libvirtd
restarts (isAlive() fails). libvirt errors become the driver contract's
exceptions here: a missing domain is InstanceNotFound, a connection that
cannot be opened HypervisorUnavailable.

Host facts for get_available_resource: CPUs and memory from getInfo() and the
capabilities XML; memory in use from getMemoryStats() where the connection has
it (qemu:///system), otherwise (the test driver) the memory of the running
domains; disk from the filesystem of instances_path.
"""

import contextlib
import os
import threading
import xml.etree.ElementTree as ET

import libvirt

from nova_runtime.virt import exceptions

# Without this libvirt prints every error to stderr as well as raising it.
libvirt.registerErrorHandler(lambda _context, _error: None, None)

_CONNECTION_ERRORS = (libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_ERR_NO_CONNECT,
                      libvirt.VIR_ERR_INVALID_CONN, libvirt.VIR_ERR_RPC)


class Host:
    def __init__(self, uri):
        self.uri = uri
        self._connection = None
        self._lock = threading.Lock()

    # --- connection -------------------------------------------------------------------

    @property
    def conn(self):
        with self._lock:
            if self._connection is None or not self._alive():
                self._connection = self._open()
            return self._connection

    def _alive(self):
        try:
            return self._connection.isAlive() == 1
        except libvirt.libvirtError:
            return False

    def _open(self):
        try:
            return libvirt.open(self.uri)
        except libvirt.libvirtError as error:
            raise exceptions.HypervisorUnavailable(
                f"cannot connect to libvirt at {self.uri}: {error}") from None

    def close(self):
        with self._lock:
            if self._connection is not None:
                with contextlib.suppress(libvirt.libvirtError):
                    self._connection.close()
                self._connection = None

    @property
    def is_test_driver(self):
        """libvirt's in-memory test driver: no QEMU, no VNC ports, no host memory stats."""
        return self.conn.getType() == "TEST"

    # --- domains --------------------------------------------------------------------------

    def lookup(self, uuid):
        """The domain of instance ``uuid``; InstanceNotFound if there is none."""
        try:
            return self.conn.lookupByUUIDString(uuid)
        except libvirt.libvirtError as error:
            if error.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                raise exceptions.InstanceNotFound(
                    f"instance {uuid} has no domain at {self.uri}") from None
            raise translate(error) from None

    def find(self, uuid):
        """The domain of instance ``uuid``, or None."""
        try:
            return self.lookup(uuid)
        except exceptions.InstanceNotFound:
            return None

    def domains(self, prefix):
        """Every domain (running or not) whose name starts with ``prefix``."""
        return [domain for domain in self.conn.listAllDomains(0)
                if domain.name().startswith(prefix)]

    # --- the host's resources ------------------------------------------------------------------

    def cpu_and_memory(self):
        """(vcpus, memory_mb, vcpus_used, memory_mb_used)."""
        _arch, memory_mb, cpus, *_rest = self.conn.getInfo()
        running = [domain.info() for domain in self.conn.listAllDomains(
            libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)]
        vcpus_used = sum(info[3] for info in running)
        try:
            stats = self.conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS)
            free_kib = sum(stats.get(key, 0) for key in ("free", "buffers", "cached"))
            memory_used = (stats["total"] - free_kib) // 1024
        except libvirt.libvirtError as error:
            if error.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
                raise translate(error) from None
            memory_used = sum(info[2] for info in running) // 1024  # KiB of each domain
        return cpus, memory_mb, vcpus_used, memory_used

    def cpu_info(self):
        """The host CPU as the capabilities XML describes it."""
        _arch, _memory, cpus, _mhz, nodes, sockets, cores, threads = self.conn.getInfo()
        cpu = ET.fromstring(self.conn.getCapabilities()).find("./host/cpu")
        topology = cpu.find("topology") if cpu is not None else None
        if topology is not None:
            sockets, cores, threads = (int(topology.get(key, 1))
                                       for key in ("sockets", "cores", "threads"))
        else:
            sockets *= nodes
        return {
            "arch": _text(cpu, "arch") or _arch,
            "model": _text(cpu, "model") or "unknown",
            "vendor": _text(cpu, "vendor") or "unknown",
            "topology": {"sockets": sockets, "cores": cores, "threads": threads},
            "features": sorted(feature.get("name") or feature.tag
                               for feature in (cpu.findall("feature") if cpu is not None else [])
                               if feature.get("name")),
        }

    def supported_instances(self, virt_type):
        """[arch, hypervisor type, vm mode] the host runs, for domain type
        ``virt_type`` (the test driver: whatever type it offers)."""
        test = self.is_test_driver
        triples = []
        for guest in ET.fromstring(self.conn.getCapabilities()).findall("./guest"):
            mode = _text(guest, "os_type")
            arch = guest.find("arch")
            if arch is None:
                continue
            types = {domain.get("type") for domain in arch.findall("domain")}
            if virt_type in types or (test and types):
                triples.append([arch.get("name"), virt_type, mode])
        return triples

    def version(self):
        return self.conn.getVersion()

    def hypervisor_type(self):
        return self.conn.getType()


def disk_usage(path):
    """(total, free) bytes of the filesystem holding ``path``."""
    os.makedirs(path, exist_ok=True)
    stat = os.statvfs(path)
    return stat.f_blocks * stat.f_frsize, stat.f_bavail * stat.f_frsize


def translate(error):
    """A libvirtError as the contract's exception (the caller raises it)."""
    code = error.get_error_code()
    if code == libvirt.VIR_ERR_NO_DOMAIN:
        return exceptions.InstanceNotFound(str(error))
    if code in _CONNECTION_ERRORS:
        return exceptions.HypervisorUnavailable(str(error))
    if code == libvirt.VIR_ERR_OPERATION_INVALID:
        return exceptions.InstanceInvalidState(str(error))
    return exceptions.VirtError(str(error))


def _text(element, tag):
    if element is None:
        return None
    child = element.find(tag)
    return child.text.strip() if child is not None and child.text else None
