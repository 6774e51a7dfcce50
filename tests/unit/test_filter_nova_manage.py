"""The toolkit's filters that read nova-manage output (plugins/filter/nova_manage.py),
against tables captured from the real nova-manage."""

import importlib.util
import os

import pytest

_PATH = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir,
                     "plugins", "filter", "nova_manage.py")
_spec = importlib.util.spec_from_file_location("nova_manage_filters", _PATH)
filters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(filters)

LIST_CELLS_VERBOSE = """\
+-------+--------------------------------------+-------------------------------------------------+-----------------------------+----------+
|  Name |                 UUID                 |                  Transport URL                  |     Database Connection     | Disabled |
+-------+--------------------------------------+-------------------------------------------------+-----------------------------+----------+
| cell0 | 00000000-0000-0000-0000-000000000000 |                     none:///                    | sqlite:////tmp/t/m.db_cell0 |  False   |
| cell1 | b1286e29-b487-4269-a094-b5af6917a6f4 | rabbit://openstack:RABBIT_PASS@10.77.0.10:5672/ |    sqlite:////tmp/t/m.db    |  True    |
+-------+--------------------------------------+-------------------------------------------------+-----------------------------+----------+
"""

LIST_HOSTS = """\
+-----------+--------------------------------------+----------+
| Cell Name |              Cell UUID               | Hostname |
+-----------+--------------------------------------+----------+
|   cell1   | b1286e29-b487-4269-a094-b5af6917a6f4 |    c1    |
|   cell1   | b1286e29-b487-4269-a094-b5af6917a6f4 |    c2    |
+-----------+--------------------------------------+----------+
"""

EMPTY_HOSTS = """\
+-----------+-----------+----------+
| Cell Name | Cell UUID | Hostname |
+-----------+-----------+----------+
+-----------+-----------+----------+
"""


def test_cell_by_name():
    cell = filters.nova_cell(LIST_CELLS_VERBOSE, "cell1")
    assert cell == {
        "name": "cell1",
        "uuid": "b1286e29-b487-4269-a094-b5af6917a6f4",
        "transport_url": "rabbit://openstack:RABBIT_PASS@10.77.0.10:5672/",
        "database_connection": "sqlite:////tmp/t/m.db",
        "disabled": True,
    }
    assert filters.nova_cell(LIST_CELLS_VERBOSE, "cell0")["transport_url"] == "none:///"


def test_absent_cell_is_none():
    assert filters.nova_cell(LIST_CELLS_VERBOSE, "cell2") is None
    assert filters.nova_cell("", "cell1") is None


def test_two_cells_with_one_name_is_an_error():
    doubled = LIST_CELLS_VERBOSE.replace("| cell0 |", "| cell1 |")
    with pytest.raises(ValueError, match="more than one cell is named 'cell1'"):
        filters.nova_cell(doubled, "cell1")


# What roles/nova/files/nova-db-revisions.py prints for the same cells.
CELLS_READ = [
    {"name": "cell0", "uuid": "00000000-0000-0000-0000-000000000000", "transport_url": "none:///",
     "database_connection": "sqlite:////tmp/t/m.db_cell0", "disabled": False},
    {"name": "cell1", "uuid": "b1286e29-b487-4269-a094-b5af6917a6f4",
     "transport_url": "rabbit://openstack:RABBIT_PASS@10.77.0.10:5672/",
     "database_connection": "sqlite:////tmp/t/m.db", "disabled": True},
]


def test_cell_from_the_cells_read_is_the_one_from_the_table():
    for name in ("cell0", "cell1"):
        assert filters.nova_cell(CELLS_READ, name) == filters.nova_cell(LIST_CELLS_VERBOSE, name)
    assert filters.nova_cell(CELLS_READ, "cell2") is None
    assert filters.nova_cell([], "cell1") is None


def test_two_cells_read_with_one_name_is_an_error():
    doubled = [CELLS_READ[1], dict(CELLS_READ[0], name="cell1")]
    with pytest.raises(ValueError, match="more than one cell is named 'cell1'"):
        filters.nova_cell(doubled, "cell1")


def test_mapped_hosts():
    assert filters.nova_mapped_hosts(LIST_HOSTS) == ["c1", "c2"]
    assert filters.nova_mapped_hosts(EMPTY_HOSTS) == []


def test_lines_around_the_table_are_ignored():
    noisy = "WARNING something\n" + LIST_HOSTS + "\n"
    assert filters.nova_mapped_hosts(noisy) == ["c1", "c2"]


def test_ragged_row_is_an_error():
    ragged = LIST_HOSTS.replace("|    c2    |", "|    c2    | extra |")
    with pytest.raises(ValueError, match="columns"):
        filters.nova_manage_table(ragged)


def test_registered_with_ansible():
    assert set(filters.FilterModule().filters()) == {
        "nova_manage_table", "nova_cell", "nova_mapped_hosts"}
