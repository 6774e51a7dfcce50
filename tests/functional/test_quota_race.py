"""Quotas hold under concurrency: parallel creates through the HTTP API
(nova-api, Keystone, the super-conductor and the cell's conductor, three
fake computes: tests/conftest.py's full_cloud) in a project whose instance
quota is 10.

nova-api checks the quota when it accepts a request (403 when it does not
fit); requests checked at the same moment all see the same room, so the
super-conductor counts again under the project's lock when it records each
instance ([quota] recheck_quota): one that no longer fits ends in ERROR with
upstream's "Quota exceeded" fault.
"""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import concurrent.futures
import subprocess
import sys
import time

import pytest

from nova_runtime.objects import quotas

pytestmark = pytest.mark.mysql

QUOTA = 10
REQUESTS = 30


def usage(cloud, token, project):
    shown = cloud.request("GET", f"/os-quota-sets/{project}/detail", token).json()
    return shown["quota_set"]["instances"]["in_use"]


def test_thirty_parallel_creates_under_a_quota_of_ten(full_cloud):
    cloud = full_cloud
    demo = cloud.keystone.ids["demo"]
    assert cloud.openstack("quota", "set", "--instances", str(QUOTA), "--cores", "-1",
                           "--ram", "-1", demo).returncode == 0
    token = cloud.token(**cloud.member())
    admin = cloud.token()

    def create(index):
        body = {"server": {"name": f"race-{index}", "flavorRef": "1",
                           "imageRef": cloud.image}}
        return cloud.request("POST", "/servers", token, json=body)

    with concurrent.futures.ThreadPoolExecutor(REQUESTS) as pool:
        responses = list(pool.map(create, range(REQUESTS)))
    codes = sorted(response.status_code for response in responses)
    assert set(codes) <= {202, 403}, [r.text for r in responses]
    refused = [r for r in responses if r.status_code == 403]
    assert all("Quota exceeded for instances" in r.text for r in refused)
    accepted = [r.json()["server"]["id"] for r in responses if r.status_code == 202]
    assert len(accepted) >= QUOTA

    def settled():
        shown = [cloud.request("GET", f"/servers/{server}", token).json()["server"]
                 for server in accepted]
        done = all(s["status"] in ("ACTIVE", "ERROR") and not s.get("OS-EXT-STS:task_state")
                   for s in shown)
        return shown if done else None

    deadline = time.monotonic() + 120
    while (shown := settled()) is None:
        assert time.monotonic() < deadline, "servers still building"
        time.sleep(1)
    active = [s for s in shown if s["status"] == "ACTIVE"]
    errors = [s for s in shown if s["status"] == "ERROR"]
    assert len(active) == QUOTA, [(s["status"], s.get("fault")) for s in shown]
    for server in errors:
        assert server["fault"]["message"].startswith("Quota exceeded for instances: "
                                                     "Requested 1, but already used"), server
    print(f"quota {QUOTA}: {len(accepted)} of {REQUESTS} accepted, {len(active)} ACTIVE, "
          f"{len(errors)} ERROR (quota fault), {len(refused)} refused with 403")

    for server in accepted:
        response = cloud.request("DELETE", f"/servers/{server}", token)
        assert response.status_code == 204, response.text
    deadline = time.monotonic() + 60
    while any(cloud.request("GET", f"/servers/{server}", token).status_code != 404
              for server in accepted):
        assert time.monotonic() < deadline, "servers not deleted"
        time.sleep(1)
    assert usage(cloud, admin, demo) == 0
    # With the servers gone there is room again: one more fits.
    again = create("again")
    assert again.status_code == 202, again.text
    server = again.json()["server"]["id"]
    deadline = time.monotonic() + 60
    while cloud.request("GET", f"/servers/{server}", token).json()["server"]["status"] != \
            "ACTIVE":
        assert time.monotonic() < deadline, "not active"
        time.sleep(1)
    assert cloud.request("DELETE", f"/servers/{server}", token).status_code == 204


def test_the_quota_lock_holds_across_processes(nova_databases):
    """MariaDB's named lock: another process (as another super-conductor)
    waits while this one holds the project's lock, gets it once released,
    and gives up after its timeout; another project's lock is free."""
    url = nova_databases["api"]
    script = (
        "import sys, time\n"
        "from nova_runtime.objects import quotas\n"
        "start = time.monotonic()\n"
        "try:\n"
        "    with quotas.project_lock(sys.argv[1], sys.argv[2], timeout=int(sys.argv[3])):\n"
        "        print('got', round(time.monotonic() - start, 1))\n"
        "except quotas.QuotaLockTimeout:\n"
        "    print('timeout')\n")

    def other(project, timeout):
        return subprocess.Popen([sys.executable, "-c", script, url, project, str(timeout)],
                                stdout=subprocess.PIPE, text=True)

    with quotas.project_lock(url, "p1"):
        waiting, impatient, elsewhere = other("p1", 30), other("p1", 1), other("p2", 1)
        assert impatient.communicate(timeout=30)[0].strip() == "timeout"
        assert elsewhere.communicate(timeout=30)[0].startswith("got")
        time.sleep(1)
        assert waiting.poll() is None  # still waiting
    answer = waiting.communicate(timeout=30)[0].split()
    assert answer[0] == "got" and float(answer[1]) >= 1
