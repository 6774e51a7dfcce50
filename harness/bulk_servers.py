"""N servers written in bulk, as nova-conductor and the computes leave them
(no API calls): for the benchmarks that need a cloud that already holds
servers (bench/api.py's 1,000 to list, bench/boot_storm.py's --existing).

Each server (``server``) is its instances row, flavor, user metadata, system
metadata (image properties) and request spec; ``write_cell`` puts them in a
cell database with their instance_extra, faults and, on the flat network, a
virtual interface and an allocated fixed address each; ``write_api_rows``
their instance mappings and request specs in the API database.
"""

import datetime
import json
import uuid

import sqlalchemy as sa

from nova_runtime.compute import api as compute_api
from nova_runtime.db.api import models as api_models
from nova_runtime.db.main import models as cell_models
from nova_runtime.network import api as network_api
from nova_runtime.objects import fixed_ips

FLAVORS = [  # (flavorid, name, memory_mb, vcpus, root_gb, extra_specs)
    ("1", "m1.tiny", 512, 1, 1, {}),
    ("2", "m1.small", 2048, 1, 20, {"hw:cpu_policy": "shared"}),
    ("3", "m1.medium", 4096, 2, 40,
     {"hw:cpu_policy": "shared", "quota:disk_read_iops_sec": "5000"}),
    ("4", "m1.large", 8192, 4, 80, {"hw:mem_page_size": "any"}),
]
IMAGES = [str(uuid.UUID(int=k + 1)) for k in range(3)]
METADATA_KEYS = ("role", "owner", "env", "tier", "backup")
FAULT_MESSAGE = "No valid host was found. There are not enough hosts available."
FAULT_DETAILS = "Traceback (most recent call last):\n  ...\nNoValidHost\n"


def add_flavors(connection):
    """The FLAVORS in the API database, as dicts of their columns and extra specs."""
    flavors = []
    for flavorid, name, memory_mb, vcpus, root_gb, specs in FLAVORS:
        flavor_id = connection.execute(sa.insert(api_models.Flavor).values(
            flavorid=flavorid, name=name, memory_mb=memory_mb, vcpus=vcpus, root_gb=root_gb,
            ephemeral_gb=0, swap=0, rxtx_factor=1.0, is_public=True,
            disabled=False)).inserted_primary_key[0]
        for key, value in specs.items():
            connection.execute(sa.insert(api_models.FlavorExtraSpec).values(
                flavor_id=flavor_id, key=key, value=value))
        flavors.append({"id": flavor_id, "flavorid": flavorid, "name": name,
                        "memory_mb": memory_mb, "vcpus": vcpus, "root_gb": root_gb,
                        "ephemeral_gb": 0, "swap": 0, "rxtx_factor": 1.0, "vcpu_weight": None,
                        "is_public": True, "disabled": False, "description": None,
                        "extra_specs": dict(specs)})
    return flavors


def server(index, flavor, project, user, created, vm_state, power, host, rng):
    """One server: its instances row, flavor, metadata, system metadata and request spec."""
    server_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    name = f"{rng.choice(['web', 'db', 'cache', 'worker', 'api'])}-{index:04d}"
    image = rng.choice(IMAGES)
    zone = "nova" if host else None
    instance = {
        "uuid": server_uuid, "display_name": name, "display_description": None,
        "hostname": compute_api.hostname(name, server_uuid), "project_id": project,
        "user_id": user, "image_ref": image, "memory_mb": flavor["memory_mb"],
        "vcpus": flavor["vcpus"], "root_gb": flavor["root_gb"], "ephemeral_gb": 0,
        "instance_type_id": flavor["id"], "key_name": "mykey", "key_data": "ssh-ed25519 AAAA",
        "user_data": None, "availability_zone": zone, "vm_state": vm_state,
        "task_state": None, "power_state": power, "reservation_id": f"r-{index:08x}",
        "launch_index": 0, "locked": False, "config_drive": "", "progress": 0,
        "host": host, "node": host, "launched_on": host, "os_type": "linux",
        "launched_at": created + datetime.timedelta(seconds=30) if host else None,
        "created_at": created, "updated_at": created + datetime.timedelta(seconds=31),
        "deleted": 0,
    }
    metadata = {key: f"{key}-{rng.randint(1, 9)}"
                for key in rng.sample(METADATA_KEYS, rng.randint(0, 3))}
    system_metadata = {"image_base_image_ref": image, "image_min_ram": "0",
                       "image_min_disk": "1", "image_disk_format": "qcow2",
                       "image_container_format": "bare", "image_os_type": "linux",
                       "image_hw_disk_bus": "virtio"}
    spec = {"flavor": flavor, "image": {"id": image, "properties": {"os_type": "linux"}},
            "availability_zone": None, "instance_group": None, "scheduler_hints": {},
            "force_hosts": None, "force_nodes": None, "ignore_hosts": [], "num_instances": 1,
            "project_id": project, "user_id": user, "instance_uuid": server_uuid}
    return {"instance": instance, "flavor": flavor, "metadata": metadata,
            "system_metadata": system_metadata, "request_spec": spec}


