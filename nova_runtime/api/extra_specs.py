"""Checks of flavor extra specs in the namespaces Nova knows (microversion 2.86).

From 2.86 a key in one of these namespaces must be one this code knows, with a
value of the right form; keys in other namespaces, or with no namespace, are
stored unchecked, as upstream does. The table covers the keys the libvirt
driver and the scheduler read; drivers this project has no code for
(powervm, vmware) have their namespace accepted whole.
"""

import re

from nova_runtime.api import errors

_INT = re.compile(r"^-?[0-9]+$")
_BOOL = ("true", "false", "1", "0", "yes", "no", "on", "off", "t", "f", "y", "n")


def _integer(minimum=None):
    def check(value):
        if not _INT.match(value) or (minimum is not None and int(value) < minimum):
            bound = "" if minimum is None else f" of at least {minimum}"
            return f"must be an integer{bound}"
        return None
    return check


def _boolean(value):
    return None if value.lower() in _BOOL else "must be a boolean"


def _choice(*choices):
    def check(value):
        return None if value in choices else f"must be one of {', '.join(choices)}"
    return check


def _pattern(regex, description):
    compiled = re.compile(regex)

    def check(value):
        return None if compiled.match(value) else f"must be {description}"
    return check


def _anything(value):
    return None


_HW = {
    "cpu_policy": _choice("dedicated", "shared", "mixed"),
    "cpu_thread_policy": _choice("prefer", "isolate", "require"),
    "cpu_sockets": _integer(1), "cpu_cores": _integer(1), "cpu_threads": _integer(1),
    "cpu_max_sockets": _integer(1), "cpu_max_cores": _integer(1), "cpu_max_threads": _integer(1),
    "cpu_realtime": _boolean, "cpu_realtime_mask": _anything, "cpu_dedicated_mask": _anything,
    "emulator_threads_policy": _choice("share", "isolate"),
    "numa_nodes": _integer(1),
    "mem_page_size": _pattern(r"^(small|large|any|[0-9]+(KB|MB|GB|K|M|G|Kb|Mb|Gb)?)$",
                              "small, large, any or a page size such as 2MB"),
    "hide_hypervisor_id": _boolean,
    "watchdog_action": _choice("none", "pause", "poweroff", "reset", "disabled"),
    "serial_port_count": _integer(0),
    "boot_menu": _boolean,
    "vif_multiqueue_enabled": _boolean,
    "pmu": _boolean,
    "mem_encryption": _boolean,
    "locked_memory": _boolean,
    "virtio_packed_ring": _boolean,
    "pci_numa_affinity_policy": _choice("required", "legacy", "preferred", "socket"),
    "machine_type": _anything,
    "maxphysaddr_mode": _choice("emulate", "passthrough"),
    "maxphysaddr_bits": _integer(1),
    "tpm_version": _choice("1.2", "2.0"),
    "tpm_model": _choice("tpm-tis", "tpm-crb"),
    "viommu_model": _choice("intel", "smmuv3", "virtio", "auto"),
    "rescue_bus": _anything, "rescue_device": _anything,
    "ephemeral_encryption": _boolean,
    "ephemeral_encryption_format": _choice("luks", "plain"),
    "vif_model": _anything, "disk_bus": _anything, "video_model": _anything,
}
_HW_NUMBERED = {"numa_cpus": _anything, "numa_mem": _integer(0)}

_QUOTA_INTEGER = (
    "cpu_shares", "cpu_period", "cpu_quota", "cpu_limit", "cpu_reservation",
    "disk_read_bytes_sec", "disk_read_iops_sec", "disk_write_bytes_sec",
    "disk_write_iops_sec", "disk_total_bytes_sec", "disk_total_iops_sec", "disk_io_limit",
    "disk_io_reservation", "vif_inbound_average", "vif_inbound_peak", "vif_inbound_burst",
    "vif_outbound_average", "vif_outbound_peak", "vif_outbound_burst", "vif_limit",
    "vif_reservation", "memory_limit", "memory_reservation", "cpu_shares_share",
    "memory_shares_share", "disk_io_shares_share", "vif_shares_share",
)
_QUOTA = {key: _integer(0) for key in _QUOTA_INTEGER}
_QUOTA.update({key: _choice("custom", "high", "normal", "low") for key in (
    "cpu_shares_level", "memory_shares_level", "disk_io_shares_level", "vif_shares_level")})

_SIMPLE = {
    "hw_rng": {"allowed": _boolean, "rate_bytes": _integer(0), "rate_period": _integer(0)},
    "hw_video": {"ram_max_mb": _integer(0)},
    "os": {"secure_boot": _choice("required", "disabled", "optional"),
           "monitors": _integer(1)},
    "pci_passthrough": {"alias": _pattern(r"^[^:,]+:[0-9]+(,[^:,]+:[0-9]+)*$",
                                          "alias:count[,alias:count...]")},
    "accel": {"device_profile": _anything},
    "quota": _QUOTA,
}
_OPEN = ("aggregate_instance_extra_specs", "capabilities", "powervm", "vmware")
_RESOURCE_CLASS = re.compile(r"^([A-Z][A-Z0-9_]*)$")
_TRAIT = re.compile(r"^[A-Z][A-Z0-9_]*$")


def validate(key, value):
    """Raise BadRequest when ``key`` is in a known namespace but unknown or
    its value has the wrong form."""
    value = str(value).strip() if not isinstance(value, bool) else str(value).lower()
    namespace, separator, name = key.partition(":")
    if not separator:
        return
    problem = None
    base = re.sub(r"[0-9_]*$", "", namespace) if namespace.startswith(("resources", "trait")) \
        else namespace
    if base == "resources":
        if not _RESOURCE_CLASS.match(name):
            problem = "is not a resource class (STANDARD or CUSTOM_*)"
        else:
            problem = _integer(0)(value)
    elif base == "trait":
        if not _TRAIT.match(name):
            problem = "is not a trait name"
        else:
            problem = _choice("required", "forbidden")(value)
    elif namespace == "hw":
        check = _HW.get(name)
        if check is None:
            numbered, _, index = name.rpartition(".")
            check = _HW_NUMBERED.get(numbered) if index.isdigit() else None
        problem = "is not a known extra spec" if check is None else check(value)
    elif namespace in _SIMPLE:
        check = _SIMPLE[namespace].get(name)
        problem = "is not a known extra spec" if check is None else check(value)
    elif namespace in _OPEN:
        return
    else:
        return  # not a namespace Nova validates
    if problem:
        raise errors.BadRequest(
            f"Validation failed; extra spec '{key}' with value '{value}': {problem}.")
