"""harness/measure.py: what the benchmarks measure with."""

import os
import subprocess
import sys
import time

from harness import measure


def test_percentile_is_the_nearest_rank_of_the_sorted_values():
    values = [5, 1, 4, 2, 3]
    assert measure.percentile(values, 0.5) == 3
    assert measure.percentile(values, 0.0) == 1
    assert measure.percentile(values, 1.0) == 5
    assert measure.percentile(list(range(1, 11)), 0.9) == 9  # index round(0.9 * 9) = 8
    assert measure.percentile([7], 0.9) == 7
    assert measure.percentile([], 0.5) is None


def test_cpu_meter_counts_a_group_with_its_children_and_the_client_alone():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        meter = measure.CpuMeter({"client": [os.getpid()], "daemon": [os.getpid()]})
        assert busy.pid in meter.groups["daemon"] and meter.groups["client"] == [os.getpid()]
        meter.start()
        time.sleep(0.5)
        used = meter.stop()
    finally:
        busy.kill()
        busy.wait()
    assert used["daemon"] >= 0.2 and used["client"] < 0.2, used
    assert measure.cpu_seconds(busy.pid) == 0.0  # gone


def test_interpreter_names_the_real_python_and_its_version():
    bin_dir = os.path.dirname(sys.executable)
    described = measure.interpreter(bin_dir)
    assert described.startswith(os.path.realpath(os.path.join(bin_dir, "python3")))
    assert sys.version.split()[0] in described
