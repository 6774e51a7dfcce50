"""The flat network: its options as a whole, allocation, exhaustion, release
and reuse on SQLite, and allocators racing on MariaDB."""

import ipaddress
import threading
import uuid

import pytest
import sqlalchemy as sa

from nova_runtime import config
from nova_runtime.db import engines, migration
from nova_runtime.db.main import models
from nova_runtime.network import api as network_api
from nova_runtime.network import flat
from nova_runtime.network.exceptions import NetworkConfigError, NoMoreFixedIps
from nova_runtime.objects import fixed_ips, instances


def make_conf(**overrides):
    conf = config.new_conf()
    config.load(conf, [], prog="test", default_config_files=[])
    for name, value in overrides.items():
        conf.set_override(name, value)
    return conf


def network(**overrides):
    return flat.from_conf(make_conf(**overrides))


@pytest.fixture
def cell(tmp_path):
    url = f"sqlite:///{tmp_path}/cell.sqlite"
    migration.sync("main", url)
    yield url
    engines.dispose_all()


def new_instance(url):
    return instances.create(url, {"uuid": str(uuid.uuid4()), "project_id": "p",
                                  "vm_state": "building"})["uuid"]


# --- the options --------------------------------------------------------------------

def test_defaults_give_the_gateway_the_first_host_and_instances_the_rest():
    net = network()
    assert (str(net.cidr), str(net.gateway), str(net.dhcp_start)) == (
        "10.0.0.0/24", "10.0.0.1", "10.0.0.2")
    addresses = dict(net.addresses())
    assert len(addresses) == 256
    assert [a for a, reserved in addresses.items() if reserved] == [
        "10.0.0.0", "10.0.0.1", "10.0.0.255"]
    assert net.columns()["netmask"] == "255.255.255.0"
    assert net.columns()["dns1"] == "8.8.4.4" and net.columns()["dns2"] is None


def test_addresses_below_dhcp_start_and_a_gateway_in_the_middle_are_reserved():
    net = network(fixed_range="192.168.50.0/28", gateway="192.168.50.9",
                  flat_network_dhcp_start="192.168.50.5", flat_network_dns=["192.0.2.53"])
    free = [a for a, reserved in net.addresses() if not reserved]
    assert free == [f"192.168.50.{i}" for i in (5, 6, 7, 8, 10, 11, 12, 13, 14)]


@pytest.mark.parametrize("overrides, message", [
    ({"gateway": "10.1.0.1"}, "gateway 10.1.0.1 is not a host address of fixed_range"),
    ({"gateway": "10.0.0.255"}, "gateway 10.0.0.255 is not a host address"),
    ({"flat_network_dhcp_start": "10.0.1.2"}, "flat_network_dhcp_start 10.0.1.2 is not"),
    ({"fixed_range": "10.0.0.0/30", "flat_network_dhcp_start": "10.0.0.2", "gateway": "10.0.0.2"},
     "leaves no address for instances"),
    ({"flat_network_dns": ["192.0.2.1", "192.0.2.2", "192.0.2.3"]}, "at most 2"),
])
def test_options_that_do_not_fit_together_are_named(overrides, message):
    with pytest.raises(NetworkConfigError, match=message):
        network(**overrides)


@pytest.mark.parametrize("value, message", [
    ("10.0.0.1/24", "has host bits set"),
    ("10.0.0.0/8", "prefix must be /16 to /30"),
    ("fd00::/64", "not an IPv4 network"),
])
def test_a_bad_fixed_range_stops_the_configuration_load(tmp_path, value, message):
    path = tmp_path / "nova.conf"
    path.write_text(f"[DEFAULT]\nfixed_range = {value}\n")
    conf = config.new_conf()
    with pytest.raises(config.ConfigError, match=rf"\[DEFAULT\] fixed_range: .*{message}"):
        config.load(conf, ["--config-file", str(path)], prog="test", default_config_files=[])


# --- allocation, exhaustion, release, reuse -------------------------------------------

def test_instances_get_the_lowest_free_address_and_network_info(cell):
    conf = make_conf(fixed_range="10.20.0.0/24", flat_network_bridge="br-flat",
                     flat_network_dns=["192.0.2.53", "192.0.2.54"])
    first, second = new_instance(cell), new_instance(cell)
    info = network_api.allocate_for_instance(conf, cell, first, host="compute1")
    network_api.allocate_for_instance(conf, cell, second)
    assert len(info) == 1
    vif = info[0]
    assert vif["fixed_ip"] == "10.20.0.2"
    assert vif["address"].startswith("fa:16:3e:") and len(vif["address"]) == 17
    assert {k: vif[k] for k in ("bridge", "cidr", "gateway", "dns", "label")} == {
        "bridge": "br-flat", "cidr": "10.20.0.0/24", "gateway": "10.20.0.1",
        "dns": ["192.0.2.53", "192.0.2.54"], "label": "private"}
    assert network_api.get_network_info(cell, first) == info
    assert network_api.get_network_info(cell, second)[0]["fixed_ip"] == "10.20.0.3"
    assert fixed_ips.instance_uuid_by_address(cell, "10.20.0.3") == second
    # Asking again (a retried build) keeps the address.
    assert network_api.allocate_for_instance(conf, cell, first) == info
    engine = engines.get_engine(cell)
    with engine.connect() as connection:
        row = connection.execute(sa.select(models.FixedIp).filter_by(address="10.20.0.2")).one()
        cache = connection.scalar(sa.select(models.InstanceExtra.network_info)
                                  .filter_by(instance_uuid=first))
    assert (row.allocated, row.leased, row.instance_uuid, row.host) == (
        True, True, first, "compute1")
    assert '"fixed_ip": "10.20.0.2"' in cache


