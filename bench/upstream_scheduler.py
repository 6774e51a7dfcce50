"""Upstream Nova's filter-and-weigh step over the hosts and requests of
bench/scheduler.py: what ``python bench/scheduler.py --against upstream``
compares with. Runs in upstream Nova's virtualenv (harness/upstream.py
``upstream_nova_venv()``), not in nova_runtime's:

    VENV/bin/python bench/upstream_scheduler.py INPUT.json

INPUT.json (written by bench/scheduler.py): the compute node and service rows,
the aggregates, where each server group's members run, the [DEFAULT]
allocation ratios and service_down_time, the warm-up and measured requests.

Upstream's own classes do the work, with upstream's defaults
(``[filter_scheduler] enabled_filters``, ``weight_classes = all_weighers``):
one ``host_manager.HostState`` per node, updated from a ``ComputeNode`` built
by ``ComputeNode._from_db_object`` from the row, its ``Service`` and its
``Aggregate`` objects; a ``RequestSpec`` per request; then, for each instance
of a request, ``SchedulerManager._get_sorted_hosts`` (HostManager's
``get_filtered_hosts`` through ``HostFilterHandler``, ``get_weighed_hosts``
through ``HostWeightHandler``) and ``_consume_selected_host``, as upstream's
``_schedule`` does, so that later requests see fuller hosts. Only that is
timed: not the building of the RequestSpec, nor the Selection objects, the
Placement claims or the reload of host states from the database that
upstream's scheduler also does for each request.

No database, RPC or Placement: HostManager's start-up reads of cells,
aggregates and instances are skipped (the aggregates and instances are
given to each HostState here, as HostManager would). The clock
(oslo_utils.timeutils) is held at the time the rows were made, so that no
service's heartbeat grows stale during a long run.

Prints one JSON line: per-request latencies (ms), the host chosen for each
instance, and what ran.
"""

import datetime
import json
import random
import resource
import sys
import time
import uuid

from oslo_utils import timeutils

import nova.conf
from nova import objects
from nova import version as nova_version
from nova.scheduler import host_manager, manager

CONF = nova.conf.CONF
CELL = "00000000-0000-4000-8000-00000000ce11"


class HostManager(host_manager.HostManager):
    """Upstream's HostManager without its database: no cells to list, no
    aggregates or instances to load at start-up."""

    def refresh_cells_caches(self):
        self.cells, self.enabled_cells = {}, []

    def _init_aggregates(self):
        pass

    def _init_instance_info(self, computes_by_cell=None):
        pass


def _uuid(kind, number):
    """A stable UUID: upstream's UUID fields warn about anything else."""
    return str(uuid.UUID(int=(kind << 64) | number))


def _utc(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)


def _compute_node(row, number, defaults):
    """A ComputeNode from the row as upstream reads it from the database (with
    a UUID of upstream's form for the bench's ``cn-NNNNNNNN``)."""
    db_row = dict(row, uuid=_uuid(6, number), id=number, service_id=number, current_workload=None, running_vms=None,
                  metrics=None, numa_topology=None, pci_stats=None, mapped=1, deleted=0,
                  deleted_at=None)
    # Resolved here as _from_db_object would (it would also write them back).
    for key, value in defaults.items():
        if db_row[key] in (None, 0.0):
            db_row[key] = value
    return objects.ComputeNode._from_db_object(None, objects.ComputeNode(), db_row)


def _service(row, number):
    return objects.Service(
        id=number, host=row["host"], binary=row["binary"], topic="compute",
        disabled=row["disabled"], disabled_reason=None, forced_down=row["forced_down"],
        last_seen_up=_utc(row["last_seen_up"]), report_count=1, created_at=None, updated_at=None, deleted_at=None, deleted=False)


def host_states(data, groups):
    """One HostState per node, in the rows' order, with its aggregates and
    instances: as many instances as its num_instances stat, plus the server
    group members that run there."""
    aggregates_of = {}
    for number, a in enumerate(data["aggregates"], 1):
        aggregate = objects.Aggregate(id=number, uuid=_uuid(1, number), name=a["name"],
                                      hosts=a["hosts"], metadata=a["metadata"])
        for host in a["hosts"]:
            aggregates_of.setdefault(host, []).append(aggregate)
    members_on = {}
    for group in groups.groups.values():
        for member, host in zip(group.members, group.hosts):
            members_on.setdefault(host, []).append(member)
    services = {s["host"]: s for s in data["services"]}
    states, instance_number = [], 0
    for number, row in enumerate(data["nodes"], 1):
        compute = _compute_node(row, number, data["defaults"])
        instances = {}
        for _ in range(int(compute.stats.get("num_instances", 0))):
            instance_number += 1
            key = _uuid(2, instance_number)
            instances[key] = objects.Instance(uuid=key)
        for member in members_on.get(row["host"], ()):
            instances[member] = objects.Instance(uuid=member)
        state = host_manager.HostState(row["host"], row["hypervisor_hostname"], CELL)
        state.update(compute, dict(_service(services[row["host"]], number)),
                     aggregates_of.get(row["host"], []), instances)
        states.append(state)
    return states


