"""Placement with the real services: the upstream Placement API and Keystone
(harness/placement.py, harness/keystone.py), RabbitMQ and MariaDB, and the real
daemons (harness/cloud.py's Cloud): nova-conductor, two nova-schedulers and
fake nova-computes, with [placement] set as the toolkit sets it (the catalog
gives the endpoint).

The computes (fake driver, [DEFAULT] reserved_host_memory_mb = 256, each with
its own allocation ratios):

    c1   3328 MB RAM (room for three 1 GiB servers), 4 vCPUs x 4.0, disk x 1.0
    c2   8448 MB RAM, 2 vCPUs x 1.0, 100 GB disk x 2.0
    bad 16640 MB RAM, 2 vCPUs, fake.SpawnFailsDriver: disabled, except in the
        reschedule test, where it has the most free RAM.

A 4-vCPU flavor fits only c1 (c2 and bad have 2 vCPUs at ratio 1.0), so
boots of it race for c1's room.
"""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import concurrent.futures
import contextlib
import dataclasses
import socket
import threading
import time
import uuid

import pytest
from keystoneauth1 import loading as ks_loading

from nova_runtime import cells, config, placement as placement_api
from nova_runtime.objects import instance_actions, instance_mappings
from nova_runtime.placement import claims, report, resources
from nova_runtime.scheduler import NoValidHost, manager
from harness.cloud import REFRESH, RESERVED_MB, Cloud, Compute, context, flavor
from harness.databases import module_databases
from harness.processes import free_port, wait_until
from tests.unit.test_scheduler_manager import add_host, admin, chosen, make_conf, spec
from tests.unit.test_scheduler_manager import deployment  # noqa: F401  (fixture)
from nova_runtime.objects import cell_mappings

pytestmark = pytest.mark.mysql

COMPUTES = {
    # host: (driver, memory_mb, vcpus, local_gb, cpu ratio, ram ratio, disk ratio)
    "c1": ("fake.FakeDriver", RESERVED_MB + 3 * 1024, 4, 100, 4.0, 1.0, 1.0),
    "c2": ("fake.FakeDriver", RESERVED_MB + 8192, 2, 100, 1.0, 1.0, 2.0),
    "bad": ("fake.SpawnFailsDriver", RESERVED_MB + 16384, 2, 100, 1.0, 1.0, 1.0),
}


def boot(cloud, **flavor_options):
    [server] = cloud.create(flavor(**flavor_options))
    return server


# --- the client on its own, against the real Placement -----------------------------------

class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def placement_conf(tmp_path, placement_server, extra=""):
    path = tmp_path / "placement.conf"
    path.write_text(placement_server.nova_conf_section() + extra)
    conf = config.new_conf()
    config.load(conf, ["--config-file", str(path)], prog="test", default_config_files=[])
    return conf