def test_exhaustion_fails_clearly_and_a_deleted_instance_gives_its_address_back(cell):
    conf = make_conf(fixed_range="10.30.0.0/29")  # .2 to .6 for instances
    uuids = [new_instance(cell) for _ in range(6)]
    for instance_uuid in uuids[:5]:
        network_api.allocate_for_instance(conf, cell, instance_uuid)
    with pytest.raises(NoMoreFixedIps, match=r"No fixed IP addresses available in network "
                                              r"private \(10.30.0.0/29\)"):
        network_api.allocate_for_instance(conf, cell, uuids[5])
    assert network_api.get_network_info(cell, uuids[5]) == []

    released = network_api.get_network_info(cell, uuids[2])[0]
    instances.destroy(cell, uuids[2], {"vm_state": "deleted"})
    assert network_api.get_network_info(cell, uuids[2]) == []
    assert fixed_ips.instance_uuid_by_address(cell, released["fixed_ip"]) is None

    reused = network_api.allocate_for_instance(conf, cell, uuids[5])[0]
    assert reused["fixed_ip"] == released["fixed_ip"] == "10.30.0.4"
    assert reused["address"] != released["address"]  # a new interface
    with engines.get_engine(cell).connect() as connection:
        vifs = connection.execute(sa.select(models.VirtualInterface.instance_uuid,
                                            models.VirtualInterface.deleted)).all()
    assert (uuids[2], 0) not in vifs and any(u == uuids[2] for u, _ in vifs)


def test_a_changed_range_keeps_allocated_addresses_until_their_release(cell):
    old = make_conf(fixed_range="10.40.0.0/29")
    keeper = new_instance(cell)
    assert network_api.allocate_for_instance(old, cell, keeper)[0]["fixed_ip"] == "10.40.0.2"
    new = make_conf(fixed_range="10.41.0.0/29", flat_network_bridge="br-new")
    newcomer = new_instance(cell)
    assert network_api.allocate_for_instance(new, cell, newcomer)[0]["fixed_ip"] == "10.41.0.2"
    row = fixed_ips.get_network(cell, "private")
    assert (row["cidr"], row["bridge"]) == ("10.41.0.0/29", "br-new")
    with engines.get_engine(cell).connect() as connection:
        live = dict(connection.execute(
            sa.select(models.FixedIp.address, models.FixedIp.reserved).filter_by(deleted=0)).all())
    assert live["10.40.0.2"] is True  # still the keeper's, never given out again
    assert not [a for a in live if a.startswith("10.40.") and a != "10.40.0.2"]
    assert len([a for a in live if a.startswith("10.41.")]) == 8


# --- racing allocators ---------------------------------------------------------------

@pytest.mark.mysql
def test_two_allocators_racing_on_mariadb_never_share_an_address(nova_databases):
    url = nova_databases["main"]
    migration.sync("main", url)
    conf = make_conf(fixed_range="10.50.0.0/27")  # 29 addresses for instances
    uuids = [new_instance(url) for _ in range(32)]
    network_api._synced.clear()
    start = threading.Barrier(2)
    results, errors = {}, []

    def allocator(mine):
        start.wait()
        for instance_uuid in mine:
            try:
                results[instance_uuid] = network_api.allocate_for_instance(
                    conf, url, instance_uuid)[0]["fixed_ip"]
            except NoMoreFixedIps as exc:
                errors.append(exc)

    # Both create the network on first use, then take addresses at once.
    threads = [threading.Thread(target=allocator, args=(uuids[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    try:
        assert len(results) == 29 and len(errors) == 3
        assert len(set(results.values())) == 29
        assert all(ipaddress.IPv4Address(a) in ipaddress.IPv4Network("10.50.0.0/27")
                   for a in results.values())
        with engines.get_engine(url).connect() as connection:
            networks = connection.scalar(sa.select(sa.func.count()).select_from(models.Network))
            allocated = connection.scalar(sa.select(sa.func.count()).select_from(models.FixedIp)
                                          .filter_by(allocated=True))
        assert (networks, allocated) == (1, 29)
    finally:
        network_api._synced.clear()
        engines.dispose_all()


@pytest.mark.mysql
def test_two_conductors_creating_the_network_at_once_make_one(nova_databases):
    url = nova_databases["main"]
    migration.sync("main", url)
    net = network(fixed_range="10.60.0.0/24")
    start = threading.Barrier(2)
    rows = []

    def conductor():
        start.wait()
        rows.append(fixed_ips.sync_network(url, net))  # no process-wide lock in between

    threads = [threading.Thread(target=conductor) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert len(rows) == 2 and rows[0]["id"] == rows[1]["id"]
        with engines.get_engine(url).connect() as connection:
            assert connection.scalar(sa.select(sa.func.count()).select_from(models.FixedIp)
                                     .filter_by(deleted=0)) == 256
    finally:
        engines.dispose_all()
