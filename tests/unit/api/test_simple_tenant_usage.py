"""os-simple-tenant-usage: hours from launched_at/terminated_at, clipped to
the period, summed per project, over every cell, deleted instances included."""

import datetime
import uuid

import pytest

from nova_runtime.api.handlers import simple_tenant_usage
from nova_runtime.objects import instances

MEMBER = {"user": "alice", "project": "demo"}
FLAVOR = {"name": "m1.small", "memory_mb": 512, "vcpus": 2, "root_gb": 1, "ephemeral_gb": 1}
T0 = datetime.datetime(2026, 12, 1, 0, 0, 0)


def hours(n):
    return datetime.timedelta(hours=n)


def _instance(url, project, launched, terminated=None, name="vm"):
    server = str(uuid.uuid4())
    instances.create(url, {"uuid": server, "display_name": name, "project_id": project,
                           "user_id": "u", "vm_state": "deleted" if terminated else "active",
                           "memory_mb": 512, "vcpus": 2, "root_gb": 1, "ephemeral_gb": 1,
                           "launched_at": launched, "terminated_at": terminated},
                     flavor=FLAVOR)
    return server


@pytest.mark.parametrize("launched, terminated, expected", [
    (None, None, 0),                         # never launched
    (T0 - hours(5), T0 - hours(1), 0),       # gone before the period
    (T0 + hours(30), None, 0),               # launched after it
    (T0 - hours(5), None, 24),               # ran the whole period
    (T0 + hours(1.5), T0 + hours(3), 1.5),   # inside it
    (T0 + hours(20), None, 4),               # still running at its end
])
def test_hours_are_clipped_to_the_period(launched, terminated, expected):
    instance = {"launched_at": launched, "terminated_at": terminated}
    assert simple_tenant_usage.hours_for(instance, T0, T0 + hours(24)) == expected


def period(start, end):
    fmt = "%Y-%m-%dT%H:%M:%S.%f"
    return f"start={start.strftime(fmt)}&end={end.strftime(fmt)}"


def test_usage_of_every_project_and_of_one(cloud):
    client, urls = cloud
    running = _instance(urls["cell1"], "demo", T0 + hours(1))
    deleted = _instance(urls["cell1"], "demo", T0 + hours(2), T0 + hours(5))
    _instance(urls["cell1"], "other", T0 + hours(1), T0 + hours(3))
    window = period(T0, T0 + hours(10))

    listed = client("GET", f"/v2.1/os-simple-tenant-usage?{window}&detailed=1")
    assert listed.status_int == 200
    by_project = {u["tenant_id"]: u for u in listed.data["tenant_usages"]}
    demo = by_project["demo"]
    assert len(demo) == 8
    assert demo["total_hours"] == 9 + 3
    assert demo["total_vcpus_usage"] == 2 * 12 and demo["total_memory_mb_usage"] == 512 * 12
    assert demo["total_local_gb_usage"] == 2 * 12
    assert demo["start"] == "2026-12-01T00:00:00.000000"
    servers = {s["instance_id"]: s for s in demo["server_usages"]}
    assert servers[deleted]["state"] == "terminated" and servers[deleted]["uptime"] == 3 * 3600
    assert servers[deleted]["ended_at"] == "2026-12-01T05:00:00.000000"
    assert servers[running]["state"] == "active" and servers[running]["ended_at"] is None
    assert servers[running]["flavor"] == "m1.small" and servers[running]["local_gb"] == 2
    assert by_project["other"]["total_hours"] == 2
    # Without detailed=1, no server_usages.
    plain = client("GET", f"/v2.1/os-simple-tenant-usage?{window}").data["tenant_usages"]
    assert all("server_usages" not in u for u in plain)

    # A project member sees its own project, not the list or another project.
    own = client("GET", f"/v2.1/os-simple-tenant-usage/demo?{window}", **MEMBER)
    assert own.status_int == 200 and len(own.data["tenant_usage"]["server_usages"]) == 2
    assert client("GET", f"/v2.1/os-simple-tenant-usage?{window}", **MEMBER).status_int == 403
    assert client("GET", f"/v2.1/os-simple-tenant-usage/other?{window}",
                  **MEMBER).status_int == 403
    # A project with no usage: an empty object.
    assert client("GET", f"/v2.1/os-simple-tenant-usage/none?{window}").data == {
        "tenant_usage": {}}


def test_bad_periods_are_400(client):
    later, earlier = period(T0 + hours(1), T0)[6:].split("&end=")
    for query in (f"start={later}&end={earlier}", "start=2026-13-45", "end=yesterday"):
        response = client("GET", f"/v2.1/os-simple-tenant-usage/demo?{query}")
        assert response.status_int == 400, query
    # From 2.75 an unknown parameter is refused; before, ignored.
    assert client("GET", "/v2.1/os-simple-tenant-usage?foo=1", version="2.74").status_int == 200
    assert client("GET", "/v2.1/os-simple-tenant-usage?foo=1", version="2.75").status_int == 400


def test_pages_over_instances_from_2_40(cloud):
    client, urls = cloud
    made = sorted(_instance(urls["cell1"], "demo", T0 + hours(1)) for _ in range(3))
    window = period(T0, T0 + hours(10))
    first = client("GET", f"/v2.1/os-simple-tenant-usage/demo?{window}&limit=2",
                   version="2.40").data
    assert [s["instance_id"] for s in first["tenant_usage"]["server_usages"]] == made[:2]
    href = first["tenant_usage_links"][0]["href"]
    assert href.endswith(f"marker={made[1]}") and "/os-simple-tenant-usage/demo?" in href
    rest = client("GET", f"/v2.1/os-simple-tenant-usage/demo?{window}&limit=2&marker={made[1]}",
                  version="2.40").data
    assert [s["instance_id"] for s in rest["tenant_usage"]["server_usages"]] == made[2:]
    assert "tenant_usage_links" not in rest
    # Before 2.40 there is no paging.
    old = client("GET", f"/v2.1/os-simple-tenant-usage/demo?{window}&limit=2").data
    assert len(old["tenant_usage"]["server_usages"]) == 3
