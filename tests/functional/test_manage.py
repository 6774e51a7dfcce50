"""nova-manage, run as a process, on a real MariaDB and on SQLite."""

import uuid

import pytest
import sqlalchemy as sa

from nova_runtime.cells import CELL0_UUID
from nova_runtime.db import migration
from nova_runtime.db.main import models as main_models
from harness.cli import manage, setup_cells
from harness.nova_conf import write_nova_conf

TRANSPORT = "rabbit://openstack:RABBIT_PASS@127.0.0.1:5672/"


@pytest.fixture(params=["mariadb", "sqlite"])
def databases(request, tmp_path):
    if request.param == "mariadb":
        return request.getfixturevalue("nova_databases")
    return {
        "api": f"sqlite:///{tmp_path}/nova_api.sqlite",
        "main": f"sqlite:///{tmp_path}/nova.sqlite",
        "cell0": f"sqlite:///{tmp_path}/nova.sqlite_cell0",
        "cell2": f"sqlite:///{tmp_path}/nova_cell2.sqlite",
    }


@pytest.fixture
def nova_conf(tmp_path, databases):
    return write_nova_conf(tmp_path / "nova.conf", databases["api"], databases["main"])


def add_compute_node(db_url, host):
    """What a nova-compute does when it first reports (through the conductor)."""
    engine = sa.create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(sa.insert(main_models.ComputeNode).values(
            uuid=str(uuid.uuid4()), host=host, hypervisor_hostname=host,
            hypervisor_type="fake", hypervisor_version=1, cpu_info="{}",
            vcpus=4, memory_mb=8192, local_gb=100, vcpus_used=0, memory_mb_used=0,
            local_gb_used=0, free_ram_mb=8192, free_disk_gb=100, running_vms=0,
            cpu_allocation_ratio=16.0, ram_allocation_ratio=1.5, disk_allocation_ratio=1.0))
    engine.dispose()


def test_install_guide_sequence(nova_conf, databases):
    cell1 = setup_cells(nova_conf)

    listing = manage(nova_conf, "cell_v2", "list_cells")
    assert listing.returncode == 0
    rows = {line.split("|")[1].strip(): line for line in listing.stdout.splitlines()
            if line.startswith("|") and "UUID" not in line}
    assert set(rows) == {"cell0", "cell1"}
    assert CELL0_UUID in rows["cell0"] and "none:///" in rows["cell0"]
    assert cell1 in rows["cell1"]
    assert "RABBIT_PASS" not in listing.stdout and "NOVA_DBPASS" not in listing.stdout
    assert "openstack:****@127.0.0.1" in rows["cell1"]

    # db sync reached cell0's database too (derived from [database] connection).
    head = migration.head_version("main")
    assert migration.current_version("main", databases["cell0"]) == head
    assert migration.current_version("main", databases["main"]) == head
    assert manage(nova_conf, "db", "version").stdout.strip() == head
    assert manage(nova_conf, "api_db", "version").stdout.strip() == migration.head_version("api")


def test_every_step_can_run_twice(nova_conf):
    cell1 = setup_cells(nova_conf)
    assert manage(nova_conf, "api_db", "sync").returncode == 0
    again = manage(nova_conf, "cell_v2", "map_cell0")
    assert again.returncode == 0 and "Cell0 is already setup" in again.stdout
    assert manage(nova_conf, "db", "sync").returncode == 0
    duplicate = manage(nova_conf, "cell_v2", "create_cell", "--name=cell1", "--verbose")
    assert duplicate.returncode == 2
    assert cell1 in duplicate.stderr and "already exists" in duplicate.stderr
    assert manage(nova_conf, "cell_v2", "discover_hosts").returncode == 0


def test_list_cells_verbose_shows_passwords(nova_conf):
    setup_cells(nova_conf)
    listing = manage(nova_conf, "cell_v2", "list_cells", "--verbose")
    assert "RABBIT_PASS" in listing.stdout


