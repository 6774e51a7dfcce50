"""The flat network's records in a cell database: the network, its fixed
addresses and the instances' virtual interfaces.

Every address of the network's range has a fixed_ips row, made with the
networks row (``sync_network``, on the first allocation in the cell, as
``nova-manage network create`` made them for nova-network). Reserved rows (the
network and broadcast addresses, the gateway, the addresses below the first
one given out) are never allocated.

Allocation is a compare-and-swap, safe between conductors and processes on any
database: read the lowest free row (on MariaDB and MySQL with ``FOR UPDATE
SKIP LOCKED``, so that allocators running at the same time read different
rows instead of losing the race for one), then ``UPDATE ... WHERE id = :id AND
allocated = 0``. An update that changes no row lost the race; the next attempt
runs in a new transaction, so that on MariaDB (REPEATABLE READ) it sees what
the winner committed. The instance's virtual interface (a MAC address), the
fixed address and the instance's network info cache (instance_extra) are
written in the same transaction.

Releasing (``release``, called by objects.instances.destroy in its own
transaction) clears the row for reuse and soft-deletes the interface.
"""

import json
import random
import uuid as uuidlib

import sqlalchemy as sa
from oslo_db import exception as db_exc

from nova_runtime.db.base import utcnow
from nova_runtime.db.main.models import FixedIp, InstanceExtra, Network, VirtualInterface
from nova_runtime.network.exceptions import AllocationContention, NoMoreFixedIps
from nova_runtime.cells import session
from nova_runtime.objects._db import as_dict, within

# OpenStack's MAC prefix (upstream's [DEFAULT] base_mac): locally administered.
MAC_PREFIX = (0xfa, 0x16, 0x3e)
# Each failed attempt means another allocator got an address, so this bounds
# only pathological contention (or MAC clashes), never a normal build.
MAX_ATTEMPTS = 100
_SYNC_ATTEMPTS = 5


def random_mac(rng=random):
    return ":".join(f"{octet:02x}" for octet in
                    (*MAC_PREFIX, rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)))


# --- the network --------------------------------------------------------------

def sync_network(url, network):
    """The live networks row labelled ``network.label`` (a network.flat.FlatNetwork),
    created with its fixed_ips rows or brought in step with ``network``. Returns
    the row as a dict."""
    for _ in range(_SYNC_ATTEMPTS):
        try:
            with session(url) as db:
                return _sync(db, network)
        except (db_exc.DBDuplicateEntry, db_exc.DBDeadlock):
            # Another conductor created the network or its rows meanwhile: read again.
            continue
    raise AllocationContention(f"cannot bring network {network.label} in step with nova.conf: "
                               "other conductors kept changing it")


def _sync(db, network):
    columns = network.columns()
    row = db.scalar(sa.select(Network).filter_by(label=network.label, deleted=0))
    if row is None:
        row = Network(uuid=str(uuidlib.uuid4()), **columns)
        db.add(row)
        db.flush()
        db.execute(sa.insert(FixedIp), [
            {"address": address, "network_id": row.id, "reserved": reserved,
             "allocated": False, "leased": False, "deleted": 0}
            for address, reserved in network.addresses()])
        return as_dict(row)
    addressing = ("cidr", "gateway", "dhcp_start")
    range_changed = any(getattr(row, key) != columns[key] for key in addressing)
    for key, value in columns.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
    if range_changed:
        _sync_addresses(db, row.id, network)
    return as_dict(row)


