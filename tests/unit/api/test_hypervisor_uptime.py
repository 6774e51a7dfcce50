"""A hypervisor's uptime: its host's uptime line, asked of its nova-compute
(GET /os-hypervisors/{id}/uptime until 2.87, show's ``uptime`` from 2.88)."""

import datetime

import oslo_messaging as messaging
import pytest

from nova_runtime.api.handlers import hypervisors
from nova_runtime.compute import rpcapi as compute_rpcapi
from nova_runtime.virt import driver

MEMBER = {"user": "alice", "project": "demo"}


def fake_proc(path, uptime, loadavg="0.52 0.58 0.59 1/123 4567"):
    path.mkdir(exist_ok=True)
    (path / "uptime").write_text(f"{uptime} 1234.56\n")
    (path / "loadavg").write_text(loadavg + "\n")
    return str(path)


@pytest.mark.parametrize("seconds, shown", [
    (59.9, "up 0 min,"), (21 * 60 + 5, "up 21 min,"), (2 * 3600 + 5 * 60, "up  2:05,"),
    (86400 + 2 * 3600 + 5 * 60, "up 1 day,  2:05,"), (3 * 86400 + 5 * 60, "up 3 days, 5 min,"),
])
def test_the_uptime_line_as_uptime_prints_it(tmp_path, seconds, shown):
    line = driver.host_uptime(fake_proc(tmp_path / "proc", seconds),
                              now=datetime.datetime(2026, 12, 6, 5, 29, 49))
    assert line == f" 05:29:49 {shown}  load average: 0.52, 0.58, 0.59"


@pytest.fixture
def computes(cloud, monkeypatch, tmp_path):
    """(client, calls): each nova-compute answers the uptime of a made-up
    /proc; ``calls`` records (host, timeout); a host in ``silent`` times out."""
    client, _urls = cloud
    proc = fake_proc(tmp_path / "proc", 3 * 86400 + 5 * 60)
    calls, silent = [], set()

    class Compute:
        def get_host_uptime(self, context, host, timeout=None):
            calls.append((host, timeout))
            if host in silent:
                raise messaging.MessagingTimeout("no answer")
            return driver.host_uptime(proc)

    monkeypatch.setattr(compute_rpcapi.CellClients, "get", lambda self, cell=None: Compute())
    return client, calls, silent


def hypervisor_id(client, host, version):
    listed = client("GET", "/v2.1/os-hypervisors", version=version).data["hypervisors"]
    return next(h["id"] for h in listed if h["hypervisor_hostname"] == host)


def test_show_has_the_hosts_uptime_from_2_88(computes):
    client, calls, silent = computes
    c1 = hypervisor_id(client, "c1", "2.88")
    shown = client("GET", f"/v2.1/os-hypervisors/{c1}", version="2.88").data["hypervisor"]
    assert shown["uptime"].endswith(" up 3 days, 5 min,  load average: 0.52, 0.58, 0.59")
    assert calls == [("c1", hypervisors.UPTIME_TIMEOUT)]
    assert "uptime" not in client("GET", f"/v2.1/os-hypervisors/{c1}",
                                  version="2.87").data["hypervisor"]
    # A compute that does not answer: null, as upstream shows a host it cannot ask.
    silent.add("c1")
    assert client("GET", f"/v2.1/os-hypervisors/{c1}", version="2.88").data[
        "hypervisor"]["uptime"] is None


def test_uptime_resource_until_2_87(computes):
    client, calls, silent = computes
    c2 = hypervisor_id(client, "c2", "2.1")
    response = client("GET", f"/v2.1/os-hypervisors/{c2}/uptime")
    assert response.status_int == 200
    body = response.data["hypervisor"]
    assert set(body) == {"id", "hypervisor_hostname", "state", "status", "uptime"}
    assert (body["id"], body["hypervisor_hostname"], body["state"]) == (c2, "c2", "up")
    assert " up 3 days, 5 min," in body["uptime"]
    by_uuid = hypervisor_id(client, "c2", "2.53")
    assert client("GET", f"/v2.1/os-hypervisors/{by_uuid}/uptime",
                  version="2.53").status_int == 200
    assert client("GET", f"/v2.1/os-hypervisors/{by_uuid}/uptime",
                  version="2.88").status_int == 404
    assert client("GET", "/v2.1/os-hypervisors/999/uptime").status_int == 404
    assert client("GET", f"/v2.1/os-hypervisors/{c2}/uptime", **MEMBER).status_int == 403
    silent.add("c2")
    refused = client("GET", f"/v2.1/os-hypervisors/{c2}/uptime")
    assert refused.status_int == 400
    assert refused.data["badRequest"]["message"] == (
        "Compute service of c2 is unavailable at this time.")


def test_a_down_compute_is_not_asked(computes):
    client, calls, _silent = computes
    c1 = hypervisor_id(client, "c1", "2.53")
    service = client("GET", "/v2.1/os-services?host=c1&binary=nova-compute",
                     version="2.53").data["services"][0]
    assert client("PUT", f"/v2.1/os-services/{service['id']}", {"forced_down": True},
                  version="2.53").status_int == 200
    assert client("GET", f"/v2.1/os-hypervisors/{c1}", version="2.88").data[
        "hypervisor"]["uptime"] is None
    assert client("GET", f"/v2.1/os-hypervisors/{c1}/uptime", version="2.53").status_int == 400
    assert calls == []
