#!/usr/bin/env bash
# The project's test command (CI runs it through .ci/run): installs what is
# missing, runs the Python tests (unit, functional on a private MariaDB and
# RabbitMQ, the namespace lab), then the Molecule scenarios of the toolkit;
# ansible-lint first.
#   tools/test.sh                     everything
#   tools/test.sh -k manage -x        only pytest, with these arguments
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
if [ $# -gt 0 ]; then
    exec python -m pytest -q -p no:warnings -rs --allowed-skips tests/allowed-skips.txt "$@"
fi
echo "== ansible-lint (production profile)"
MOLECULE_PROJECT_DIRECTORY="$PWD" ansible-lint --nocolor -f pep8
# --durations: where the run's time goes, for whoever keeps CI under its hour.
python -m pytest -q -p no:warnings -rs --durations=25 --allowed-skips tests/allowed-skips.txt
tools/lab down >/dev/null  # the lab scenarios build their own
for scenario in default multinode scale-out; do
    echo "== molecule test -s $scenario"
    molecule test -s "$scenario"
done