def request_spec(request, group, number):
    flavor = request["flavor"]
    return objects.RequestSpec(
        project_id="p" * 32, user_id="u" * 32,
        flavor=objects.Flavor(
            id=number, flavorid=flavor["name"], name=flavor["name"],
            memory_mb=flavor["memory_mb"], vcpus=flavor["vcpus"], root_gb=flavor["root_gb"],
            ephemeral_gb=flavor["ephemeral_gb"], swap=flavor["swap"],
            extra_specs=dict(flavor["extra_specs"])),
        image=objects.ImageMeta.from_dict({"properties": request["image_properties"]}),
        availability_zone=request["availability_zone"],
        instance_group=group, num_instances=request["num_instances"],
        ignore_hosts=None, force_hosts=None, force_nodes=None, requested_destination=None,
        retry=None, scheduler_hints={}, numa_topology=None,
        pci_requests=objects.InstancePCIRequests(requests=[]), requested_resources=[],
        is_bfv=False)


class Groups:
    """The server groups as the database would hand them to each request: its
    members and the hosts they run on. ``groups``: name -> {"policy", "hosts"
    (one host name per member)}."""

    def __init__(self, groups):
        self.groups = {}
        for number, (name, g) in enumerate(sorted(groups.items()), 1):
            members = [_uuid(4, number * 1000 + k) for k in range(len(g["hosts"]))]
            self.groups[name] = objects.InstanceGroup(
                uuid=_uuid(5, number), name=name, policy=g["policy"], policies=[g["policy"]],
                rules={},
                members=members, hosts=list(g["hosts"]), project_id="p" * 32,
                user_id="u" * 32)

    def get(self, name):
        return self.groups[name] if name else None

    def placed(self, group, uuids):
        """After a request: its instances are members, their hosts the group's."""
        if group is not None:
            group.members = group.members + list(uuids)
            group.hosts = list(dict.fromkeys(group.hosts))
            group.obj_reset_changes()


def schedule(scheduler, hosts, spec, uuids):
    """Upstream's _schedule for one request, without Placement: for each
    instance, filter and weigh (the hosts that passed for the previous
    instance), take the best, consume it. Returns the chosen HostStates
    (fewer than the instances if it ran out of hosts)."""
    chosen = []
    for index, instance_uuid in enumerate(uuids):
        spec.instance_uuid = instance_uuid
        spec.obj_reset_changes(["instance_uuid"])
        hosts = scheduler._get_sorted_hosts(spec, hosts, index)
        if not hosts:
            break
        scheduler._consume_selected_host(hosts[0], spec, instance_uuid=instance_uuid)
        chosen.append(hosts[0])
    return chosen


def release(chosen, spec, uuids):
    """Undo a request that did not find a host for every instance. Upstream
    leaves the consumption in its HostStates until the next reload from the
    database overwrites it; nova_runtime gives it back at once."""
    disk_mb = (spec.root_gb + spec.ephemeral_gb) * 1024
    for state, instance_uuid in zip(chosen, uuids):
        state.free_ram_mb += spec.memory_mb
        state.free_disk_mb += disk_mb
        state.vcpus_used -= spec.vcpus
        state.num_instances -= 1
        state.num_io_ops -= 1
        state.instances.pop(instance_uuid, None)
    if spec.instance_group is not None:
        for state in chosen:
            if state.host in spec.instance_group.hosts:
                spec.instance_group.hosts.remove(state.host)


def _hold_clock(now):
    """timeutils.utcnow() answers ``now`` from here on (a plain function, as
    cheap as the real one: upstream's ComputeFilter calls it for every host)."""
    naive = now.replace(tzinfo=None)

    def utcnow(with_timezone=False):
        return now if with_timezone else naive

    timeutils.utcnow = utcnow


def run(data):
    objects.register_all()
    CONF([], project="nova", default_config_files=[])
    CONF.set_override("service_down_time", data["service_down_time"])
    _hold_clock(_utc(data["now"]))
    random.seed(data["seed"])

    groups = Groups(data["groups"])
    t0 = time.perf_counter()
    hosts = host_states(data, groups)
    build_s = time.perf_counter() - t0
    hm = HostManager()
    scheduler = manager.SchedulerManager.__new__(manager.SchedulerManager)
    scheduler.host_manager = hm

    instance_number = 0
    figures = {"latencies_ms": [], "chosen": [], "instances_placed": 0, "no_valid_host": 0}
    for phase in ("warmup", "requests"):
        for number, request in enumerate(data[phase]):
            group = groups.get(request["group"])
            spec = request_spec(request, group, number)
            uuids = []
            for _ in range(request["num_instances"]):
                instance_number += 1
                uuids.append(_uuid(3, instance_number))
            start = time.perf_counter()
            chosen = schedule(scheduler, hosts, spec, uuids)
            elapsed_ms = (time.perf_counter() - start) * 1000
            if len(chosen) < len(uuids):
                release(chosen, spec, uuids)
                chosen = []
            groups.placed(group, uuids[:len(chosen)])
            if phase == "requests":
                figures["latencies_ms"].append(elapsed_ms)
                figures["chosen"].append([state.host for state in chosen])
                figures["instances_placed"] += len(chosen)
                figures["no_valid_host"] += not chosen
    figures.update({
        "host_states_build_s": round(build_s, 2),
        "filters": [type(f).__name__ for f in hm.enabled_filters],
        "weighers": [type(w).__name__ for w in hm.weighers],
        "nova": nova_version.version_string(),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "python": sys.version.split()[0],
        "interpreter": sys.executable,
    })
    return figures


def main():
    with open(sys.argv[1]) as f:
        data = json.load(f)
    print(json.dumps(run(data)))


if __name__ == "__main__":
    main()
