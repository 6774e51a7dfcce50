"""/servers/{id}/ips: the server body's addresses, in their basic form."""

import uuid

from nova_runtime import config
from nova_runtime.network import flat
from nova_runtime.objects import fixed_ips
from tests.unit.api.test_servers import MEMBER, OTHER, add_server


def _addressed_server(urls):
    conf = config.new_conf()
    config.load(conf, [], prog="test", default_config_files=[])
    network = fixed_ips.sync_network(urls["cell1"], flat.from_conf(conf))
    server = add_server(urls, "web")
    fixed_ips.allocate(urls["cell1"], network, server)
    return server


def test_ips_are_the_bodys_addresses_without_the_extensions(cloud):
    client, urls = cloud
    server = _addressed_server(urls)
    body = client("GET", f"/v2.1/servers/{server}", **MEMBER).data["server"]
    [label] = body["addresses"]
    basic = {label: [{"version": ip["version"], "addr": ip["addr"]}
                     for ip in body["addresses"][label]]}
    listed = client("GET", f"/v2.1/servers/{server}/ips", **MEMBER)
    assert listed.status_int == 200 and listed.data == {"addresses": basic}
    one = client("GET", f"/v2.1/servers/{server}/ips/{label}", **MEMBER)
    assert one.status_int == 200 and one.data == basic


def test_unknown_label_server_or_owner_is_404(cloud):
    client, urls = cloud
    server = _addressed_server(urls)
    unknown = client("GET", f"/v2.1/servers/{server}/ips/nowhere", **MEMBER)
    assert unknown.status_int == 404
    assert unknown.data["itemNotFound"]["message"] == (
        "Instance is not a member of specified network")
    assert client("GET", f"/v2.1/servers/{server}/ips", **OTHER).status_int == 404
    assert client("GET", f"/v2.1/servers/{uuid.uuid4()}/ips", **MEMBER).status_int == 404
    # A server without an address yet has none.
    bare = add_server(urls, "bare")
    assert client("GET", f"/v2.1/servers/{bare}/ips", **MEMBER).data == {"addresses": {}}
