"""What a compute host offers and uses, kept in its compute_nodes rows.

At start and on every periodic run, for each node of the driver: the totals
come from the driver, the usage from the instance records on that node (as
upstream: the database decides what is used, not the hypervisor), plus the
reserved amounts of [DEFAULT]; allocation ratios from [DEFAULT]; host_ip is
[DEFAULT] my_ip. The row is created or updated through nova-conductor.

A node keeps its uuid across restarts: an existing row keeps its own, and a
single-node host records its node's uuid in ``$state_path/compute_id`` (as
upstream does) so that a rebuilt database row gets the same uuid back.
"""

import json
import logging
import math
import os
import uuid as uuidlib

from nova_runtime.objects import exceptions as record_exc

LOG = logging.getLogger(__name__)

COMPUTE_ID_FILE = "compute_id"

# Instances in these vm_states use no resources of the host.
_NOT_ON_HOST = ("shelved_offloaded", "deleted")


class ResourceTracker:
    def __init__(self, conf, host, driver, conductor):
        self.conf = conf
        self.host = host
        self.driver = driver
        self.conductor = conductor
        self.nodes = {}  # nodename -> the compute node record last written

    def update_available_resource(self, context, service_id):
        """Report every node of the driver; returns their records."""
        nodenames = self.driver.get_available_nodes(refresh=True)
        for nodename in nodenames:
            self.nodes[nodename] = self._update_node(context, service_id, nodename,
                                                     single=len(nodenames) == 1)
        return [self.nodes[name] for name in nodenames]

    def _update_node(self, context, service_id, nodename, single):
        resources = self.driver.get_available_resource(nodename)
        instances = [instance for instance in
                     self.conductor.instance_get_all_by_host(context, self.host, nodename)
                     if instance["vm_state"] not in _NOT_ON_HOST]
        values = self.node_values(resources, instances, service_id)
        try:
            existing = self.conductor.compute_node_get_by_host_and_nodename(
                context, self.host, nodename)
        except record_exc.ComputeNodeNotFound:
            node_uuid = self._node_uuid(single)
            node = self.conductor.compute_node_create(context, node_uuid, values)
            LOG.info("Created compute node %s (%s) of host %s: %d vCPUs, %d MB RAM, %d GB disk",
                     nodename, node_uuid, self.host, values["vcpus"], values["memory_mb"],
                     values["local_gb"])
            return node
        if single:
            self._record_uuid(existing["uuid"])
        changed = {key: value for key, value in values.items() if existing.get(key) != value}
        if not changed:
            return existing
        LOG.debug("Updating compute node %s: %s", nodename, sorted(changed))
        return self.conductor.compute_node_update(context, existing["id"], changed)

    def node_values(self, resources, instances, service_id):
        """The compute_nodes columns for a node with ``resources`` (the
        driver's) running ``instances`` (records)."""
        conf = self.conf
        vcpus_used = sum(instance["vcpus"] or 0 for instance in instances)
        memory_mb_used = conf.reserved_host_memory_mb + sum(
            instance["memory_mb"] or 0 for instance in instances)
        local_gb_used = math.ceil(conf.reserved_host_disk_mb / 1024) + sum(
            (instance["root_gb"] or 0) + (instance["ephemeral_gb"] or 0)
            for instance in instances)
        busy = sum(1 for instance in instances if instance["task_state"] is not None)
        return {
            "service_id": service_id,
            "host": self.host,
            "hypervisor_hostname": resources["hypervisor_hostname"],
            "hypervisor_type": resources["hypervisor_type"],
            "hypervisor_version": resources["hypervisor_version"],
            "cpu_info": json.dumps(resources["cpu_info"], sort_keys=True),
            "host_ip": conf.my_ip,
            "vcpus": resources["vcpus"],
            "memory_mb": resources["memory_mb"],
            "local_gb": resources["local_gb"],
            "vcpus_used": vcpus_used,
            "memory_mb_used": memory_mb_used,
            "local_gb_used": local_gb_used,
            "free_ram_mb": resources["memory_mb"] - memory_mb_used,
            "free_disk_gb": resources["local_gb"] - local_gb_used,
            "disk_available_least": resources["disk_available_least"],
            "current_workload": busy,
            "running_vms": len(instances),
            "supported_instances": json.dumps(resources["supported_instances"]),
            "stats": json.dumps({"num_instances": len(instances), "io_workload": busy},
                                sort_keys=True),
            "cpu_allocation_ratio": conf.cpu_allocation_ratio,
            "ram_allocation_ratio": conf.ram_allocation_ratio,
            "disk_allocation_ratio": conf.disk_allocation_ratio,
        }

    # --- stable node uuid ----------------------------------------------------------

    @property
    def _compute_id_path(self):
        return os.path.join(self.conf.state_path, COMPUTE_ID_FILE)

    def _node_uuid(self, single):
        """The uuid for a new row: the recorded one of a single-node host, else new."""
        if single:
            try:
                with open(self._compute_id_path) as stream:
                    return str(uuidlib.UUID(stream.read().strip()))
            except FileNotFoundError:
                pass
            except (OSError, ValueError) as exc:
                LOG.warning("Ignoring %s: %s", self._compute_id_path, exc)
        node_uuid = str(uuidlib.uuid4())
        if single:
            self._record_uuid(node_uuid)
        return node_uuid

    def _record_uuid(self, node_uuid):
        path = self._compute_id_path
        try:
            with open(path) as stream:
                if stream.read().strip() == node_uuid:
                    return
        except OSError:
            pass
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path + ".tmp", "w") as stream:
                stream.write(node_uuid + "\n")
            os.replace(path + ".tmp", path)
        except OSError as exc:
            LOG.warning("Cannot record the compute node uuid %s in %s: %s; it stays stable "
                        "as long as its compute_nodes row exists", node_uuid, path, exc)
