"""What a compute node offers Placement and what a flavor asks of it: plain
functions over dicts, no HTTP.

A compute node is one resource provider (uuid: the compute node's uuid, name:
its hypervisor hostname) with three inventories, as upstream Nova's resource
tracker reports them:

    VCPU       total vcpus      reserved [DEFAULT] reserved_host_cpus
    MEMORY_MB  total memory_mb  reserved [DEFAULT] reserved_host_memory_mb
    DISK_GB    total local_gb   reserved [DEFAULT] reserved_host_disk_mb / 1024, rounded up

each with the [DEFAULT] *_allocation_ratio, min_unit 1, max_unit the total,
step_size 1. A resource the node has none of (total 0) is not offered:
Placement refuses an inventory of total 0. A reservation above the total is
cut to the total (capacity 0), which Placement accepts, instead of the whole
inventory being refused.

A flavor asks for VCPU = vcpus, MEMORY_MB = memory_mb and DISK_GB = root_gb +
ephemeral_gb + swap (MiB) / 1024 rounded up; its extra specs may override a
class (``resources:VCPU=2``, ``resources:CUSTOM_X=1``, 0 drops it) and require
or forbid traits (``trait:HW_CPU_X86_AVX2=required`` / ``=forbidden``), as
upstream reads them.
"""

import math
import re

VCPU = "VCPU"
MEMORY_MB = "MEMORY_MB"
DISK_GB = "DISK_GB"

# Traits this module decides for a compute node's provider. Others on the
# provider (an operator's CUSTOM_* traits, say) are left alone.
COMPUTE_NODE = "COMPUTE_NODE"

# Driver capability -> the standard trait (os-traits) that says the same, as
# upstream's CAPABILITY_TRAITS_MAP. Capabilities without a standard trait
# (pause, suspend, snapshot, ...) are not published.
CAPABILITY_TRAITS = {
    "supports_migrate_to_same_host": "COMPUTE_SAME_HOST_COLD_MIGRATE",
    "supports_attach_interface": "COMPUTE_NET_ATTACH_INTERFACE",
    "supports_device_tagging": "COMPUTE_DEVICE_TAGGING",
    "supports_multiattach": "COMPUTE_VOLUME_MULTI_ATTACH",
    "supports_extend_volume": "COMPUTE_VOLUME_EXTEND",
    "supports_trusted_certs": "COMPUTE_TRUSTED_CERTS",
    "supports_image_type_raw": "COMPUTE_IMAGE_TYPE_RAW",
    "supports_image_type_qcow2": "COMPUTE_IMAGE_TYPE_QCOW2",
    "supports_image_type_iso": "COMPUTE_IMAGE_TYPE_ISO",
    "supports_image_type_vmdk": "COMPUTE_IMAGE_TYPE_VMDK",
    "supports_secure_boot": "COMPUTE_SECURITY_UEFI_SECURE_BOOT",
}
# CPU architectures with a standard COMPUTE_ARCH_* trait, and other names of them.
_ARCH_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}
ARCH_TRAITS = {arch: f"COMPUTE_ARCH_{arch.upper()}"
               for arch in ("x86_64", "aarch64", "ppc64le", "mipsel", "s390x", "riscv64")}
MANAGED_TRAITS = frozenset({COMPUTE_NODE, *CAPABILITY_TRAITS.values(), *ARCH_TRAITS.values()})

_RESOURCE_CLASS = re.compile(r"^(VCPU|MEMORY_MB|DISK_GB|PCPU|[A-Z0-9_]+)$")
_TRAIT = re.compile(r"^[A-Z0-9_]+$")


class BadRequest(ValueError):
    """A flavor's extra specs ask Placement for something malformed."""


def inventories(resources, conf):
    """The inventories of a node whose driver reports ``resources`` (vcpus,
    memory_mb, local_gb), with the reservations and ratios of ``conf``
    ([DEFAULT]). {resource class: {total, reserved, min_unit, max_unit,
    step_size, allocation_ratio}}."""
    offered = {
        VCPU: (resources["vcpus"], conf.reserved_host_cpus, conf.cpu_allocation_ratio),
        MEMORY_MB: (resources["memory_mb"], conf.reserved_host_memory_mb,
                    conf.ram_allocation_ratio),
        DISK_GB: (resources["local_gb"], math.ceil(conf.reserved_host_disk_mb / 1024),
                  conf.disk_allocation_ratio),
    }
    result = {}
    for resource_class, (total, reserved, ratio) in offered.items():
        total = int(total or 0)
        if total <= 0:
            continue
        result[resource_class] = {
            "total": total, "reserved": min(int(reserved), total), "min_unit": 1,
            "max_unit": total, "step_size": 1, "allocation_ratio": float(ratio)}
    return result


