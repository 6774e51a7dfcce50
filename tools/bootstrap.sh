#!/usr/bin/env bash
# Installs what nova_runtime and its tests need on a fresh Debian 12 machine:
# Debian packages (MariaDB server for the tests) and a virtualenv at .venv with
# nova_runtime installed editable. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(mariadb-server mariadb-client)

missing=()
for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip
fi
# Reinstall only when the dependencies changed.
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -e "$stamp" ]; then
    echo "bootstrap: installing nova_runtime into .venv"
    .venv/bin/pip install -q -e '.[test]'
    rm -f .venv/.installed-*
    touch "$stamp"
fi
