"""/os-networks (below microversion 2.36): the flat network, as nova-network
showed its networks before Neutron.

Each cell keeps the flat network of nova.conf in its ``networks`` row, made
by the super-conductor at its first allocation. A cell that has not made it
yet gets it here, from the same nova.conf, so that a fresh cloud already
lists the network its first server will be on; the row's uuid is the
network's stable id, and the same network in several cells is shown once.
Fields that only Neutron or nova-network's other managers had (IPv6, VLAN,
VPN, ...) are null, as upstream shows them; admins see the host-side fields.
"""

import sqlalchemy as sa

from nova_runtime import cells
from nova_runtime.api import errors, util
from nova_runtime.db.main import models
from nova_runtime.network import api as network_api
from nova_runtime.policies import networks as policies

_FIELDS = ("cidr", "netmask", "gateway", "broadcast", "dns1", "dns2", "label")
_NULL_FIELDS = ("cidr_v6", "gateway_v6", "netmask_v6")
_ADMIN_FIELDS = ("bridge", "dhcp_start", "bridge_interface")
_NULL_ADMIN_FIELDS = ("injected", "vlan", "vpn_public_address", "vpn_public_port",
                      "vpn_private_address", "project_id", "host", "multi_host", "priority",
                      "rxtx_base", "mtu", "dhcp_server", "enable_dhcp", "share_address")


def _read(cell):
    with cells.session(cell.database_connection) as session:
        rows = session.scalars(sa.select(models.Network).filter_by(deleted=0)).all()
        return [{column: getattr(row, column) for column in
                 ("uuid", "created_at", "updated_at", "deleted_at", *_FIELDS, *_ADMIN_FIELDS)}
                for row in rows]


def _networks(req):
    """The networks of every cell, one per uuid, made where missing."""
    found = {}
    for cell, rows in req.db.scatter(_read):
        if isinstance(rows, cells.CellDown):
            continue
        if not rows:
            network_api.network_row(req.conf, cell.database_connection)
            rows = _read(cell)
        for row in rows:
            found.setdefault(row["uuid"], row)
    return list(found.values())


def _view(req, row):
    view = {"id": row["uuid"], **{key: row[key] for key in _FIELDS}}
    view.update(dict.fromkeys(_NULL_FIELDS))
    if req.context.is_admin:
        view.update({key: row[key] for key in _ADMIN_FIELDS})
        view.update({key: util.timestamp(row[key])
                     for key in ("created_at", "updated_at", "deleted_at")})
        view.update(dict.fromkeys(_NULL_ADMIN_FIELDS))
        view["deleted"] = False
    return view


def index(req):
    req.context.can(policies.POLICY_ROOT % "list", target={"project_id": req.context.project_id})
    return util.json_response({"networks": [_view(req, row) for row in _networks(req)]})


def show(req, network_id):
    req.context.can(policies.POLICY_ROOT % "show", target={"project_id": req.context.project_id})
    for row in _networks(req):
        if row["uuid"] == network_id:
            return util.json_response({"network": _view(req, row)})
    raise errors.NotFound("Network not found")