def _sync_addresses(db, network_id, network):
    """Rows for the new range: missing ones added, reserved flags set, free
    rows outside the range deleted. An allocated address outside the range
    stays with its instance, reserved, so that it is not given out again."""
    desired = dict(network.addresses())
    existing = db.execute(
        sa.select(FixedIp.id, FixedIp.address).filter_by(network_id=network_id, deleted=0)).all()
    present = {address for _, address in existing}
    missing = [{"address": address, "network_id": network_id, "reserved": reserved,
                "allocated": False, "leased": False, "deleted": 0}
               for address, reserved in desired.items() if address not in present]
    if missing:
        db.execute(sa.insert(FixedIp), missing)
    by_flag = {True: [], False: []}
    outside = []
    for row_id, address in existing:
        if address in desired:
            by_flag[desired[address]].append(row_id)
        else:
            outside.append(row_id)
    for reserved, ids in by_flag.items():
        if ids:
            db.execute(sa.update(FixedIp).where(FixedIp.id.in_(ids)).values(reserved=reserved))
    if outside:
        now = utcnow()
        db.execute(sa.update(FixedIp)
                   .where(FixedIp.id.in_(outside), FixedIp.allocated == sa.false())
                   .values(deleted=FixedIp.id, deleted_at=now))
        db.execute(sa.update(FixedIp).where(FixedIp.id.in_(outside), FixedIp.deleted == 0)
                   .values(reserved=True))


# --- allocation ---------------------------------------------------------------

def allocate(url, network, instance_uuid, host=None, rng=random):
    """One fixed address of ``network`` (its networks row, as sync_network
    returns it) and a virtual interface for the instance; returns its network
    info (see ``network_info``). An instance that has an address already
    keeps it (a retried build asks again).

    NoMoreFixedIps when every address is taken."""
    for _ in range(MAX_ATTEMPTS):
        try:
            with session(url) as db:
                return _try_allocate(db, network, instance_uuid, host, rng)
        except _LostRace:
            continue
        except (db_exc.DBDuplicateEntry, db_exc.DBDeadlock):
            continue  # a MAC address clash, or InnoDB chose this transaction to undo
    raise AllocationContention(
        f"could not allocate a fixed address for instance {instance_uuid} in "
        f"{MAX_ATTEMPTS} attempts: other allocators took every candidate first")


class _LostRace(Exception):
    """Another allocator took the candidate address first."""


def _try_allocate(db, network, instance_uuid, host, rng):
    """The instance's network info with its new address; _LostRace when
    another allocator took the candidate first. Every build runs this: Core
    statements, and the answer made from what it wrote, not read back."""
    # Table-level statements: the ORM's bulk UPDATE and INSERT paths cost more than
    # the statements.
    fixed_ip = FixedIp.__table__.c
    if db.scalar(sa.select(fixed_ip.id).where(fixed_ip.instance_uuid == instance_uuid,
                                              fixed_ip.deleted == 0)
                 .limit(1)) is not None:
        return _network_info(db, instance_uuid)
    free = (fixed_ip.network_id == network["id"], fixed_ip.allocated == sa.false(),
            fixed_ip.reserved == sa.false(), fixed_ip.deleted == 0)
    # SKIP LOCKED: concurrent allocators (a boot storm) each get another row
    # instead of all racing for the lowest one; SQLite ignores the clause.
    # No stale snapshot here (the REPEATABLE READ trap of Placement): FOR UPDATE
    # reads the latest committed row, the UPDATE checks "still free" again, and
    # every retry is a new transaction.
    candidate = db.execute(sa.select(fixed_ip.id, fixed_ip.address).where(*free)
                           .order_by(fixed_ip.id).limit(1)
                           .with_for_update(skip_locked=True)).first()
    if candidate is None:
        raise NoMoreFixedIps(
            f"No fixed IP addresses available in network {network['label']} "
            f"({network['cidr']}): every address from {network['dhcp_start']} up is allocated")
    vif_uuid, mac = str(uuidlib.uuid4()), random_mac(rng)
    vif_id = db.execute(sa.insert(VirtualInterface.__table__).values(
        uuid=vif_uuid, address=mac, network_id=network["id"],
        instance_uuid=instance_uuid)).inserted_primary_key[0]
    taken = db.execute(
        sa.update(FixedIp.__table__).where(fixed_ip.id == candidate.id, *free[1:])
        .values(allocated=True, leased=True, instance_uuid=instance_uuid,
                virtual_interface_id=vif_id, host=host)).rowcount
    if not taken:
        raise _LostRace  # rolls back: the interface goes with the lost race
    info = [_interface(vif_uuid, mac, candidate.address, network)]
    # The info cache, as upstream keeps it: what the API shows as the server's addresses.
    extra = InstanceExtra.__table__
    db.execute(sa.update(extra).where(extra.c.instance_uuid == instance_uuid,
                                      extra.c.deleted == 0)
               .values(network_info=json.dumps(info)))
    return info


