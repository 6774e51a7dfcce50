"""Placement's CPU per claim: a PUT /allocations for each, or POST
/allocations for several at once.

The real Placement (harness/placement.py: upstream openstack-placement
under uwsgi, on a private MariaDB, its tokens checked by a private
Keystone) with 10 resource providers; one client with the admin's token
claims VCPU, MEMORY_MB and DISK_GB for new consumers, N claims per round,
first as one PUT each, then in POSTs of 2 and of 4 (what nova-scheduler's
claims.ClaimQueue sends when claims queue behind one in Placement), twice
each in turn. Prints Placement's CPU (uwsgi's processes) per claim.

    python bench/placement_claims.py [--claims 200]
"""

import argparse
import json
import os
import sys
import tempfile
import time
import uuid

import requests

# The repository's root: the harness package (harness/) and bench/.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness.keystone import Keystone  # noqa: E402
from harness.mariadb import MariaDB  # noqa: E402
from harness.measure import CpuMeter  # noqa: E402
from harness.placement import MICROVERSION, Placement  # noqa: E402

PROVIDERS = 10
RESOURCES = {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}


class Claimer:
    def __init__(self, placement, token):
        self.url = placement.url
        self.http = requests.Session()
        self.http.headers.update({"X-Auth-Token": token, "OpenStack-API-Version": MICROVERSION})
        self.project, self.user = uuid.uuid4().hex, uuid.uuid4().hex
        self.providers = [self._provider(index) for index in range(PROVIDERS)]

    def _provider(self, index):
        provider = str(uuid.uuid4())
        self._ok(self.http.post(f"{self.url}/resource_providers",
                                json={"uuid": provider, "name": f"bench-node-{index}"}))
        self._ok(self.http.put(
            f"{self.url}/resource_providers/{provider}/inventories",
            json={"resource_provider_generation": 0, "inventories": {
                "VCPU": {"total": 10 ** 5}, "MEMORY_MB": {"total": 10 ** 8},
                "DISK_GB": {"total": 10 ** 7}}}))
        return provider

    @staticmethod
    def _ok(response):
        if response.status_code >= 400:
            raise RuntimeError(f"Placement answered {response.status_code}: {response.text}")

    def _body(self, index):
        return {"allocations": {self.providers[index % PROVIDERS]: {"resources": RESOURCES}},
                "project_id": self.project, "user_id": self.user, "consumer_generation": None}

    def claim(self, claims, together):
        """``claims`` claims of new consumers, ``together`` per request."""
        for start in range(0, claims, together):
            if together == 1:
                self._ok(self.http.put(f"{self.url}/allocations/{uuid.uuid4()}",
                                       json=self._body(start)))
            else:
                self._ok(self.http.post(f"{self.url}/allocations", json={
                    str(uuid.uuid4()): self._body(index)
                    for index in range(start, start + together)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=200, help="claims per round")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="bench-placement-claims-")
    mariadb = MariaDB().start()
    keystone = placement = None
    try:
        keystone = Keystone(tempfile.mkdtemp(dir=workdir)).start()
        placement = Placement(tempfile.mkdtemp(dir=workdir), keystone, mariadb).start()
        claimer = Claimer(placement, keystone.token())
        claimer.claim(40, 1)  # warm: Placement's first requests load what it caches
        claimer.claim(40, 4)
        meter = CpuMeter({"placement": [placement.process.pid]})
        results = {1: [], 2: [], 4: []}
        for _ in range(2):
            for together in results:
                meter.start()
                began = time.monotonic()
                claimer.claim(args.claims, together)
                elapsed = time.monotonic() - began
                cpu_ms = meter.stop()["placement"] * 1000 / args.claims
                results[together].append(round(cpu_ms, 2))
                what = "a PUT each" if together == 1 else f"POSTs of {together}"
                print(f"{args.claims} claims, {what}: {cpu_ms:.2f} ms of Placement's CPU per "
                      f"claim, {elapsed * 1000 / args.claims:.1f} ms per claim", flush=True)
        print(json.dumps({"claims": args.claims, "providers": PROVIDERS,
                          "placement_cpu_ms_per_claim": {
                              ("put" if together == 1 else f"post_{together}"): figures
                              for together, figures in results.items()}}))
    finally:
        for server in (placement, keystone):
            if server is not None:
                server.stop()
        mariadb.stop()


if __name__ == "__main__":
    main()