def test_discover_list_and_delete_hosts(nova_conf, databases):
    cell1 = setup_cells(nova_conf)
    add_compute_node(databases["main"], "c1")
    add_compute_node(databases["main"], "c2")

    discovered = manage(nova_conf, "cell_v2", "discover_hosts", "--verbose")
    assert discovered.returncode == 0
    assert "Skipping cell0 since it does not contain hosts." in discovered.stdout
    assert f"Creating host mapping for compute host 'c1': {cell1}" in discovered.stdout
    assert "Found 2 unmapped computes" in discovered.stdout

    hosts = manage(nova_conf, "cell_v2", "list_hosts")
    assert hosts.returncode == 0
    listed = [line.split("|")[3].strip() for line in hosts.stdout.splitlines()
              if line.startswith("|") and cell1 in line]
    assert listed == ["c1", "c2"]

    # Nothing new: --strict says so with exit 1.
    assert manage(nova_conf, "cell_v2", "discover_hosts", "--strict").returncode == 1

    # A cell with hosts is not deleted without --force.
    assert manage(nova_conf, "cell_v2", "delete_cell", "--cell_uuid", cell1).returncode == 2

    assert manage(nova_conf, "cell_v2", "delete_host", "--cell_uuid", cell1,
                  "--host", "c2").returncode == 0
    assert manage(nova_conf, "cell_v2", "delete_host", "--cell_uuid", cell1,
                  "--host", "c2").returncode == 2
    # The deleted host is found again by the next discovery.
    rediscovered = manage(nova_conf, "cell_v2", "discover_hosts", "--strict", "--verbose")
    assert rediscovered.returncode == 0
    assert "Creating host mapping for compute host 'c2'" in rediscovered.stdout

    assert manage(nova_conf, "cell_v2", "delete_cell", "--force",
                  "--cell_uuid", cell1).returncode == 0
    remaining = manage(nova_conf, "cell_v2", "list_cells").stdout
    assert cell1 not in remaining and "cell0" in remaining


def test_discover_hosts_by_service(nova_conf, databases):
    setup_cells(nova_conf)
    engine = sa.create_engine(databases["main"])
    with engine.begin() as connection:
        connection.execute(sa.insert(main_models.Service).values(
            uuid=str(uuid.uuid4()), host="c3", binary="nova-compute", topic="compute"))
    engine.dispose()
    assert manage(nova_conf, "cell_v2", "discover_hosts", "--strict").returncode == 1
    assert manage(nova_conf, "cell_v2", "discover_hosts", "--by-service",
                  "--strict").returncode == 0
    assert "c3" in manage(nova_conf, "cell_v2", "list_hosts").stdout


def test_update_cell(nova_conf):
    cell1 = setup_cells(nova_conf)
    new_transport = "rabbit://openstack:NEWPASS@10.0.0.99:5672/"
    updated = manage(nova_conf, "cell_v2", "update_cell", "--cell_uuid", cell1,
                     "--name", "renamed", "--transport-url", new_transport, "--disable")
    assert updated.returncode == 0, updated.stderr
    listing = manage(nova_conf, "cell_v2", "list_cells", "--verbose").stdout
    row = next(line for line in listing.splitlines() if cell1 in line)
    assert "renamed" in row and new_transport in row and "True" in row

    refused = manage(nova_conf, "cell_v2", "update_cell", "--cell_uuid", CELL0_UUID,
                     "--transport-url", new_transport)
    assert refused.returncode == 1 and "Cell0" in refused.stderr

    missing = manage(nova_conf, "cell_v2", "update_cell", "--cell_uuid", str(uuid.uuid4()),
                     "--name", "x")
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_second_cell_with_its_own_database_and_queue(nova_conf, databases, tmp_path):
    setup_cells(nova_conf)
    cell2_transport = "rabbit://openstack:RABBIT_PASS@127.0.0.1:5672/cell2"
    created = manage(nova_conf, "cell_v2", "create_cell", "--name=cell2", "--verbose",
                     "--database_connection", databases["cell2"],
                     "--transport-url", cell2_transport)
    assert created.returncode == 0
    assert manage(nova_conf, "cell_v2", "list_cells").stdout.count("| cell") == 3
    # A cell's own nova.conf points [database] at its database; db sync there
    # builds its schema.
    cell2_conf = write_nova_conf(tmp_path / "cell2.conf", databases["api"],
                                 databases["cell2"], transport_url=cell2_transport)
    assert manage(cell2_conf, "db", "sync", "--local_cell").returncode == 0
    assert migration.current_version("main", databases["cell2"]) == migration.head_version("main")


