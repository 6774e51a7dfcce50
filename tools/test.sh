#!/usr/bin/env bash
# The project's test command: installs what is missing, then runs every test.
# Extra arguments go to pytest (e.g. tools/test.sh -k manage -x).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
exec .venv/bin/python -m pytest -q "$@"
