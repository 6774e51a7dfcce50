"""An instance's diagnostics from libvirt's domain statistics: info() for
state, memory and CPU time, vcpus() per vCPU, blockStats() per disk target
and interfaceStats() per interface target of the domain XML. A counter
libvirt cannot give (a domain that is off has no vCPU or I/O counters) is
left out or None, never made up."""

import xml.etree.ElementTree as ET

import libvirt

from nova_runtime.virt import diagnostics

_NIC_STATS = ("rx_octets", "rx_packets", "rx_errors", "rx_drop",
              "tx_octets", "tx_packets", "tx_errors", "tx_drop")  # interfaceStats' order


def _devices(xml):
    """([disk target dev], [(interface mac, target dev or None)])."""
    root = ET.fromstring(xml)
    disks = [target.get("dev") for target in root.findall("./devices/disk/target")
             if target.get("dev")]
    nics = []
    for interface in root.findall("./devices/interface"):
        mac, target = interface.find("mac"), interface.find("target")
        nics.append((mac.get("address") if mac is not None else None,
                     target.get("dev") if target is not None else None))
    return disks, nics


def _quietly(method, *args):
    try:
        return method(*args)
    except libvirt.libvirtError:
        return None


def _vcpu_times(dom):
    vcpus = _quietly(dom.vcpus)
    return [(number, cpu_time) for number, _state, cpu_time, _cpu in vcpus[0]] if vcpus else []


def legacy(dom):
    """The counters as libvirt names them (before 2.48): cpuN_time, memory
    (KiB) and memory-<stat>, <disk>_read..., <interface>_rx..."""
    _state, max_kib, _kib, _vcpus, _cpu_time = dom.info()
    counters = {"memory": max_kib}
    counters.update({f"cpu{number}_time": cpu_time for number, cpu_time in _vcpu_times(dom)})
    counters.update({f"memory-{key}": value
                     for key, value in (_quietly(dom.memoryStats) or {}).items()})
    disks, nics = _devices(dom.XMLDesc(0))
    for dev in disks:
        stats = _quietly(dom.blockStats, dev)
        if stats:
            counters.update(zip((f"{dev}_read_req", f"{dev}_read", f"{dev}_write_req",
                                 f"{dev}_write", f"{dev}_errors"), stats))
    for _mac, dev in nics:
        stats = _quietly(dom.interfaceStats, dev) if dev else None
        if stats:
            counters.update(zip((f"{dev}_rx", f"{dev}_rx_packets", f"{dev}_rx_errors",
                                 f"{dev}_rx_drop", f"{dev}_tx", f"{dev}_tx_packets",
                                 f"{dev}_tx_errors", f"{dev}_tx_drop"), stats))
    return counters


def standard(dom, *, state, hypervisor, uptime, config_drive):
    """The 2.48 form; memory in MiB."""
    _state, max_kib, kib, _vcpus, _cpu_time = dom.info()
    disks, nics = _devices(dom.XMLDesc(0))
    disk_details = []
    for dev in disks:
        stats = _quietly(dom.blockStats, dev)
        disk_details.append(diagnostics.disk(
            read_requests=stats[0], read_bytes=stats[1], write_requests=stats[2],
            write_bytes=stats[3], errors_count=stats[4]) if stats else diagnostics.disk())
    nic_details = []
    for mac, dev in nics:
        stats = _quietly(dom.interfaceStats, dev) if dev else None
        nic_details.append(diagnostics.nic(mac_address=mac, **dict(zip(_NIC_STATS, stats or ()))))
    return diagnostics.standard(
        state=state, driver="libvirt", hypervisor=hypervisor, hypervisor_os="linux",
        uptime=uptime, config_drive=config_drive,
        memory_maximum=max_kib // 1024, memory_used=kib // 1024,
        cpus=[diagnostics.cpu(id=number, time=cpu_time)
              for number, cpu_time in _vcpu_times(dom)],
        nics=nic_details, disks=disk_details)