# --- bad input ----------------------------------------------------------------

def test_commands_before_api_db_sync_say_what_to_run(nova_conf):
    for args in (["cell_v2", "map_cell0"], ["cell_v2", "list_cells"],
                 ["cell_v2", "create_cell", "--name=cell1"], ["cell_v2", "discover_hosts"]):
        result = manage(nova_conf, *args)
        assert result.returncode == 1, args
        assert "run 'nova-manage api_db sync' first" in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_database_down_is_one_clear_line(tmp_path):
    closed_port = "mysql+pymysql://nova:NOVA_DBPASS@127.0.0.1:1/nova"
    conf = write_nova_conf(tmp_path / "nova.conf", closed_port + "_api", closed_port)
    for args in (["api_db", "sync"], ["db", "sync"], ["cell_v2", "list_cells"]):
        result = manage(conf, *args)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        line, = result.stderr.strip().splitlines()
        assert "cannot connect to mysql+pymysql://nova:****@127.0.0.1:1/nova" in line
        assert "NOVA_DBPASS" not in line


def test_create_cell_without_transport_url(tmp_path, databases):
    conf = write_nova_conf(tmp_path / "nova.conf", databases["api"], databases["main"],
                           transport_url="")
    assert manage(conf, "api_db", "sync").returncode == 0
    result = manage(conf, "cell_v2", "create_cell", "--name=cell1")
    assert result.returncode == 1
    assert "Must specify --transport-url" in result.stderr


def test_create_cell_with_invalid_transport_url(nova_conf):
    assert manage(nova_conf, "api_db", "sync").returncode == 0
    result = manage(nova_conf, "cell_v2", "create_cell", "--transport-url", "rabbit://a:b@:/:")
    assert result.returncode == 1
    assert "Invalid transport URL" in result.stderr


def test_missing_api_database_setting(tmp_path):
    conf = tmp_path / "nova.conf"
    conf.write_text("[DEFAULT]\n")
    result = manage(conf, "api_db", "sync")
    assert result.returncode == 1
    assert "[api_database] connection is not set" in result.stderr


def test_config_typo_stops_the_command(tmp_path, databases):
    conf = write_nova_conf(tmp_path / "nova.conf", databases["api"], databases["main"],
                           extra="[scheduler]\nmax_attempts = three\n")
    result = manage(conf, "api_db", "sync")
    assert result.returncode == 1
    assert f"{conf}: [scheduler] max_attempts" in result.stderr
    assert migration.current_version("api", databases["api"]) is None  # nothing was done


def test_unknown_cell_uuid(nova_conf):
    setup_cells(nova_conf)
    absent = str(uuid.uuid4())
    assert manage(nova_conf, "cell_v2", "delete_cell", "--cell_uuid", absent).returncode == 1
    assert manage(nova_conf, "cell_v2", "list_hosts", "--cell_uuid", absent).returncode == 1
    assert manage(nova_conf, "cell_v2", "discover_hosts", "--cell_uuid", absent).returncode == 1


def test_unknown_action_is_a_usage_error(nova_conf):
    result = manage(nova_conf, "cell_v2", "map_cell1")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