def test_client_reports_a_provider_and_claims(tmp_path, placement):
    client = placement_api.from_conf(placement_conf(tmp_path, placement))
    node = str(uuid.uuid4())
    inventories = {
        "VCPU": {"total": 4, "reserved": 0, "min_unit": 1, "max_unit": 4, "step_size": 1,
                 "allocation_ratio": 2.0},
        "MEMORY_MB": {"total": 2048, "reserved": 512, "min_unit": 1, "max_unit": 2048,
                      "step_size": 1, "allocation_ratio": 1.0}}
    clock = Clock()
    providers = report.ProviderReport(client, clock=clock)
    assert providers.update(node, "node-a", inventories, {"COMPUTE_NODE"}) == [
        "provider", "inventories", "traits"]
    assert providers.update(node, "node-a", inventories, {"COMPUTE_NODE"}) == []  # no change
    found = placement.get(f"/resource_providers/{node}/inventories")["inventories"]
    assert found == inventories

    # An operator's trait stays; a provider changed behind our back is re-read.
    generation = placement.get(f"/resource_providers/{node}/traits")[
        "resource_provider_generation"]
    client.set_traits(node, generation, {"COMPUTE_NODE", "HW_CPU_X86_AVX2"})
    fresh = report.ProviderReport(client)
    wider = dict(inventories, VCPU=dict(inventories["VCPU"], allocation_ratio=4.0))
    assert fresh.update(node, "node-a", wider, {"COMPUTE_NODE", "COMPUTE_ARCH_X86_64"}) == [
        "inventories", "traits"]
    # The first report trusts its cache until REREAD_SECONDS have passed, then
    # reads Placement again and puts back what it manages.
    assert providers.update(node, "node-a", inventories, {"COMPUTE_NODE"}) == []  # cached
    clock.now += report.REREAD_SECONDS
    assert providers.update(node, "node-a", inventories, {"COMPUTE_NODE"}) == [
        "inventories", "traits"]
    assert placement.get(f"/resource_providers/{node}/inventories")["inventories"] == \
        inventories
    assert set(placement.get(f"/resource_providers/{node}/traits")["traits"]) == {
        "COMPUTE_NODE", "HW_CPU_X86_AVX2"}
    narrower = dict(inventories, VCPU=dict(inventories["VCPU"], allocation_ratio=1.0))
    # Now the second one's generation is stale: its write meets a conflict,
    # it reads the provider again and writes what still differs.
    assert fresh.update(node, "node-a", narrower, {"COMPUTE_NODE"}) == ["inventories"]
    assert placement.get(f"/resource_providers/{node}/inventories")["inventories"] == \
        narrower

    # Candidates and claims: room for exactly one 1024 MB consumer (1536 MB capacity).
    query = resources.candidates_query({"VCPU": 1, "MEMORY_MB": 1024})
    [request] = [r for r in client.allocation_candidates(query)["allocation_requests"]
                 if node in r["allocations"]]
    first, second = (str(uuid.uuid4()) for _ in range(2))
    assert claims.claim(client, first, request, "p1", "u1")
    assert claims.claim(client, first, request, "p1", "u1")  # held already: still True
    assert not claims.claim(client, second, request, "p1", "u1")  # no room left
    assert client.get_usages(node) == {"VCPU": 1, "MEMORY_MB": 1024}
    assert claims.release(client, first)
    assert not claims.release(client, first)
    assert claims.claim(client, second, request, "p1", "u1")
    assert claims.release(client, second)


def test_unreachable_placement_is_unavailable(tmp_path, placement):
    conf = placement_conf(tmp_path, placement,
                          "endpoint_override = http://127.0.0.1:1/\n")
    client = placement_api.from_conf(conf)
    with pytest.raises(placement_api.PlacementUnavailable, match="cannot be reached"):
        client.get_provider("b7f2b0a4-2f34-4a43-9f43-5f0e2f8d7d59")


def test_wrong_password_is_unavailable(tmp_path, placement):
    conf = placement_conf(tmp_path, placement, "password = wrong\n")
    with pytest.raises(placement_api.PlacementUnavailable, match="credentials"):
        placement_api.from_conf(conf).get_provider("b7f2b0a4-2f34-4a43-9f43-5f0e2f8d7d59")


# --- the daemons ----------------------------------------------------------------------------

databases = module_databases("plc")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, databases, rabbitmq, placement):
    started = Cloud(tmp_path_factory.mktemp("placement"), databases, rabbitmq, placement)
    computes = {host: Compute(memory_mb, vcpus, local_gb, driver, options={"DEFAULT": {
        "cpu_allocation_ratio": cpu, "ram_allocation_ratio": ram, "disk_allocation_ratio": disk}})
        for host, (driver, memory_mb, vcpus, local_gb, cpu, ram, disk) in COMPUTES.items()}
    with started.running(computes, disabled=("bad",), schedulers=("sched-a", "sched-b")) \
            as running:
        yield running


