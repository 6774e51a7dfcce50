"""The constraints a virtualenv installs with: constraints.txt (every package at
one version, tools/constraints.py) without the lines of the packages that this
virtualenv's overrides require in another version. pip refuses a requirement
that contradicts a constraint, so an override must replace the shared pin.
"""

import re


def requirement_name(line):
    """The normalised (PEP 503) project name of a requirement or constraint line."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    if not match:
        raise ValueError(f"not a requirement line: {line!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def pip_constraints(constraints_text, overrides=()):
    """``constraints_text`` without comments, blank lines and the packages
    that ``overrides`` name; one line each, newline-terminated."""
    replaced = {requirement_name(line) for line in overrides}
    kept = []
    for line in constraints_text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and requirement_name(line) not in replaced:
            kept.append(line)
    return "".join(f"{line}\n" for line in kept)


class FilterModule:
    def filters(self):
        return {"pip_constraints": pip_constraints}
