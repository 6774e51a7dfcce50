#!/usr/bin/env bash
# Sets up cells v2 on SQLite in .tmp/demo with the real nova-manage, then shows
# the cells and the upgrade check. Stands in for the all-in-one deploy until
# the Ansible toolkit exists.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
demo=$PWD/.tmp/demo
rm -rf "$demo" && mkdir -p "$demo"
cat > "$demo/nova.conf" <<CONF
[DEFAULT]
transport_url = rabbit://openstack:RABBIT_PASS@127.0.0.1:5672/
[api_database]
connection = sqlite:///$demo/nova_api.sqlite
[database]
connection = sqlite:///$demo/nova.sqlite
CONF
manage() { .venv/bin/nova-manage --config-file "$demo/nova.conf" "$@"; }
set -x
manage api_db sync
manage cell_v2 map_cell0
manage cell_v2 create_cell --name=cell1 --verbose
manage db sync
manage cell_v2 list_cells
.venv/bin/nova-status --config-file "$demo/nova.conf" upgrade check || true
