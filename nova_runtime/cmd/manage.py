"""nova-manage: database schemas and cells v2 administration.

Usage: nova-manage [--config-file FILE] [--config-dir DIR] CATEGORY ACTION [options]

Exit codes follow upstream Nova's nova-manage; each action's docstring lists
its own. Common to all: 0 done, 1 error (bad input, database unreachable or
not synced; one line on stderr says what to do).
"""

import sys
import types

import oslo_messaging
import prettytable
from oslo_config import cfg

from nova_runtime import cells, cmd, config
from nova_runtime.db import engines, migration
from nova_runtime.objects import cell_mappings
from nova_runtime.objects import exceptions as record_exc

EXIT_OK = 0
EXIT_ERROR = 1


class CommandError(Exception):
    """Stops the action; ``message`` goes to stderr and ``code`` is the exit code."""

    def __init__(self, message, code=EXIT_ERROR):
        super().__init__(message)
        self.code = code


# --- api_db -------------------------------------------------------------------

def api_db_sync(conf, args):
    """Upgrade the API database schema to VERSION or the newest. 0 done."""
    migration.sync("api", _api_url(conf), args.version)
    return EXIT_OK


def api_db_version(conf, args):
    """Print the API database's schema revision. 0 done."""
    print(migration.current_version("api", _api_url(conf)) or "None")
    return EXIT_OK


# --- db -----------------------------------------------------------------------

def db_sync(conf, args):
    """Upgrade this cell's database ([database] connection) and, unless
    --local_cell, cell0's database if cell0 is mapped. 0 done."""
    migration.sync("main", _main_url(conf), args.version)
    if not args.local_cell:
        cell0 = _cell0_if_mapped(conf)
        if cell0 is not None and cell0.database_connection != _main_url(conf):
            migration.sync("main", cell0.database_connection, args.version)
    return EXIT_OK


def db_version(conf, args):
    """Print this cell database's schema revision. 0 done."""
    print(migration.current_version("main", _main_url(conf)) or "None")
    return EXIT_OK


def _cell0_if_mapped(conf):
    # db sync may run before api_db sync (upstream allows it): then there is
    # no cell0 to sync yet.
    api_url = conf.api_database.connection
    if not api_url or migration.current_version("api", api_url) is None:
        return None
    try:
        return cell_mappings.get_cell(api_url, cells.CELL0_UUID)
    except record_exc.CellNotFound:
        return None


# --- cell_v2 ------------------------------------------------------------------

def map_cell0(conf, args):
    """Map cell0 to --database_connection, by default [database] connection with
    the database name suffixed '_cell0'. 0 done or already mapped."""
    api_url = _synced_api_url(conf)
    connection = args.database_connection or cell_mappings.cell0_connection(_main_url(conf))
    _, created = cell_mappings.map_cell0(api_url, connection)
    if not created:
        print("Cell0 is already setup")
    return EXIT_OK


def simple_cell_setup(conf, args):
    """map_cell0, create_cell with the config's settings, discover_hosts.
    0 done, 1 no transport URL or database."""
    api_url = _synced_api_url(conf)
    transport_url = _transport_url(conf, args.transport_url)
    main_url = _main_url(conf)
    cell0, _ = cell_mappings.map_cell0(api_url, cell_mappings.cell0_connection(main_url))
    migration.sync("main", cell0.database_connection)
    existing = [cell for cell in cell_mappings.list_cells(api_url) if cell.uuid != cells.CELL0_UUID]
    if existing:
        print("Cell0 is already setup")
        return EXIT_OK
    cell_mappings.create_cell(api_url, None, transport_url, main_url)
    cell_mappings.discover_hosts(api_url)
    return EXIT_OK


def create_cell(conf, args):
    """Map a new cell. Transport URL and database default to [DEFAULT]
    transport_url and [database] connection. 0 done (--verbose prints the
    UUID), 1 transport URL or database missing or invalid, 2 a cell with the
    same transport URL and database already exists."""
    api_url = _synced_api_url(conf)
    transport_url = _transport_url(conf, args.transport_url)
    connection = args.database_connection or conf.database.connection
    if not connection:
        raise CommandError(
            "Must specify --database_connection if [database]/connection is not set "
            "in the configuration file.")
    try:
        cell = cell_mappings.create_cell(api_url, args.cell_name, transport_url, connection,
                                 disabled=args.disabled)
    except record_exc.CellExists as exc:
        raise CommandError(str(exc), code=2) from None
    if args.verbose:
        print(cell.uuid)
    return EXIT_OK


