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
scheduler's next read sees it (adding the instance to the node's record:
one write, no recount); ``abort_instance_claim`` undoes that when the
build fails. One lock orders claims and reports of this host.

Resizes and cold migrations: the destination's ``move_claim`` checks the new
flavor the same way and records its node in the migration; from then on,
until the migration is confirmed, reverted or failed, the source counts the
instance's old flavor and the destination its new one, whichever host the
instance record names (``_moving_usage``).

A node keeps its uuid across restarts: an existing row keeps its own, and a
single-node host records its node's uuid in ``$state_path/compute_id`` (as
upstream does) so that a rebuilt database row gets the same uuid back.

Placement (when [placement] has auth_type): after the rows, each node's
resource provider (uuid: the node's, name: its hypervisor hostname), its
VCPU, MEMORY_MB and DISK_GB inventories and its traits are made current
(nova_runtime.placement.report: only what changed is written). A Placement
that fails is one error line per periodic run, and the next run tries again;
the compute_nodes rows are written either way.
"""

import json
import logging
import math
import os
import threading
import uuid as uuidlib

from nova_runtime import placement
from nova_runtime.states import task_states
from nova_runtime.objects import exceptions as record_exc
from nova_runtime.placement import report as placement_report
from nova_runtime.placement import resources as placement_resources

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


def _flavor_usage(flavor):
    """A flavor's resources in the shape of an instance record's."""
    return {key: flavor.get(key) or 0 for key in ("memory_mb", "vcpus", "root_gb",
                                                   "ephemeral_gb")}


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
        client = placement.from_conf(conf)  # PlacementConfigError: cannot start
        if client is None:
            placement.warn_without_placement(LOG, "nova-compute")
        self.allocations = placement.Allocations(client)
        self._providers = placement_report.ProviderReport(client) if client else None
        self._placement_lock = threading.Lock()
        self._placement_failing = False

    def update_available_resource(self, context, service_id):
        """Report every node of the driver, to the database and to Placement;
        returns their records."""
        with self._lock:
            nodenames = self.driver.get_available_nodes(refresh=True)
            for nodename in nodenames:
                self.nodes[nodename] = self._update_node(context, service_id, nodename,
                                                         single=len(nodenames) == 1)
            records = [self.nodes[name] for name in nodenames]
        # Outside the claims' lock: Placement may be slow to answer.
        self.report_to_placement(records)
        return records

    # --- Placement -------------------------------------------------------------------

    def report_to_placement(self, records):
        """Make the resource providers of ``records`` (compute node records)
        current. Returns False when Placement failed (logged as an error)."""
        if self._providers is None:
            return True
        with self._placement_lock:
            failures = []
            for node in records:
                inventories = placement_resources.inventories(node, self.conf)
                traits = placement_resources.traits(self.driver.capabilities,
                                                    _json_dict(node.get("cpu_info")))
                try:
                    written = self._providers.update(
                        node["uuid"], node["hypervisor_hostname"], inventories, traits)
                except placement.PlacementError as exc:
                    failures.append(f"node {node['hypervisor_hostname']}: {exc}")
                    continue
                if written:
                    LOG.info("Resource provider %s (%s) in Placement: wrote its %s",
                             node["hypervisor_hostname"], node["uuid"], ", ".join(written))
            if failures:
                LOG.error("Cannot report to Placement (trying again in the next periodic "
                          "run): %s", "; ".join(failures))
            elif self._placement_failing:
                LOG.info("Reporting to Placement works again")
            self._placement_failing = bool(failures)
            return not failures

    def delete_allocations(self, instance_uuid):
        """Release the instance's allocations in Placement (it is gone)."""
        self.allocations.release(instance_uuid)

    def update_node(self, context, service_id, nodename):
        """Report one node now (after an instance left it)."""
        with self._lock:
            self.nodes[nodename] = self._update_node(context, service_id, nodename,
                                                     single=len(self.nodes) <= 1)
            return self.nodes[nodename]

    # --- claims ------------------------------------------------------------------

    def instance_claim(self, context, service_id, instance, nodename, limits, also=None,
                       event=None, config_drive=False, expected=(task_states.SCHEDULING,)):
        """Put ``instance`` (task_state scheduling) on ``nodename`` if it fits
        within ``limits`` ({"memory_mb", "disk_gb", "vcpu"}: a missing key is
        no limit), setting the values of ``also`` (e.g. the next task_state)
        in the same update. One conductor call (instance_claim) starts the
        step ``event``, writes the instance and the node's new usage, and
        answers with the instance's spawn info (with ``config_drive``, what a
        config drive needs too): returns that answer, {"instance", "node",
        "spawn_info"}.
        ``expected``: the task states the instance may be in (a build's
        scheduling; an unshelve's unshelving).
        Raises ClaimFailed (before the conductor is asked), or
        UnexpectedTaskState / InstanceNotFound when the instance was deleted
        meanwhile."""
        with self._lock:
            node = self.nodes.get(nodename)
            if node is None:
                raise ClaimFailed(f"host {self.host} has no node {nodename}")
            self._test(node, instance, limits or {})
            claimed = self.conductor.instance_claim(
                context, instance["uuid"],
                dict(also or {}, host=self.host, node=nodename, launched_on=self.host),
                expected_task_states=list(expected), node_id=node["id"],
                node_values=self._usage_with(node, instance), event=event, host=self.host,
                config_drive=config_drive)
            self.nodes[nodename] = claimed["node"]
            LOG.info("Claimed %s MB RAM, %s GB disk, %s vCPUs on node %s for instance %s",
                     instance["memory_mb"], _requested(instance)["disk_gb"], instance["vcpus"],
                     nodename, instance["uuid"])
            return claimed

    @staticmethod
    def _usage_with(node, instance):
        """The node's usage columns with ``instance`` counted too. Only this
        tracker writes its nodes' usage, under its lock, so a claim adds to
        the record instead of counting every instance on the node again (as
        upstream's claims do); the periodic run and every release count them
        all."""
        requested = _requested(instance)
        used = {"vcpus_used": node["vcpus_used"] + requested["vcpu"],
                "memory_mb_used": node["memory_mb_used"] + requested["memory_mb"],
                "local_gb_used": node["local_gb_used"] + requested["disk_gb"],
                "running_vms": (node["running_vms"] or 0) + 1,
                # A claimed instance is busy (task_state scheduling).
                "current_workload": (node["current_workload"] or 0) + 1}
        stats = _json_dict(node.get("stats"))
        stats.update(num_instances=used["running_vms"], io_workload=used["current_workload"])
        used.update(free_ram_mb=node["memory_mb"] - used["memory_mb_used"],
                    free_disk_gb=node["local_gb"] - used["local_gb_used"],
                    stats=json.dumps(stats, sort_keys=True))
        return used

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

    def move_claim(self, context, service_id, instance, migration, flavor, nodename, limits):
        """The destination's claim of a resize or cold migration: ``flavor``
        must fit on ``nodename`` within ``limits``; then the migration (status
        pre-migrating) records the node, which makes this node count the
        instance's new flavor from now on (see _moving_usage). Returns the
        migration record. Raises ClaimFailed."""
        with self._lock:
            node = self.nodes.get(nodename)
            if node is None:
                raise ClaimFailed(f"host {self.host} has no node {nodename}")
            # The conductor named this node in the migration before this claim:
            # a report made since counts the migration already, so test against
            # the node without it.
            without = self._node_usage(context, service_id, nodename,
                                       ignore_migration=migration["id"])
            self._test(dict(node, **without), dict(_flavor_usage(flavor), uuid=instance["uuid"]),
                       limits or {})
            migration = self.conductor.migration_update(
                context, migration["id"], {"dest_compute": self.host, "dest_node": nodename,
                                           "dest_host": self.conf.my_ip})
            self.nodes[nodename] = self._update_node(context, service_id, nodename,
                                                     single=len(self.nodes) == 1)
            LOG.info("Claimed %s MB RAM, %s GB disk, %s vCPUs on node %s for the %s of "
                     "instance %s", flavor["memory_mb"], _requested(flavor)["disk_gb"],
                     flavor["vcpus"], nodename, migration["migration_type"], instance["uuid"])
            return migration

    def _moving_usage(self, context, nodename, instances, ignore_migration=None):
        """What migrations in progress hold on this node besides ``instances``
        (the records on it): the source keeps the old flavor, the destination
        the new one, until confirm or revert. A resize to the same node holds
        both: the flavor the instance record does not show yet (or any more)."""
        here = {instance["uuid"]: instance for instance in instances}
        usage = []
        for migration in self.conductor.migration_get_in_progress_by_host_and_node(
                context, self.host, nodename):
            old, new = migration["old_flavor"], migration["new_flavor"]
            if old is None or new is None or migration["id"] == ignore_migration:
                continue
            source = (migration["source_compute"], migration["source_node"]) == (
                self.host, nodename)
            dest = (migration["dest_compute"], migration["dest_node"]) == (self.host, nodename)
            instance = here.get(migration["instance_uuid"])
            if source and dest:
                shows_new = instance is not None and _requested(instance) == _requested(
                    _flavor_usage(new))
                usage.append(_flavor_usage(old if shows_new else new))
            elif instance is None:
                usage.append(_flavor_usage(old if source else new))
        return usage

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

    def _node_usage(self, context, service_id, nodename, ignore_migration=None):
        """The compute_nodes columns of ``nodename`` as the driver and the
        records show it now (without the migration ``ignore_migration``)."""
        resources = self.driver.get_available_resource(nodename)
        instances = [instance for instance in
                     self.conductor.instance_get_all_by_host(context, self.host, nodename)
                     if instance["vm_state"] not in _NOT_ON_HOST]
        moving = self._moving_usage(context, nodename, instances, ignore_migration)
        return self.node_values(resources, instances, service_id, moving)

    def _update_node(self, context, service_id, nodename, single):
        values = self._node_usage(context, service_id, nodename)
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

    def node_values(self, resources, instances, service_id, moving=()):
        """The compute_nodes columns for a node with ``resources`` (the
        driver's) running ``instances`` (records), plus the usage of
        migrations in progress (``moving``: flavor dicts, see _moving_usage)."""
        conf = self.conf
        using = [*instances, *moving]
        vcpus_used = sum(instance["vcpus"] or 0 for instance in using)
        memory_mb_used = conf.reserved_host_memory_mb + sum(
            instance["memory_mb"] or 0 for instance in using)
        local_gb_used = math.ceil(conf.reserved_host_disk_mb / 1024) + sum(
            (instance["root_gb"] or 0) + (instance["ephemeral_gb"] or 0)
            for instance in using)
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


def _json_dict(text):
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
