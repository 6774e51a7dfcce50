"""nova-status upgrade check, run as a process."""

import json

import pytest

from harness import cli
from harness.cli import manage, setup_cells
from harness.nova_conf import write_nova_conf
from tests.functional.test_manage import add_compute_node


def status(nova_conf):
    result = cli.run("nova-status", "upgrade", "check", "--json", config_file=nova_conf)
    report = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result, report


def check(report, name):
    return next(c for c in report["checks"] if c["check"] == name)


@pytest.fixture
def sqlite_conf(tmp_path):
    return write_nova_conf(tmp_path / "nova.conf", f"sqlite:///{tmp_path}/nova_api.sqlite",
                           f"sqlite:///{tmp_path}/nova.sqlite")


def test_before_any_setup_cells_v2_fails_and_says_what_to_run(sqlite_conf):
    result, report = status(sqlite_conf)
    assert result.returncode == 2
    cells_v2 = check(report, "Cells v2")
    assert cells_v2["result"] == 2
    assert "nova-manage api_db sync" in cells_v2["details"]


def test_without_cell0_or_cell1(sqlite_conf):
    assert manage(sqlite_conf, "api_db", "sync").returncode == 0
    _, report = status(sqlite_conf)
    assert check(report, "Cells v2")["result"] == 2
    assert "at least two cell mappings" in check(report, "Cells v2")["details"]


def test_cells_set_up_and_no_computes_yet(sqlite_conf):
    setup_cells(sqlite_conf)
    _, report = status(sqlite_conf)
    cells_v2 = check(report, "Cells v2")
    assert cells_v2["result"] == 0
    assert "discover_hosts" in cells_v2["details"]
    assert check(report, "Unmapped compute hosts")["result"] == 0


def test_unmapped_computes_are_named_until_discovered(sqlite_conf, tmp_path):
    setup_cells(sqlite_conf)
    add_compute_node(f"sqlite:///{tmp_path}/nova.sqlite", "c1")
    _, report = status(sqlite_conf)
    assert check(report, "Cells v2")["result"] == 2  # computes, but no host mapping at all
    unmapped = check(report, "Unmapped compute hosts")
    assert unmapped["result"] == 1 and "cell1: c1" in unmapped["details"]

    assert manage(sqlite_conf, "cell_v2", "discover_hosts").returncode == 0
    _, report = status(sqlite_conf)
    assert check(report, "Cells v2")["result"] == 0
    assert check(report, "Unmapped compute hosts")["result"] == 0


def test_placement_without_credentials(sqlite_conf):
    _, report = status(sqlite_conf)
    placement = check(report, "Placement API")
    assert placement["result"] == 2
    assert "No credentials specified for placement API" in placement["details"]


def test_placement_unreachable(tmp_path):
    conf = write_nova_conf(
        tmp_path / "nova.conf", f"sqlite:///{tmp_path}/a.sqlite", f"sqlite:///{tmp_path}/m.sqlite",
        extra="[placement]\nauth_type = none\nendpoint_override = http://127.0.0.1:1/\n")
    _, report = status(conf)
    placement = check(report, "Placement API")
    assert placement["result"] == 2
    assert "cannot be reached" in placement["details"]


def test_bad_config_exits_255(tmp_path):
    conf = tmp_path / "nova.conf"
    conf.write_text("[DEFAULT]\nreport_interval = soon\n")
    result = cli.run("nova-status", "upgrade", "check", config_file=conf)
    assert result.returncode == 255
    assert f"{conf}: [DEFAULT] report_interval" in result.stderr


def test_table_output(sqlite_conf):
    setup_cells(sqlite_conf)
    result = cli.run("nova-status", "upgrade", "check", config_file=sqlite_conf)
    assert "| Check: Cells v2" in result.stdout
    assert "| Check: Placement API" in result.stdout
    assert "| Result: Failure" in result.stdout  # placement is not configured here
    assert result.returncode == 2
