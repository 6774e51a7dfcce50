"""bench/storm_http.py: the HTTP boot storm's figures from its records."""

import importlib.util
import os

_ROOT = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir)
_spec = importlib.util.spec_from_file_location(
    "storm_http", os.path.join(_ROOT, "bench", "storm_http.py"))
storm_http = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(storm_http)


def test_percentile_is_the_nearest_rank_of_the_sorted_values():
    values = [5, 1, 4, 2, 3]
    assert storm_http.percentile(values, 0.5) == 3
    assert storm_http.percentile(values, 0.0) == 1
    assert storm_http.percentile(values, 1.0) == 5
    assert storm_http.percentile(list(range(1, 11)), 0.9) == 9  # index round(0.9 * 9) = 8
    assert storm_http.percentile([7], 0.9) == 7
    assert storm_http.percentile([], 0.5) is None


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