def test_each_compute_is_a_resource_provider(cloud):
    for host, (_, memory_mb, vcpus, local_gb, cpu, ram, disk) in COMPUTES.items():
        node = cloud.nodes()[host]
        provider = cloud.placement.get(f"/resource_providers/{node['uuid']}")
        assert provider["name"] == node["hypervisor_hostname"] == host
        assert cloud.placement.get(f"/resource_providers/{node['uuid']}/inventories")[
            "inventories"] == {
            "VCPU": {"total": vcpus, "reserved": 0, "min_unit": 1, "max_unit": vcpus,
                     "step_size": 1, "allocation_ratio": cpu},
            "MEMORY_MB": {"total": memory_mb, "reserved": RESERVED_MB, "min_unit": 1,
                          "max_unit": memory_mb, "step_size": 1, "allocation_ratio": ram},
            "DISK_GB": {"total": local_gb, "reserved": 0, "min_unit": 1, "max_unit": local_gb,
                        "step_size": 1, "allocation_ratio": disk}}
        traits = set(cloud.placement.get(f"/resource_providers/{node['uuid']}/traits")["traits"])
        # The fake driver has every capability; same-host migration has a standard trait.
        assert traits == {"COMPUTE_NODE", "COMPUTE_ARCH_X86_64", "COMPUTE_SAME_HOST_COLD_MIGRATE"}


def test_a_servers_allocation_comes_and_goes_with_it(cloud):
    server = boot(cloud, memory_mb=1024, vcpus=1, root_gb=1, swap=512)
    [instance] = cloud.wait_settled([server])
    assert (instance["vm_state"], instance["host"]) == ("active", "c2")  # most free RAM
    # swap 512 MiB takes a whole GB of DISK_GB, as upstream rounds it.
    assert cloud.allocations(server) == {"c2": {"VCPU": 1, "MEMORY_MB": 1024, "DISK_GB": 2}}
    consumer = cloud.placement.get(f"/allocations/{server}")
    assert (consumer["project_id"], consumer["user_id"]) == ("p1", "u1")
    assert cloud.usages("c2") == {"VCPU": 1, "MEMORY_MB": 1024, "DISK_GB": 2}
    # The periodic reports write nothing more (no inventory change).
    generation = cloud.placement.get(f"/resource_providers/{cloud.provider('c1')}")["generation"]
    time.sleep(2.5)  # more than the computes' periodic_interval
    assert cloud.placement.get(
        f"/resource_providers/{cloud.provider('c1')}")["generation"] == generation
    cloud.delete_all([server])
    assert cloud.placement.get(f"/allocations/{server}")["allocations"] == {}


def test_reschedule_moves_the_allocation(cloud):
    cloud.set_enabled("bad", True)
    try:
        time.sleep(REFRESH + 0.2)
        server = boot(cloud)
        [instance] = cloud.wait_settled([server])
    finally:
        cloud.set_enabled("bad", False)
    # bad had the most free RAM and failed; c2 was the best alternate.
    assert (instance["vm_state"], instance["host"]) == ("active", "c2")
    assert cloud.allocations(server) == {"c2": {"VCPU": 1, "MEMORY_MB": 1024, "DISK_GB": 1}}
    assert not any(cloud.usages("bad").values())
    cloud.delete_all([server])


def test_no_candidate_names_placement(cloud):
    server = boot(cloud, memory_mb=1024 * 1024)
    wait_until(lambda: (cloud.get(server) or {}).get("vm_state") == "error", 30, "no error")
    assert instance_mappings.get(cloud.urls["api"], server)["cell"].uuid == cells.CELL0_UUID
    [fault] = instance_actions.faults_for(cloud.urls["cell0"], server)
    assert fault["message"] == ("No valid host was found: Placement: no allocation candidate "
                                "for DISK_GB:1, MEMORY_MB:1048576, VCPU:1")
    cloud.compute_api.delete(context(), server)