def capacity(inventory):
    """How much of a class Placement lets allocations use, as Placement
    computes it: (total - reserved) * allocation_ratio, rounded down."""
    return int((inventory["total"] - inventory["reserved"]) * inventory["allocation_ratio"])


def traits(capabilities, cpu_info=None):
    """The managed traits of a node: COMPUTE_NODE, one per true driver
    capability that has a standard trait, and its CPU architecture's."""
    wanted = {COMPUTE_NODE}
    wanted.update(trait for name, trait in CAPABILITY_TRAITS.items()
                  if capabilities.get(name))
    arch = str((cpu_info or {}).get("arch") or "").lower()
    arch = _ARCH_ALIASES.get(arch, arch)
    if arch in ARCH_TRAITS:
        wanted.add(ARCH_TRAITS[arch])
    return wanted


def merged_traits(current, wanted):
    """The provider's traits: ``wanted`` for the managed ones, the others as they are."""
    return (set(current) - MANAGED_TRAITS) | set(wanted)


def flavor_resources(flavor):
    """{resource class: amount} that one instance of ``flavor`` (a dict with
    vcpus, memory_mb, root_gb, ephemeral_gb, swap, extra_specs) takes. Raises
    BadRequest for a malformed resources: extra spec."""
    disk_gb = int(flavor.get("root_gb") or 0) + int(flavor.get("ephemeral_gb") or 0)
    disk_gb += math.ceil(int(flavor.get("swap") or 0) / 1024)
    amounts = {VCPU: int(flavor["vcpus"]), MEMORY_MB: int(flavor["memory_mb"]),
               DISK_GB: disk_gb}
    for key, value in (flavor.get("extra_specs") or {}).items():
        if not key.startswith("resources:"):
            continue
        resource_class = key[len("resources:"):]
        if not _RESOURCE_CLASS.match(resource_class):
            raise BadRequest(f"extra spec {key}: {resource_class!r} is not a resource class")
        try:
            amount = int(value)
        except (TypeError, ValueError):
            raise BadRequest(f"extra spec {key}={value!r}: the amount must be an integer") \
                from None
        if amount < 0:
            raise BadRequest(f"extra spec {key}={value!r}: the amount must not be negative")
        amounts[resource_class] = amount
    return {resource_class: amount for resource_class, amount in amounts.items() if amount > 0}


def flavor_traits(flavor):
    """(required, forbidden) trait names from ``trait:NAME=required|forbidden``."""
    required, forbidden = set(), set()
    for key, value in (flavor.get("extra_specs") or {}).items():
        if not key.startswith("trait:"):
            continue
        name = key[len("trait:"):]
        if not _TRAIT.match(name):
            raise BadRequest(f"extra spec {key}: {name!r} is not a trait name")
        if value == "required":
            required.add(name)
        elif value == "forbidden":
            forbidden.add(name)
        else:
            raise BadRequest(f"extra spec {key}={value!r}: use 'required' or 'forbidden'")
    return required, forbidden


def candidates_query(amounts, required=(), forbidden=()):
    """GET /allocation_candidates' query parameters for one provider that has
    ``amounts`` free and the traits."""
    if not amounts:
        raise BadRequest("the flavor asks for no resources at all")
    query = {"resources": ",".join(f"{rc}:{amount}" for rc, amount in sorted(amounts.items()))}
    traits_ = sorted(required) + [f"!{name}" for name in sorted(forbidden)]
    if traits_:
        query["required"] = ",".join(traits_)
    return query


def describe(query):
    """How logs and faults name what was asked: 'DISK_GB:1, MEMORY_MB:512, VCPU:1'."""
    text = query["resources"].replace(",", ", ")
    if query.get("required"):
        text += f" with traits {query['required']}"
    return text
