"""An instance's diagnostics in the Compute API's standard form (from 2.48):
one dict with the same keys whatever the driver; what a driver cannot tell
is None."""

DRIVERS = ("ironic", "libvirt", "vmwareapi", "xenapi")  # the API's accepted names
CPU_FIELDS = ("id", "time", "utilisation")
NIC_FIELDS = ("mac_address", "rx_octets", "rx_errors", "rx_drop", "rx_packets", "rx_rate",
              "tx_octets", "tx_errors", "tx_drop", "tx_packets", "tx_rate")
DISK_FIELDS = ("read_bytes", "read_requests", "write_bytes", "write_requests", "errors_count")


def _fields(names, values):
    unknown = set(values) - set(names)
    if unknown:
        raise ValueError(f"unknown diagnostics fields: {sorted(unknown)}")
    return {name: values.get(name) for name in names}


def cpu(**values):
    return _fields(CPU_FIELDS, values)


def nic(**values):
    return _fields(NIC_FIELDS, values)


def disk(**values):
    return _fields(DISK_FIELDS, values)


def standard(*, state, driver, hypervisor=None, hypervisor_os=None, uptime=None,
             config_drive=False, memory_maximum=None, memory_used=None,
             cpus=(), nics=(), disks=()):
    """The 2.48 body: ``state`` a power state name, ``driver`` one of DRIVERS,
    memory in MiB, cpus/nics/disks lists made by cpu(), nic() and disk()."""
    if driver not in DRIVERS:
        raise ValueError(f"driver {driver!r} is not one of {DRIVERS}")
    return {
        "state": state, "driver": driver, "hypervisor": hypervisor,
        "hypervisor_os": hypervisor_os, "uptime": uptime, "config_drive": bool(config_drive),
        "num_cpus": len(cpus), "num_nics": len(nics), "num_disks": len(disks),
        "memory_details": {"maximum": memory_maximum, "used": memory_used},
        "cpu_details": list(cpus), "nic_details": list(nics), "disk_details": list(disks),
    }
