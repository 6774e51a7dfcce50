#!/usr/bin/env bash
# The embedded default on a fresh Debian 12 machine: install what the toolkit
# needs, then deploy the controller and one compute on this machine
# (inventory/all-in-one). Extra arguments go to ansible-playbook.
# The Debian packages install in the background while site.yml starts: the
# services' virtualenvs need none of them, and the roles' apt waits for them.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh --deploy
export PATH="$PWD/.venv/bin:$PATH"
ansible-playbook site.yml "$@"
tools/bootstrap.sh --finish