class Forwarder:
    """A loopback port that refuses connections until ``open``, then forwards
    them to ``target_port``: a Placement that is down, then back."""

    def __init__(self, target_port):
        self.target_port, self.port = target_port, free_port()
        self.listener = None

    def open(self):
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        if self.listener is not None:
            self.listener.close()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(("127.0.0.1", self.target_port))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def test_compute_waits_out_a_placement_outage(cloud):
    """A compute whose Placement is down still writes its compute node, logs
    one error line per periodic run and reports once Placement answers.
    (Its host is not mapped to the cell: the schedulers never pick it.)"""
    proxy = Forwarder(cloud.placement.port)
    compute = cloud.start("nova-compute", cloud.write_conf(
        "late", placement={"endpoint_override": f"http://127.0.0.1:{proxy.port}"},
        fake_driver={"memory_mb": 2048, "vcpus": 2, "local_gb": 20}))
    failed = ("Cannot report to Placement (trying again in the next periodic run): "
              "node late: Placement cannot be reached")
    try:
        wait_until(lambda: compute.log().count(failed) >= 2, 60,
                   f"no retried Placement error; log:\n{compute.log()}")
        assert "late" in cloud.nodes()  # the database heard of it all the same
        proxy.open()
        compute.wait_for_log("Reporting to Placement works again", 30)
        node = cloud.nodes()["late"]["uuid"]
        assert cloud.placement.get(f"/resource_providers/{node}")["name"] == "late"
        assert cloud.placement.get(f"/resource_providers/{node}/inventories")[
            "inventories"]["MEMORY_MB"]["total"] == 2048
    finally:
        compute.terminate()
        compute.wait_stopped(30)
        proxy.close()
    assert "Traceback" not in compute.log()


def test_two_schedulers_never_overcommit_a_host(cloud):
    """Schedulers that never re-read the databases each believe c1 has room
    for three 4-vCPU servers; six boots at once, spread over both: Placement's
    claims keep c1 to three, the others go to cell0."""
    for scheduler in cloud.schedulers:
        scheduler.terminate()
    for scheduler in cloud.schedulers:
        scheduler.wait_stopped(30)
    racers = [cloud.start("nova-scheduler", cloud.scheduler_conf(name, 3600))
              for name in ("race-a", "race-b")]
    for racer in racers:
        racer.wait_for_log(r"nova-scheduler on host race-\w started", 60)
    capacity = {rc: resources.capacity(inventory) for rc, inventory in cloud.placement.get(
        f"/resource_providers/{cloud.provider('c1')}/inventories")["inventories"].items()}
    assert capacity["MEMORY_MB"] == 3 * 1024

    seen, watching = [], threading.Event()

    def watch():
        while not watching.is_set():
            seen.append(cloud.usages("c1"))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            servers = list(pool.map(lambda _: boot(cloud, vcpus=4), range(6)))
        found = cloud.wait_settled(servers, timeout=60)
    finally:
        watching.set()
        watcher.join()
    active = [i for i in found if i["vm_state"] == "active"]
    failed = [i for i in found if i["vm_state"] == "error"]
    assert [i["host"] for i in active] == ["c1"] * 3, found
    assert len(failed) == 3
    for instance in failed:
        assert instance["cell_uuid"] == cells.CELL0_UUID
        [fault] = instance_actions.faults_for(cloud.urls["cell0"], instance["uuid"])
        assert fault["message"].startswith("No valid host was found"), fault
    assert seen and all(used.get(rc, 0) <= capacity[rc] for used in seen for rc in capacity)
    assert cloud.usages("c1") == {"VCPU": 12, "MEMORY_MB": 3072, "DISK_GB": 3}
    # Both schedulers took requests (RabbitMQ deals them out in turn), and
    # Placement stopped the one that was late for c1, whose own host states
    # still showed room: a refused claim, or no candidate left.
    lost = ("has no room left in Placement", "Placement has no allocation candidate")
    logs = [racer.log() for racer in racers]
    assert all("Selected c1" in log or any(text in log for text in lost) for log in logs), logs
    assert any(text in log for text in lost for log in logs), logs
    cloud.delete_all(servers)


