"""Wall time of the toolkit: a fresh deploy, a re-run, and adding one compute.

Runs in the namespace lab (tools/lab), which starts empty every time, so "fresh"
means fresh: no databases, no virtualenvs, no config on the hosts. What the
machine running Ansible keeps between runs is the wheelhouse it builds from PyPI
(roles/python_venv); pass --cold to delete it first and include the wheel builds.

    python bench/deploy.py [--cold] [--keep]

Steps, each timed:
  fresh      tools/lab up ct c1;  ansible-playbook -i inventory/lab site.yml
  rerun      the same command again (must report changed=0)
  add        tools/lab up c2;     ansible-playbook -i inventory/lab site.yml --limit controller,c2

Prints one line per step, then the figures as JSON on the last line. Targets on
the 2-core machines: fresh <= 360 s, rerun <= 60 s, add <= 90 s.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
LAB = os.path.join(ROOT, "tools", "lab")
WHEELHOUSE = "/root/.cache/openstack-wheels"
TARGETS = {"fresh": 360, "rerun": 60, "add": 90}


def run(argv, log):
    """Run a command, its output appended to ``log``; returns (seconds, output)."""
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", ANSIBLE_FORCE_COLOR="0")
    started = time.monotonic()
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    with open(log, "a") as handle:
        handle.write(f"$ {' '.join(argv)}\n{result.stdout}{result.stderr}\n")
    if result.returncode:
        sys.exit(f"{' '.join(argv)} failed (exit {result.returncode}); see {log}")
    return elapsed, result.stdout


def changed_count(recap):
    """Sum of changed= over the PLAY RECAP lines."""
    return sum(int(n) for n in re.findall(r"changed=(\d+)", recap.split("PLAY RECAP")[-1]))


def playbook(*extra):
    return [os.path.join(BIN, "ansible-playbook"), "-i", "inventory/lab", "site.yml", *extra]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cold", action="store_true", help="delete the wheelhouse first")
    parser.add_argument("--keep", action="store_true", help="leave the lab running")
    args = parser.parse_args()

    log = os.path.join(ROOT, ".tmp", "bench-deploy.log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    open(log, "w").close()
    if args.cold:
        shutil.rmtree(WHEELHOUSE, ignore_errors=True)

    run([LAB, "down"], log)
    figures = {"wheelhouse": "cold" if args.cold else "as found"}
    try:
        lab_up, _ = run([LAB, "up", "ct", "c1"], log)
        figures["fresh"], _ = run(playbook(), log)
        figures["fresh"] += lab_up
        figures["rerun"], output = run(playbook(), log)
        figures["rerun_changed"] = changed_count(output)
        lab_add, _ = run([LAB, "up", "c2"], log)
        figures["add"], _ = run(playbook("--limit", "controller,c2"), log)
        figures["add"] += lab_add
    finally:
        if not args.keep:
            run([LAB, "down"], log)

    for step, target in TARGETS.items():
        verdict = "ok" if figures[step] <= target else "over target"
        print(f"{step:6} {figures[step]:7.1f} s  (target {target} s: {verdict})")
    print(f"rerun reported changed={figures['rerun_changed']}; full output in {log}")
    print(json.dumps({key: round(value, 1) if isinstance(value, float) else value
                      for key, value in figures.items()}))


if __name__ == "__main__":
    main()
