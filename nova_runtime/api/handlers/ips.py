"""/servers/{server_id}/ips: a server's addresses, by network label.

The same addresses as the server body's ``addresses`` (server_views), in
their basic form ({"version", "addr"}, without the OS-EXT-IPS keys), as
upstream lists them here.
"""

from nova_runtime.api import errors, server_views, util
from nova_runtime.api.handlers import servers
from nova_runtime.api import server_listing
from nova_runtime.policies import ips as policies


def _addresses(req, server_id, rule):
    instance = servers.get_server(req, server_id)
    servers.authorize(req, policies.ROOT % rule, instance)
    details = server_listing.details(req.db, [instance])
    return server_views.addresses(details.get(server_id) or {}, extended=False)


def index(req, server_id):
    return util.json_response({"addresses": _addresses(req, server_id, "index")})


def show(req, server_id, network_label):
    addresses = _addresses(req, server_id, "show")
    if network_label not in addresses:
        raise errors.NotFound("Instance is not a member of specified network")
    return util.json_response({network_label: addresses[network_label]})