def list_cells(conf, args):
    """Table of cells; passwords in URLs masked unless --verbose. 0 done."""
    show = (lambda url: url) if args.verbose else engines.mask_password
    table = prettytable.PrettyTable(
        ["Name", "UUID", "Transport URL", "Database Connection", "Disabled"])
    for cell in cell_mappings.list_cells(_synced_api_url(conf)):
        table.add_row([cell.name, cell.uuid, show(cell.transport_url),
                       show(cell.database_connection), cell.disabled])
    print(table)
    return EXIT_OK


def update_cell(conf, args):
    """Change a cell's name, transport URL, database or disabled flag.
    0 done, 1 cell not found or the change is not allowed (cell0's transport
    URL and state are fixed; --enable with --disable), 2... is not used: a
    clash with another cell's transport URL and database is an error (1)."""
    if args.enable and args.disable:
        raise CommandError("Cell cannot be disabled and enabled at the same time.")
    if args.transport_url:
        _transport_url(conf, args.transport_url)
    disabled = True if args.disable else False if args.enable else None
    try:
        cell_mappings.update_cell(_synced_api_url(conf), args.cell_uuid, name=args.cell_name,
                          transport_url=args.transport_url,
                          database_connection=args.database_connection, disabled=disabled)
    except record_exc.CellError as exc:
        raise CommandError(str(exc)) from None
    return EXIT_OK


def delete_cell(conf, args):
    """Delete an empty cell. 0 done, 1 cell not found, 2 hosts are mapped to it
    (without --force), 3 it has instances, 4 it has instance mappings whose
    instances are all deleted (without --force)."""
    codes = {record_exc.CellNotFound: 1, record_exc.CellHasHosts: 2, record_exc.CellHasInstances: 3,
             record_exc.CellHasInstanceMappings: 4}
    try:
        cell_mappings.delete_cell(_synced_api_url(conf), args.cell_uuid, force=args.force)
    except tuple(codes) as exc:
        raise CommandError(str(exc), code=codes[type(exc)]) from None
    return EXIT_OK


def discover_hosts(conf, args):
    """Map compute hosts that are not mapped yet to their cells. 0 done (even
    when nothing was new), 1 with --strict when no new host was mapped, or the
    cell was not found."""
    report = print if args.verbose else (lambda message: None)
    try:
        created = cell_mappings.discover_hosts(_synced_api_url(conf), cell_uuid=args.cell_uuid,
                                       by_service=args.by_service, report=report)
    except record_exc.CellNotFound as exc:
        raise CommandError(str(exc)) from None
    if args.strict and not created:
        return EXIT_ERROR
    return EXIT_OK


def list_hosts(conf, args):
    """Table of mapped hosts, optionally of one cell. 0 done, 1 cell not found."""
    try:
        rows = cell_mappings.list_hosts(_synced_api_url(conf), args.cell_uuid)
    except record_exc.CellNotFound as exc:
        raise CommandError(str(exc)) from None
    table = prettytable.PrettyTable(["Cell Name", "Cell UUID", "Hostname"])
    for cell, host in rows:
        table.add_row([cell.name, cell.uuid, host])
    print(table)
    return EXIT_OK


def delete_host(conf, args):
    """Remove a host's mapping. 0 done, 1 cell not found, 2 host not found,
    3 host is mapped to another cell, 4 host has instances."""
    codes = {record_exc.CellNotFound: 1, record_exc.HostNotFound: 2, record_exc.HostInOtherCell: 3,
             record_exc.HostHasInstances: 4}
    try:
        cell_mappings.delete_host(_synced_api_url(conf), args.cell_uuid, args.host)
    except tuple(codes) as exc:
        raise CommandError(str(exc), code=codes[type(exc)]) from None
    return EXIT_OK


# --- helpers ------------------------------------------------------------------

def _api_url(conf):
    if not conf.api_database.connection:
        raise CommandError("[api_database] connection is not set in the configuration file.")
    return conf.api_database.connection


def _synced_api_url(conf):
    url = _api_url(conf)
    migration.check_synced("api", url, "nova-manage api_db sync")
    return url


def _main_url(conf):
    if not conf.database.connection:
        raise CommandError("[database] connection is not set in the configuration file.")
    return conf.database.connection


def _transport_url(conf, given):
    """The validated transport URL: ``given`` or [DEFAULT] transport_url."""
    url = given or conf.transport_url
    if not url:
        raise CommandError(
            "Must specify --transport-url if [DEFAULT]/transport_url is not set in the "
            "configuration file.")
    try:
        parsed = oslo_messaging.TransportURL.parse(conf, url)
    except (oslo_messaging.InvalidTransportURL, ValueError) as exc:
        raise CommandError(f"Invalid transport URL: {exc}") from None
    if not parsed.transport:
        raise CommandError(f"Invalid transport URL: {url} names no driver")
    return url


# --- command line -------------------------------------------------------------

def _arg(*names, **kwargs):
    return names, kwargs


