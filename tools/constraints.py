#!/usr/bin/env python3
"""Re-resolve constraints.txt: the exact version of every Python package that
the project's virtualenvs install (the toolkit's .venv, nova_runtime's, the
services' and the openstack client's, on the deploy host and in the tests).

    tools/constraints.py                      resolve as of now
    tools/constraints.py --as-of 2026-12-02   resolve as PyPI was on that day

What each virtualenv asks for is read from where it is declared:
pyproject.toml (nova_runtime and its extras) and each role's
``*_pip_packages`` and ``*_pip_overrides`` (roles/*/defaults/main.yml).
Everything is resolved together, as OpenStack's upper-constraints is, so a
package has one version in every virtualenv; an override (a requirement one
virtualenv needs in another version, placement's jsonschema) is resolved for
that virtualenv alone and replaces the shared pin there (roles/python_venv).

Needs ``uv`` (resolution only, with --exclude-newer for --as-of) and PyYAML:
run it with .venv/bin/python after ``.venv/bin/pip install uv``. Then prove
the new set: ``rm -rf .venv /var/tmp/nova-runtime-*; tools/test.sh``.
"""

import argparse
import datetime
import glob
import importlib.util
import os
import subprocess
import sys
import tempfile
import tomllib

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(ROOT, "constraints.txt")
PYTHON_VERSION = "3.11"
# nova_runtime's own extras that some virtualenv installs.
EXTRAS = ("test", "deploy", "libvirt")

_spec = importlib.util.spec_from_file_location(
    "pip_constraints", os.path.join(ROOT, "plugins", "filter", "pip_constraints.py"))
_filters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_filters)
package_name = _filters.requirement_name


def project_requirements():
    """nova_runtime's requirements with its extras, and pip and uv (tools/bootstrap.sh
    puts both in the .venv; roles/python_venv installs with that uv)."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    lines = ["pip", "uv", *project["dependencies"]]
    for extra in EXTRAS:
        lines += project["optional-dependencies"][extra]
    return lines


def role_requirements():
    """{role: (packages, overrides)} of every role that declares pip packages."""
    roles = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "roles", "*", "defaults", "main.yml"))):
        role = path.split(os.sep)[-3]
        with open(path) as f:
            defaults = yaml.safe_load(f) or {}
        packages = defaults.get(f"{role}_pip_packages")
        if packages:
            roles[role] = (list(packages), list(defaults.get(f"{role}_pip_overrides", [])))
    return roles


def compile_pins(requirements, as_of, constraints=()):
    """{name: version} that uv resolves for ``requirements`` (all of them at once)."""
    with tempfile.TemporaryDirectory() as tmp:
        infile = os.path.join(tmp, "requirements.in")
        with open(infile, "w") as f:
            f.write("\n".join(requirements) + "\n")
        command = ["uv", "pip", "compile", "--quiet", "--no-header", "--no-annotate",
                   "--python-version", PYTHON_VERSION,
                   "--python-platform", "x86_64-unknown-linux-gnu",
                   "--exclude-newer", as_of, infile]
        if constraints:
            cfile = os.path.join(tmp, "constraints.in")
            with open(cfile, "w") as f:
                f.write("\n".join(constraints) + "\n")
            command += ["--constraint", cfile]
        result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"uv could not resolve:\n{result.stderr}")
    pins = {}
    for line in result.stdout.splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[package_name(name)] = version.split(";")[0].strip()
    return pins


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", default=datetime.datetime.now(datetime.UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"), help="resolve as PyPI was at this date or time (UTC)")
    args = parser.parse_args()

    roles = role_requirements()
    shared = project_requirements() + [line for packages, _ in roles.values()
                                       for line in packages]
    pins = compile_pins(shared, args.as_of)
    for role, (packages, overrides) in roles.items():
        if not overrides:
            continue
        replaced = {package_name(line) for line in overrides}
        kept = [f"{name}=={version}" for name, version in pins.items() if name not in replaced]
        for name, version in compile_pins(packages + overrides, args.as_of, kept).items():
            pins.setdefault(name, version)  # what only the override brings in
    pins.pop("nova-runtime", None)

    with open(OUTPUT, "w") as f:
        f.write(f"# Every Python package the project installs, at one version (see\n"
                f"# tools/constraints.py, which wrote this file). Resolved as of {args.as_of}.\n")
        for name in sorted(pins):
            f.write(f"{name}=={pins[name]}\n")
    print(f"{OUTPUT}: {len(pins)} packages as of {args.as_of}")


if __name__ == "__main__":
    main()
