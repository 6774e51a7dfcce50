"""os-instance_usage_audit_log: the last completed month, and every compute
(disabled ones too) listed as not run, since no compute audits usage here."""

import datetime

import pytest

from nova_runtime.api.handlers import instance_usage_audit_log as audit_log
from tests.unit.api.conftest import add_service

MEMBER = {"user": "alice", "project": "demo"}


@pytest.mark.parametrize("before, begin, end", [
    ("2026-12-06 05:00:00", "2026-11-01", "2026-12-01"),
    ("2026-12-01 00:00:00", "2026-10-01", "2026-11-01"),   # the 1st itself is not past
    ("2026-01-15 10:00:00", "2025-12-01", "2026-01-01"),
    ("2026-02-01 00:00:00", "2025-12-01", "2026-01-01"),
])
def test_last_completed_month(before, begin, end):
    got = audit_log.last_completed_month(datetime.datetime.fromisoformat(before))
    assert [str(day.date()) for day in got] == [begin, end]


def test_every_compute_not_run(cloud):
    client, urls = cloud
    add_service(urls["cell1"], "c3", disabled=True)
    listed = client("GET", "/v2.1/os-instance_usage_audit_log")
    assert listed.status_int == 200
    body = listed.data["instance_usage_audit_logs"]
    assert sorted(body["hosts_not_run"]) == ["c1", "c2", "c3"]
    assert (body["num_hosts"], body["num_hosts_done"], body["num_hosts_not_run"]) == (3, 0, 3)
    assert body["overall_status"] == "0 of 3 hosts done. 0 errors."
    assert body["log"] == {} and body["total_instances"] == 0

    shown = client("GET", "/v2.1/os-instance_usage_audit_log/2026-12-06%2006%3A29%3A20")
    assert shown.status_int == 200
    log = shown.data["instance_usage_audit_log"]
    assert (log["period_beginning"], log["period_ending"]) == (
        "2026-11-01 00:00:00", "2026-12-01 00:00:00")


def test_bad_timestamp_and_non_admin(client):
    bad = client("GET", "/v2.1/os-instance_usage_audit_log/2026-13-45")
    assert bad.status_int == 400
    assert bad.data["badRequest"]["message"] == "Invalid timestamp for date 2026-13-45"
    assert client("GET", "/v2.1/os-instance_usage_audit_log", **MEMBER).status_int == 403
    assert client("GET", "/v2.1/os-instance_usage_audit_log/2026-12-01%2000%3A00%3A00",
                  **MEMBER).status_int == 403