_CELL_UUID = _arg("--cell_uuid", "--cell-uuid", dest="cell_uuid", metavar="CELL_UUID")
_CONNECTION = _arg("--database_connection", "--database-connection", dest="database_connection",
                   help="database URL; defaults as described")
_TRANSPORT = _arg("--transport-url", "--transport_url", dest="transport_url",
                  help="message queue URL; default [DEFAULT] transport_url")
_NAME = _arg("--name", dest="cell_name", help="the cell's name")
_VERSION = _arg("version", nargs="?", help="target schema revision; default: newest")

# category -> action -> (function, arguments)
COMMANDS = {
    "api_db": {
        "sync": (api_db_sync, [_VERSION]),
        "version": (api_db_version, []),
    },
    "db": {
        "sync": (db_sync, [_VERSION, _arg("--local_cell", "--local-cell", dest="local_cell",
                                          action="store_true",
                                          help="only this cell's database, not cell0")]),
        "version": (db_version, []),
    },
    "cell_v2": {
        "map_cell0": (map_cell0, [_CONNECTION]),
        "simple_cell_setup": (simple_cell_setup, [_TRANSPORT]),
        "create_cell": (create_cell, [
            _NAME, _TRANSPORT, _CONNECTION,
            _arg("--verbose", action="store_true", help="print the new cell's UUID"),
            _arg("--disabled", action="store_true", help="create the cell disabled"),
        ]),
        "list_cells": (list_cells, [
            _arg("--verbose", action="store_true", help="show passwords in URLs")]),
        "update_cell": (update_cell, [
            _CELL_UUID, _NAME, _TRANSPORT, _CONNECTION,
            _arg("--disable", action="store_true"), _arg("--enable", action="store_true"),
        ]),
        "delete_cell": (delete_cell, [
            _CELL_UUID, _arg("--force", action="store_true",
                             help="also delete its host mappings and stale instance mappings"),
        ]),
        "discover_hosts": (discover_hosts, [
            _arg("--cell_uuid", "--cell-uuid", dest="cell_uuid",
                 help="only this cell; default: every cell"),
            _arg("--verbose", action="store_true"),
            _arg("--strict", action="store_true", help="exit 1 when no new host was mapped"),
            _arg("--by-service", "--by_service", dest="by_service", action="store_true",
                 help="find computes by their nova-compute service records"),
        ]),
        "list_hosts": (list_hosts, [_arg("--cell_uuid", "--cell-uuid", dest="cell_uuid")]),
        "delete_host": (delete_host, [_CELL_UUID, _arg("--host", required=True)]),
    },
}
# Actions that must be told which cell.
_NEEDS_CELL = {"update_cell", "delete_cell", "delete_host"}


# oslo.config's subcommand namespace answers names such as "name" and "host"
# with its own values, so every action argument is stored as "arg_<dest>".
_PREFIX = "arg_"


def _add_parsers(subparsers):
    for category, actions in COMMANDS.items():
        category_parser = subparsers.add_parser(category)
        action_parsers = category_parser.add_subparsers(dest="action", metavar="ACTION")
        action_parsers.required = True
        for action, (function, arguments) in actions.items():
            parser = action_parsers.add_parser(action, help=_summary(function))
            dests = []
            for names, kwargs in arguments:
                dest = kwargs.get("dest") or names[0].lstrip("-").replace("-", "_")
                dests.append(dest)
                if action in _NEEDS_CELL and dest == "cell_uuid":
                    kwargs = dict(kwargs, required=True)
                if names[0].startswith("-"):
                    parser.add_argument(*names, **dict(kwargs, dest=_PREFIX + dest))
                else:  # a positional's name is its dest
                    parser.add_argument(_PREFIX + dest, metavar=dest.upper(), **kwargs)
            parser.set_defaults(function=function, dests=dests)


def _action_args(category):
    """The chosen action's arguments, under their own names."""
    return types.SimpleNamespace(
        **{dest: getattr(category, _PREFIX + dest) for dest in category.dests})


def _summary(function):
    return function.__doc__.split(".")[0]


def main(argv=None):
    cmd.quiet_library_logs()
    conf = config.new_conf()
    conf.register_cli_opt(cfg.SubCommandOpt(
        "category", title="categories", handler=_add_parsers, help="what to manage"))
    try:
        config.load(conf, sys.argv[1:] if argv is None else argv, prog="nova-manage")
        return conf.category.function(conf, _action_args(conf.category))
    except config.ConfigError as exc:
        return _fail(str(exc), EXIT_ERROR)
    except CommandError as exc:
        return _fail(str(exc), exc.code)
    except (record_exc.CellError, engines.DatabaseUnavailable, migration.NotSynced) as exc:
        return _fail(str(exc), EXIT_ERROR)
    finally:
        engines.dispose_all()


def _fail(message, code):
    print(f"ERROR: {message}", file=sys.stderr)
    return code

