"""Filters that read nova-manage's tables, so that playbooks never parse text in Jinja.

nova-manage prints prettytable tables:

    +-------+--------------------------------------+---------------+-----
    |  Name |                 UUID                 | Transport URL | ...
    +-------+--------------------------------------+---------------+-----
    | cell0 | 00000000-0000-0000-0000-000000000000 |    none:///   | ...
"""


def nova_manage_table(stdout):
    """Rows of the first table in ``stdout`` as dicts keyed by column header.

    Lines that are not table rows (log lines, blank lines) are ignored.
    """
    rows = [line for line in stdout.splitlines() if line.startswith("|")]
    if not rows:
        return []
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    table = []
    for line in rows[1:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != len(header):
            raise ValueError(f"row has {len(cells)} columns, header {len(header)}: {line!r}")
        table.append(dict(zip(header, cells)))
    return table


def nova_cell(cells, name):
    """The cell called ``name``, or None: from the table of ``cell_v2 list_cells
    --verbose``, or from a list of cells as dicts with the keys below (what
    roles/nova/files/nova-db-revisions.py reads from the API database).

    Two cells with one name are ambiguous for the toolkit, which refers to
    cells by name: that is an error, not a guess.
    """
    if isinstance(cells, str):
        cells = [{
            "name": row["Name"],
            "uuid": row["UUID"],
            "transport_url": row["Transport URL"],
            "database_connection": row["Database Connection"],
            "disabled": row["Disabled"] == "True",
        } for row in nova_manage_table(cells)]
    matches = [cell for cell in cells if cell["name"] == name]
    if len(matches) > 1:
        uuids = ", ".join(cell["uuid"] for cell in matches)
        raise ValueError(f"more than one cell is named {name!r} ({uuids}); "
                         "rename or delete one with nova-manage cell_v2 update_cell/delete_cell")
    return matches[0] if matches else None


def nova_mapped_hosts(list_hosts_stdout):
    """Host names in the table of ``cell_v2 list_hosts``."""
    return [row["Hostname"] for row in nova_manage_table(list_hosts_stdout)]


class FilterModule:
    def filters(self):
        return {
            "nova_manage_table": nova_manage_table,
            "nova_cell": nova_cell,
            "nova_mapped_hosts": nova_mapped_hosts,
        }
