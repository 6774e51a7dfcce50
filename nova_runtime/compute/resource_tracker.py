"""What a compute host offers and uses, kept in its compute_nodes rows.

At start and on every periodic run, for each node of the driver: the totals
come from the driver, the usage from the instance records on that node (as
upstream: the database decides what is used, not the hypervisor), plus the
reserved amounts of [DEFAULT]; allocation ratios from [DEFAULT]; host_ip is
[DEFAULT] my_ip. The row is created or updated through nova-conductor.

Claims: before a build, ``instance_claim`` checks that the node can take the
instance within the limits the scheduler's filters applied (RAM, disk and
vCPUs times their allocation ratios), then puts the instance on the node (its
host and node columns) and writes the node's new usage at once, so that the
scheduler's next read sees it; ``abort_instance_claim`` undoes that when the
build fails. One lock orders claims and reports of this host.

A node keeps its uuid across restarts: an existing row keeps its own, and a
single-node host records its node's uuid in ``$state_path/compute_id`` (as
upstream does) so that a rebuilt database row gets the same uuid back.
"""

import json
import logging
import math
import os
import threading
import uuid as uuidlib

from nova_runtime.compute import task_states
from nova_runtime.objects import exceptions as record_exc

LOG = logging.getLogger(__name__)

COMPUTE_ID_FILE = "compute_id"

# Instances in these vm_states use no resources of the host.
_NOT_ON_HOST = ("shelved_offloaded", "deleted")


class ClaimFailed(Exception):
    """The node cannot take the instance; the message says which resource."""


# (limit key the scheduler's filters set, total column, used column, unit)
_CLAIMED = (
    ("memory_mb", "memory_mb", "memory_mb_used", "MB of RAM"),
    ("disk_gb", "local_gb", "local_gb_used", "GB of disk"),
    ("vcpu", "vcpus", "vcpus_used", "vCPUs"),
)


def _requested(instance):
    return {"memory_mb": instance["memory_mb"] or 0,
            "disk_gb": (instance["root_gb"] or 0) + (instance["ephemeral_gb"] or 0),
            "vcpu": instance["vcpus"] or 0}


class ResourceTracker:
    def __init__(self, conf, host, driver, conductor):
        self.conf = conf
        self.host = host
        self.driver = driver
        self.conductor = conductor
        self.nodes = {}  # nodename -> the compute node record last written
        self._lock = threading.RLock()

    def update_available_resource(self, context, service_id):
        """Report every node of the driver; returns their records."""
        with self._lock:
            nodenames = self.driver.get_available_nodes(refresh=True)
            for nodename in nodenames:
                self.nodes[nodename] = self._update_node(context, service_id, nodename,
                                                         single=len(nodenames) == 1)
            return [self.nodes[name] for name in nodenames]

    def update_node(self, context, service_id, nodename):
        """Report one node now (after an instance left it)."""
        with self._lock:
            self.nodes[nodename] = self._update_node(context, service_id, nodename,
                                                     single=len(self.nodes) <= 1)
            return self.nodes[nodename]

    # --- claims ------------------------------------------------------------------

    def instance_claim(self, context, service_id, instance, nodename, limits):
        """Put ``instance`` (task_state scheduling) on ``nodename`` if it fits
        within ``limits`` ({"memory_mb", "disk_gb", "vcpu"}: a missing key is
        no limit). Returns the instance record with its host and node set.
        Raises ClaimFailed, or UnexpectedTaskState / InstanceNotFound when the
        instance was deleted meanwhile."""
        with self._lock:
            node = self.nodes.get(nodename)
            if node is None:
                raise ClaimFailed(f"host {self.host} has no node {nodename}")
            self._test(node, instance, limits or {})
            instance = self.conductor.instance_update(
                context, instance["uuid"],
                {"host": self.host, "node": nodename, "launched_on": self.host},
                expected_task_states=[task_states.SCHEDULING])
            self.nodes[nodename] = self._update_node(context, service_id, nodename,
                                                     single=len(self.nodes) == 1)
            LOG.info("Claimed %s MB RAM, %s GB disk, %s vCPUs on node %s for instance %s",
                     instance["memory_mb"], _requested(instance)["disk_gb"], instance["vcpus"],
                     nodename, instance["uuid"])
            return instance

    def abort_instance_claim(self, context, service_id, instance, nodename):
        """Take the instance off the node again (the build failed)."""
        with self._lock:
            try:
                self.conductor.instance_update(context, instance["uuid"],
                                               {"host": None, "node": None})
            except record_exc.InstanceNotFound:
                pass  # deleted meanwhile: it counts no more either way
            self.nodes[nodename] = self._update_node(context, service_id, nodename,
                                                     single=len(self.nodes) == 1)

    def _test(self, node, instance, limits):
        requested = _requested(instance)
        for key, total_column, used_column, unit in _CLAIMED:
            limit = limits.get(key)
            if limit is None or not requested[key]:
                continue
            free = limit - node[used_column]
            if requested[key] > free:
                raise ClaimFailed(
                    f"node {node['hypervisor_hostname']} has {free:g} {unit} free within its "
                    f"limit of {limit:g} ({node[total_column]} total, {node[used_column]} used); "
                    f"instance {instance['uuid']} needs {requested[key]}")

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
