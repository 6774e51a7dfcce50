#!/usr/bin/env bash
# Runs OpenStack's Tempest compute API tests against the deployment of the
# inventory (the all-in-one by default) and ends with one line
# "N passed, M failed, K skipped". Exit code 0 only with no failure and no
# skip outside roles/tempest/files/expected-skips.txt.
#   tools/tempest.sh                          the all-in-one that tools/deploy.sh made
#   tools/tempest.sh -i inventory/lab         another inventory
#   tools/tempest.sh -e tempest_regex=...     fewer tests
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
ansible-playbook playbooks/tempest.yml "$@" | tee "$log" || status=$?
summary=$(grep -oE '[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped[^"]*' "$log" | tail -1 || true)
echo "${summary:-Tempest did not run to the end (see above)}"
exit "$status"