# --- two scheduler managers, one Placement: the claim decides ---------------------------------

def scheduler_with_placement(deployment, placement_server):
    conf = make_conf(deployment["api"], deployment["cell1"])
    # The password plugin's options exist once keystoneauth loads it; declare
    # them first so that they can be set here as a nova.conf would.
    conf.register_opts(ks_loading.get_auth_plugin_conf_options("password"), group="placement")
    for name, value in placement_server.nova_options().items():
        conf.set_override(name, value, group="placement")
    sched = manager.SchedulerManager(conf, "sched", deployment["api"])
    sched.init_host(admin())
    return sched


def test_a_lost_claim_goes_to_the_alternate(deployment, placement):
    """Scheduler B asked Placement before A claimed h1's last room: B's claim
    on h1 is refused, and B claims its alternate h2 instead; once h2 is full
    too, B has no host left and says that Placement refused."""
    nodes = {host: add_host(deployment["cell1"], host, memory_mb=memory)
             for host, memory in (("h1", 3072), ("h2", 2600))}
    cell_mappings.discover_hosts(deployment["api"])
    a = scheduler_with_placement(deployment, placement)
    b = scheduler_with_placement(deployment, placement)
    providers = report.ProviderReport(a.placement)
    for host, node in nodes.items():  # reserved_host_memory_mb 512: room for one 2 GiB server
        providers.update(node["uuid"], f"{host}-{node['uuid'][:8]}",
                         resources.inventories(node, a.conf), {"COMPUTE_NODE"})
    servers = [str(uuid.uuid4()) for _ in range(3)]
    request = spec(memory_mb=2048, project_id="p1", user_id="u1")
    stale, _ = b._allocation_candidates(admin(), manager.request_spec_from_dict(request))
    assert stale.candidate_nodes >= {node["uuid"] for node in nodes.values()}
    b._allocation_candidates = lambda context, s, fresh=False: (dataclasses.replace(
        s, candidate_nodes=stale.candidate_nodes, allocation_requests=stale.allocation_requests),
        False)
    try:
        assert chosen(a.schedule(admin(), request, [servers[0]])) == ["h1"]
        [[first, *alternates]] = b.schedule(admin(), request, [servers[1]],
                                            return_alternates=True)
        assert (first["host"], alternates) == ("h2", [])
        assert first["allocation_request"] == stale.allocation_requests[nodes["h2"]["uuid"]]
        assert list(a.placement.get_allocations(servers[1])["allocations"]) == [
            nodes["h2"]["uuid"]]
        # B's host states count the server on h2, not on h1 (whose claim failed).
        row = b.hosts.row_of_uuid
        assert b.hosts.free_ram_mb[row(nodes["h1"]["uuid"])] == 3072
        assert b.hosts.free_ram_mb[row(nodes["h2"]["uuid"])] == 2600 - 2048
        with pytest.raises(NoValidHost, match="Placement: no room left on h1"):
            b.schedule(admin(), request, [servers[2]], return_alternates=True)
        assert b.hosts.free_ram_mb[row(nodes["h1"]["uuid"])] == 3072
        assert a.placement.get_allocations(servers[2])["allocations"] == {}
        # A now gets no candidate among its hosts and says so (other tests'
        # providers, which A does not schedule to, may still be offered).
        with pytest.raises(NoValidHost) as raised:
            a.schedule(admin(), request, [servers[2]])
        assert str(raised.value).split("\n")[1].strip() in (
            "Placement: no allocation candidate for DISK_GB:1, MEMORY_MB:2048, VCPU:1",
            "Placement: 2 -> 0 host(s), removed h1, h2")
    finally:
        for server in servers:
            claims.release(a.placement, server)
        for node in nodes.values():
            placement.request("DELETE", f"/resource_providers/{node['uuid']}")
