"""What the benchmarks measure with: percentiles, the CPU time of groups of
processes (from /proc), and which Python runs a virtualenv's scripts."""

import os
import subprocess

_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values, fraction):
    """The nearest-rank ``fraction`` percentile of ``values`` (None if empty):
    the element at round(fraction * (n - 1)) of the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def cpu_seconds(pid):
    """User + system CPU of the process (all its threads), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def children(pid):
    """The process ids of ``pid``'s children (uwsgi's workers, say)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(child) for child in handle.read().split()]
    except OSError:
        return []


def _process_tree():
    """{pid: parent pid} of every process."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return parents


class CpuMeter:
    """CPU seconds that each group of processes (and their descendants at
    the time the meter is made, except for the groups named in ``alone``)
    used between ``start`` and ``stop``: where a benchmark's time goes."""

    def __init__(self, groups, alone=("client",)):
        kids = {}
        for pid, parent in _process_tree().items():
            kids.setdefault(parent, []).append(pid)
        self.groups = {}
        for name, pids in groups.items():
            found, todo = [], list(pids)
            while todo:
                pid = todo.pop()
                found.append(pid)
                if name not in alone:  # the client's descendants are the daemons
                    todo += kids.get(pid, [])
            self.groups[name] = found
        self.before = {}

    def _read(self):
        return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in self.groups.items()}

    def start(self):
        self.before = self._read()

    def stop(self):
        after = self._read()
        return {name: round(after[name] - self.before[name], 2) for name in self.groups}


def interpreter(bin_dir):
    """The interpreter that runs ``bin_dir``'s console scripts: the real path
    behind their virtualenv's python, and its version."""
    python = os.path.join(bin_dir, "python3")
    version = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    return f"{os.path.realpath(python)} {version} (virtualenv {os.path.dirname(bin_dir)})"
