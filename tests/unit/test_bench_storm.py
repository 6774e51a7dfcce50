"""bench/storm_http.py: the HTTP boot storm's figures from its records."""

import importlib.util
import os

_ROOT = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir)
_spec = importlib.util.spec_from_file_location(
    "storm_http", os.path.join(_ROOT, "bench", "storm_http.py"))
storm_http = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(storm_http)


def test_summarize_counts_each_outcome_and_times_the_active_servers():
    began = 100.0
    records = [
        {"requested": 100.0, "settled": 101.0, "status": "ACTIVE", "post_s": 0.05},
        {"requested": 100.5, "settled": 103.5, "status": "ACTIVE", "post_s": 0.15},
        {"requested": 101.0, "settled": 102.0, "status": "ERROR", "post_s": 0.1},
        {"requested": 101.0, "settled": None, "status": "BUILD", "post_s": 0.1},
        {"requested": 102.0, "settled": None, "status": None, "post_s": None,
         "error": "POST: 403 quota"},
    ]
    figures = storm_http.summarize(records, began)
    assert (figures["asked"], figures["active"], figures["error"], figures["build"],
            figures["request_errors"]) == (5, 2, 1, 1, 1)
    assert figures["elapsed_s"] == 3.5  # first POST to the last ACTIVE seen
    assert figures["servers_per_s"] == round(2 / 3.5, 2)
    assert figures["time_to_active_p50_s"] == 1.0  # waits 1.0 and 3.0: nearest rank
    assert figures["time_to_active_p90_s"] == 3.0
    assert figures["time_to_active_max_s"] == 3.0
    assert figures["post_p50_ms"] == 100.0


def test_summarize_without_an_active_server_has_no_rate():
    figures = storm_http.summarize([{"requested": 1.0, "settled": None, "status": "BUILD"}], 1.0)
    assert figures["servers_per_s"] == 0.0
    assert figures["elapsed_s"] is None and figures["time_to_active_p50_s"] is None


def test_per_server_ms_and_ratio():
    assert storm_http.per_server_ms({"nova-api": 2.0, "mariadb": 0.5}, 100) == {
        "nova-api": 20.0, "mariadb": 5.0}
    assert storm_http.per_server_ms({"nova-api": 2.0}, 0) == {}
    assert storm_http.ratio(24.0, 2.0) == 12.0
    assert storm_http.ratio(24.0, 0.0) is None
    assert storm_http.ratio(None, 3.0) is None


def test_query_log_summary_groups_statements_without_their_literals(tmp_path):
    log = tmp_path / "slow.log"
    log.write_text(
        "/usr/sbin/mariadbd, Version: 10.11.6-MariaDB-0+deb12u1 (Debian 12). started with:\n"
        "Tcp port: 3306  Unix socket: /tmp/x.sock\n"
        "Time\t\t    Id Command\tArgument\n"
        "# Time: 261206 17:00:00\n"
        "# User@Host: nova[nova] @ localhost [127.0.0.1]\n"
        "# Thread_id: 8  Schema: nova  QC_hit: No\n"
        "# Query_time: 0.002000  Lock_time: 0.000010  Rows_sent: 1  Rows_examined: 500\n"
        "# Rows_affected: 0  Bytes_sent: 80\n"
        "use nova;\n"
        "SET timestamp=1796576400;\n"
        "SELECT count(*) FROM instances WHERE project_id = 'a' AND deleted = 0;\n"
        "# User@Host: nova[nova] @ localhost [127.0.0.1]\n"
        "# Query_time: 0.003000  Lock_time: 0.000010  Rows_sent: 1  Rows_examined: 700\n"
        "SET timestamp=1796576401;\n"
        "SELECT count(*) FROM instances WHERE project_id = 'b' AND deleted = 0;\n"
        "# User@Host: nova[nova] @ localhost [127.0.0.1]\n"
        "# Query_time: 0.001000  Lock_time: 0.000010  Rows_sent: 1  Rows_examined: 1\n"
        "SET timestamp=1796576402;\n"
        "SELECT uuid FROM instances\n"
        "WHERE id IN (1, 2, 3);\n")
    lines = storm_http.query_log_summary(str(log), 5)
    assert lines == [
        "query log: 2 calls, 1200 rows examined, 2 sent, 0.01 s: SELECT count(*) FROM instances "
        "WHERE project_id = ? AND deleted = ?;",
        "query log: 1 calls, 1 rows examined, 1 sent, 0.00 s: SELECT uuid FROM instances "
        "WHERE id IN (?...);",
    ]
    assert storm_http.query_log_summary(str(tmp_path / "missing.log"), 5)[0].startswith(
        "no query log")
