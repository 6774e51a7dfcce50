"""Small helpers shared by the host states and the filters."""

import datetime
import re

_ARCH_ALIASES = {
    "i386": "i686", "i486": "i686", "i586": "i686", "x86_32": "i686", "x86_32p": "i686",
    "amd64": "x86_64",
}
_HV_TYPE_ALIASES = {"xapi": "xen"}
_VM_MODE_ALIASES = {"pv": "xen", "hv": "hvm", "baremetal": "hvm"}


def _canonical(value, aliases):
    if value is None or value == "":
        return None
    value = str(value).lower()
    return aliases.get(value, value)


def canonical_arch(value):
    return _canonical(value, _ARCH_ALIASES)


def canonical_hv_type(value):
    return _canonical(value, _HV_TYPE_ALIASES)


def canonical_vm_mode(value):
    return _canonical(value, _VM_MODE_ALIASES)


def canonical_hv_spec(spec):
    """[arch, hypervisor type, vm mode] as a compute node reports it, canonical."""
    arch, hv_type, vm_mode = (list(spec) + [None, None, None])[:3]
    return (canonical_arch(arch), canonical_hv_type(hv_type), canonical_vm_mode(vm_mode))


def aggregate_values(raw):
    """An aggregate metadata value as the set of values it stands for:
    'a, b' means a or b, as upstream splits it."""
    return frozenset(part.strip() for part in raw.split(","))


def version_to_tuple(version_int):
    """Hypervisor versions are stored as integers, three decimal digits per
    component (1.2.3 -> 1002003)."""
    parts = []
    while version_int > 0:
        version_int, part = divmod(version_int, 1000)
        parts.insert(0, part)
    return tuple(parts)


_PREDICATE = re.compile(r"^\s*(<=|>=|==|!=|<|>)\s*(\d+(?:\.\d+)*)\s*$")
_COMPARE = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def version_predicate(text):
    """'>=2.1, <3' as a function of a version tuple; None when the text does not parse."""
    tests = []
    for clause in text.split(","):
        found = _PREDICATE.match(clause)
        if not found:
            return None
        tests.append((_COMPARE[found.group(1)], tuple(int(p) for p in found.group(2).split("."))))

    def satisfied_by(version):
        for compare, wanted in tests:
            width = max(len(version), len(wanted))
            if not compare(version + (0,) * (width - len(version)),
                           wanted + (0,) * (width - len(wanted))):
                return False
        return True
    return satisfied_by


def epoch(moment):
    """Seconds since the epoch of a naive UTC datetime (as the databases store
    them), an aware datetime or a number; None stays None."""
    if moment is None:
        return None
    if isinstance(moment, (int, float)):
        return float(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()