def release(db, instance_uuid, now=None):
    """Give back the instance's addresses and delete its interfaces, in the
    caller's transaction (session ``db``). Returns how many addresses."""
    now = now or utcnow()
    released = db.execute(
        sa.update(FixedIp).filter_by(instance_uuid=instance_uuid, deleted=0)
        .values(allocated=False, leased=False, instance_uuid=None, virtual_interface_id=None,
                host=None)).rowcount
    db.execute(sa.update(VirtualInterface).filter_by(instance_uuid=instance_uuid, deleted=0)
               .values(deleted=VirtualInterface.id, deleted_at=now))
    return released


# --- reading ----------------------------------------------------------------------

def network_info(url, instance_uuid, db=None):
    """The instance's interfaces, one dict each, in the order they were made:
    {"id": interface uuid, "address": MAC, "fixed_ip", "bridge", "cidr",
    "gateway", "dns": [...], "label", "network_id": network uuid}.
    [] for an instance without addresses. ``db``: in that session."""
    with within(url, db) as db:
        return _network_info(db, instance_uuid)


def _network_info(db, instance_uuid):
    # Only the columns it needs: whole rows of three tables cost more than
    # the query itself.
    rows = db.execute(
        sa.select(VirtualInterface.uuid, VirtualInterface.address, FixedIp.address,
                  Network.bridge, Network.cidr, Network.gateway, Network.dns1, Network.dns2,
                  Network.label, Network.uuid)
        .join(VirtualInterface, VirtualInterface.id == FixedIp.virtual_interface_id)
        .join(Network, Network.id == FixedIp.network_id)
        .where(FixedIp.instance_uuid == instance_uuid, FixedIp.deleted == 0)
        .order_by(VirtualInterface.id)).all()
    return [_interface(vif_uuid, mac, fixed_ip, {
        "bridge": bridge, "cidr": cidr, "gateway": gateway, "dns1": dns1, "dns2": dns2,
        "label": label, "uuid": network_uuid})
        for vif_uuid, mac, fixed_ip, bridge, cidr, gateway, dns1, dns2, label, network_uuid
        in rows]


def _interface(vif_uuid, mac, fixed_ip, network):
    """One entry of network info: an interface with its address on ``network``
    (the networks row's columns)."""
    return {
        "id": vif_uuid,
        "address": mac,
        "fixed_ip": fixed_ip,
        "bridge": network["bridge"],
        "cidr": network["cidr"],
        "gateway": network["gateway"],
        "dns": [server for server in (network["dns1"], network["dns2"]) if server],
        "label": network["label"],
        "network_id": network["uuid"],
    }


def instance_uuid_by_address(url, address):
    """The uuid of the instance holding fixed address ``address``, or None."""
    with session(url) as db:
        return db.scalar(sa.select(FixedIp.instance_uuid).where(
            FixedIp.address == address, FixedIp.allocated == sa.true(),
            FixedIp.deleted == 0, FixedIp.instance_uuid.is_not(None)))


def get_network(url, label):
    """The live networks row labelled ``label`` as a dict, or None."""
    with session(url) as db:
        row = db.scalar(sa.select(Network).filter_by(label=label, deleted=0))
        return as_dict(row) if row is not None else None


def count(url, network_id, **flags):
    """How many live addresses of the network have the given flags (allocated=True, ...)."""
    with session(url) as db:
        return db.scalar(sa.select(sa.func.count()).select_from(FixedIp)
                         .filter_by(network_id=network_id, deleted=0, **flags))