def write_cell(conf, url, servers, with_network, rng):
    if not servers:
        return
    network = None
    if with_network:  # the flat network's rows, as the first allocation in a cell makes them
        network = network_api.network_row(conf, url)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.insert(cell_models.Instance), [s["instance"] for s in servers])
        network_infos = _allocate(connection, network, servers, rng) if network else {}
        for server in servers:
            server["network_info"] = network_infos.get(server["instance"]["uuid"], [])
        connection.execute(sa.insert(cell_models.InstanceExtra), [
            {"instance_uuid": s["instance"]["uuid"],
             "flavor": json.dumps({"cur": s["flavor"], "old": None, "new": None}),
             "network_info": json.dumps(s["network_info"]),
             "deleted": 0} for s in servers])
        metadata = [{"instance_uuid": s["instance"]["uuid"], "key": k, "value": v, "deleted": 0}
                    for s in servers for k, v in s["metadata"].items()]
        if metadata:
            connection.execute(sa.insert(cell_models.InstanceMetadata), metadata)
        connection.execute(sa.insert(cell_models.InstanceSystemMetadata), [
            {"instance_uuid": s["instance"]["uuid"], "key": k, "value": v, "deleted": 0}
            for s in servers for k, v in s["system_metadata"].items()])
        faults = [s for s in servers if s["instance"]["vm_state"] == "error"]
        if faults:
            connection.execute(sa.insert(cell_models.InstanceFault), [
                {"instance_uuid": s["instance"]["uuid"], "code": 500,
                 "message": FAULT_MESSAGE, "details": FAULT_DETAILS,
                 "host": s["instance"]["host"], "created_at": s["instance"]["created_at"],
                 "deleted": 0} for s in faults])
    engine.dispose()


def _allocate(connection, network, servers, rng):
    """A virtual interface and a fixed address for each server, as
    objects.fixed_ips.allocate gives them; returns {uuid: network_info}."""
    free = connection.execute(
        sa.select(cell_models.FixedIp.id, cell_models.FixedIp.address)
        .where(cell_models.FixedIp.network_id == network["id"],
               cell_models.FixedIp.allocated == sa.false(),
               cell_models.FixedIp.reserved == sa.false(), cell_models.FixedIp.deleted == 0)
        .order_by(cell_models.FixedIp.id).limit(len(servers))).all()
    if len(free) < len(servers):
        raise SystemExit(f"fixed_range has {len(free)} free addresses for {len(servers)} servers")
    macs = set()
    while len(macs) < len(servers):
        macs.add(fixed_ips.random_mac(rng))
    vifs = [{"uuid": str(uuid.uuid4()), "address": mac, "network_id": network["id"],
             "instance_uuid": s["instance"]["uuid"], "deleted": 0}
            for s, mac in zip(servers, sorted(macs))]
    connection.execute(sa.insert(cell_models.VirtualInterface), vifs)
    vif_ids = dict(connection.execute(sa.select(
        cell_models.VirtualInterface.instance_uuid, cell_models.VirtualInterface.id)).all())
    connection.execute(
        sa.update(cell_models.FixedIp).where(cell_models.FixedIp.id == sa.bindparam("row_id"))
        .values(allocated=True, leased=True, instance_uuid=sa.bindparam("uuid"),
                virtual_interface_id=sa.bindparam("vif_id"), host=sa.bindparam("row_host")),
        [{"row_id": row_id, "uuid": vif["instance_uuid"], "vif_id": vif_ids[vif["instance_uuid"]],
          "row_host": s["instance"]["host"]}
         for (row_id, _), vif, s in zip(free, vifs, servers)])
    dns = [server for server in (network["dns1"], network["dns2"]) if server]
    return {vif["instance_uuid"]: [{
        "id": vif["uuid"], "address": vif["address"], "fixed_ip": address,
        "bridge": network["bridge"], "cidr": network["cidr"], "gateway": network["gateway"],
        "dns": dns, "label": network["label"], "network_id": network["uuid"]}]
        for (_, address), vif in zip(free, vifs)}


def write_api_rows(connection, servers_by_cell_id):
    """Each server's instance mapping (to its cell's id) and request spec."""
    connection.execute(sa.insert(api_models.InstanceMapping), [
        {"instance_uuid": s["instance"]["uuid"], "cell_id": cell_id,
         "project_id": s["instance"]["project_id"], "user_id": s["instance"]["user_id"],
         "queued_for_delete": False}
        for cell_id, members in servers_by_cell_id.items() for s in members])
    connection.execute(sa.insert(api_models.RequestSpec), [
        {"instance_uuid": s["instance"]["uuid"], "spec": json.dumps(s["request_spec"])}
        for members in servers_by_cell_id.values() for s in members])
