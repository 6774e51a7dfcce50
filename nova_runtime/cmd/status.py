"""nova-status upgrade check: is this deployment ready to run?

Built on oslo.upgradecheck, so the table, ``--json`` and the exit codes are the
ones every OpenStack *-status command has: 0 all checks passed, 1 a warning,
2 a failure, 255 the checks themselves could not run (bad config).
"""

import sys

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from oslo_upgradecheck import upgradecheck
from oslo_utils import versionutils

from nova_runtime import cells, cmd, config
from nova_runtime.db import engines, migration
from nova_runtime.objects import cell_mappings
from nova_runtime.objects import exceptions as record_exc

Code = upgradecheck.Code
Result = upgradecheck.Result
EXIT_ERROR = 255

# Placement microversion that the scheduler and the resource tracker rely on.
MIN_PLACEMENT_MICROVERSION = "1.36"


class UpgradeChecks(upgradecheck.UpgradeCommands):
    def __init__(self, conf):
        self.conf = conf

    def _synced_api_url(self):
        """[api_database] connection, once its schema is known to be current."""
        api_url = self.conf.api_database.connection
        if not api_url:
            raise migration.NotSynced("[api_database] connection is not set.")
        migration.check_synced("api", api_url, "nova-manage api_db sync")
        return api_url

    def _check_cells_v2(self):
        try:
            api_url = self._synced_api_url()
            mappings = cell_mappings.list_cells(api_url)
            hosts = cell_mappings.list_hosts(api_url)
            unmapped = cell_mappings.unmapped_hosts(api_url)
        except (engines.DatabaseUnavailable, migration.NotSynced) as exc:
            return Result(Code.FAILURE, str(exc))
        if len(mappings) < 2:
            return Result(Code.FAILURE,
                          "There needs to be at least two cell mappings, one for cell0 and one "
                          "for your first cell. Run 'nova-manage cell_v2 map_cell0' and "
                          "'nova-manage cell_v2 create_cell', then retry.")
        if not any(cell.uuid == cells.CELL0_UUID for cell in mappings):
            return Result(Code.FAILURE,
                          "No cell0 mapping found. Run 'nova-manage cell_v2 map_cell0' "
                          "and then retry.")
        if not hosts:
            if unmapped:
                return Result(Code.FAILURE,
                              "No host mappings found but there are compute nodes. Run "
                              "'nova-manage cell_v2 discover_hosts' and then retry.")
            return Result(Code.SUCCESS,
                          "No host mappings or compute nodes were found. Remember to run "
                          "'nova-manage cell_v2 discover_hosts' when new compute hosts are "
                          "deployed.")
        return Result(Code.SUCCESS)

    def _check_unmapped_computes(self):
        try:
            unmapped = cell_mappings.unmapped_hosts(self._synced_api_url())
        except (engines.DatabaseUnavailable, migration.NotSynced, record_exc.CellError) as exc:
            return Result(Code.FAILURE, str(exc))
        if not unmapped:
            return Result(Code.SUCCESS)
        listing = "; ".join(f"{cell}: {', '.join(hosts)}" for cell, hosts in unmapped.items())
        return Result(Code.WARNING,
                      f"Compute hosts not mapped to their cell yet ({listing}). They get no "
                      "instances until 'nova-manage cell_v2 discover_hosts' maps them.")

    def _check_placement(self):
        try:
            max_version = _placement_max_version(self.conf)
        except ks_exc.MissingAuthPlugin:
            return Result(Code.FAILURE, "No credentials specified for placement API in nova.conf.")
        except ks_exc.Unauthorized:
            return Result(Code.FAILURE, "Placement service credentials do not work.")
        except ks_exc.EndpointNotFound:
            return Result(Code.FAILURE, "Placement API endpoint not found.")
        except ks_exc.DiscoveryFailure:
            return Result(Code.FAILURE, "Discovery for placement API URI failed.")
        except ks_exc.NotFound:
            return Result(Code.FAILURE, "Placement API does not seem to be running.")
        except ks_exc.ConnectFailure as exc:
            return Result(Code.FAILURE, f"Placement API cannot be reached: {exc}")
        if not versionutils.is_compatible(MIN_PLACEMENT_MICROVERSION, max_version):
            return Result(Code.FAILURE,
                          f"Placement API version {MIN_PLACEMENT_MICROVERSION} needed, "
                          f"you have {max_version}.")
        return Result(Code.SUCCESS)

    _upgrade_checks = (
        ("Cells v2", _check_cells_v2),
        ("Unmapped compute hosts", _check_unmapped_computes),
        ("Placement API", _check_placement),
    )


def _placement_max_version(conf):
    """The highest microversion the Placement API offers, via [placement]'s
    keystoneauth settings (catalog lookup, or endpoint_override)."""
    auth = ks_loading.load_auth_from_conf_options(conf, "placement")
    if auth is None:
        raise ks_exc.MissingAuthPlugin()
    session = ks_loading.load_session_from_conf_options(conf, "placement", auth=auth)
    adapter = ks_loading.load_adapter_from_conf_options(
        conf, "placement", session=session, auth=auth)
    response = adapter.get("/", raise_exc=True)
    return response.json()["versions"][0]["max_version"]


def main(argv=None):
    cmd.quiet_library_logs()
    conf = config.new_conf()
    checks = UpgradeChecks(conf)
    upgradecheck.register_cli_options(conf, checks)
    try:
        config.load(conf, sys.argv[1:] if argv is None else argv, prog="nova-status")
    except config.ConfigError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return EXIT_ERROR
    # upgradecheck reads --json from its module-level CONF, which its own
    # main() would set; we parse ourselves to validate the config first.
    upgradecheck.CONF = conf
    try:
        return upgradecheck.run(conf)
    finally:
        engines.dispose_all()
