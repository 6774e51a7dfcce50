#!/usr/bin/env bash
# The embedded default on a fresh Debian 12 machine: install what the toolkit
# needs, then deploy the controller and one compute on this machine
# (inventory/all-in-one). Extra arguments go to ansible-playbook.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
exec ansible-playbook site.yml "$@"
