"""Anti-affinity holds with two schedulers deciding at once: 20 members of
one anti-affinity group asked for concurrently, over 20 hosts, with two
nova-scheduler workers (each with its own view of the group), in one
process (tests/unit/test_conductor_build.py's Cloud: conductor, 20 fake
computes, SQLite).

Each scheduler sees the members the other has just sent somewhere only
once their compute claimed them, so both may pick one host for two
members; the compute's late check (ComputeManager
._validate_instance_group_policy, upstream's) refuses the second and its
build is rescheduled to an alternate. The test asserts the outcome: every
member ACTIVE, no two on one host, and prints how many builds the late
check sent elsewhere.
"""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import collections
import concurrent.futures

from nova_runtime.cmd import scheduler as scheduler_cmd
from nova_runtime.compute import manager as compute_manager
from nova_runtime.objects import instance_actions
from tests.unit import test_conductor_build as build_tests
from tests.unit.test_conductor_build import FLAVOR, settled

HOSTS = 20
MEMBERS = 20


class Cloud(build_tests.Cloud):
    """No quota in the way: 20 servers of one project."""

    def conf(self, host, **overrides):
        return super().conf(host, **{"quota__instances": -1, "quota__cores": -1,
                                     "quota__ram": -1, "quota__server_group_members": -1,
                                     **overrides})


def test_twenty_members_two_schedulers_twenty_hosts(tmp_path, monkeypatch):
    refused = collections.Counter()
    check = compute_manager.ComputeManager._validate_instance_group_policy

    def counting(self, context, instance, group):
        try:
            check(self, context, instance, group)
        except compute_manager.GroupPolicyViolated:
            refused[self.host] += 1
            raise

    monkeypatch.setattr(compute_manager.ComputeManager, "_validate_instance_group_policy",
                        counting)
    cloud = Cloud(tmp_path, {f"h{index:02d}": (4096, "fake.FakeDriver")
                                         for index in range(HOSTS)})
    try:
        # The second scheduler worker: another process's view of the same topic.
        cloud._start(scheduler_cmd.build(cloud.conf("controller")))
        group = build_tests.make_group(cloud.urls["api"], "anti-affinity")
        with concurrent.futures.ThreadPoolExecutor(MEMBERS) as pool:
            servers = [uuid for created in pool.map(
                lambda index: cloud.boot(name=f"m{index}", flavor=FLAVOR, group=group),
                range(MEMBERS)) for uuid in created]
        found = [cloud.wait_for(server, settled, timeout=60) for server in servers]
        states = collections.Counter(instance["vm_state"] for instance in found)
        hosts = collections.Counter(instance["host"] for instance in found
                                    if instance["vm_state"] == "active")
        print(f"anti-affinity: {MEMBERS} members over {HOSTS} hosts with two schedulers: "
              f"{dict(states)}; the compute's late check refused {sum(refused.values())} "
              f"build(s), which were rescheduled")
        assert max(hosts.values()) == 1, hosts
        assert states == {"active": MEMBERS}, [
            (i["uuid"], i["vm_state"], i["cell_uuid"],
             [f["message"] for key in ("cell1", "cell0")
              for f in instance_actions.faults_for(cloud.urls[key], i["uuid"])][:1])
            for i in found if i["vm_state"] != "active"]
    finally:
        cloud.stop()
