"""plugins/modules/daemon.py. Where systemd is PID 1: the unit file it writes and
the systemctl calls it makes (these machines do not boot systemd, so a
stand-in systemctl on PATH records the calls and keeps the service's state).
Without systemd: how a daemon is stopped."""

import importlib.util
import os
import pathlib
import subprocess
import time

import pytest

MODULE = pathlib.Path(__file__).parents[2] / "plugins" / "modules" / "daemon.py"

SYSTEMCTL = """#!/bin/sh
# Records its arguments; is-active answers from the state file that start,
# restart and disable --now keep.
echo "$*" >> "$STATE_DIR/calls"
case "$1" in
    is-active) [ -e "$STATE_DIR/active-$3" ] ;;
    start|restart) touch "$STATE_DIR/active-$2" ;;
    disable) rm -f "$STATE_DIR/active-$3" ;;
esac
"""


class FakeAnsibleModule:
    check_mode = False

    def run_command(self, argv, check_rc=False):
        result = subprocess.run(argv, capture_output=True, text=True)
        assert not check_rc or result.returncode == 0, result
        return result.returncode, result.stdout, result.stderr


@pytest.fixture
def daemon(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("daemon_module", MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(SYSTEMCTL)
    (bin_dir / "systemctl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("STATE_DIR", str(tmp_path))
    monkeypatch.setattr(module, "UNIT_DIR", str(tmp_path))
    return module


def params(**overrides):
    values = dict(name="nova-compute", state="started", user="nova",
                  command=["/opt/openstack/nova/bin/nova-compute", "--config-file=/etc/nova/nova.conf"],
                  environment={"LANG": "C.UTF-8"}, chdir="/", stop_signal="TERM", stop_timeout=30)
    values.update(overrides)
    return values


def calls(tmp_path):
    path = tmp_path / "calls"
    lines = path.read_text().splitlines() if path.exists() else []
    path.unlink(missing_ok=True)
    return [line for line in lines if not line.startswith("is-active")]


def test_a_unit_file_is_written_enabled_and_started(daemon, tmp_path):
    module = FakeAnsibleModule()
    assert daemon.run_systemd(module, params()) == {"changed": True}
    unit = (tmp_path / "nova-compute.service").read_text()
    assert "ExecStart=/opt/openstack/nova/bin/nova-compute --config-file=/etc/nova/nova.conf" in unit
    assert "User=nova" in unit and 'Environment="LANG=C.UTF-8"' in unit
    assert "KillSignal=SIGTERM" in unit and "Restart=on-failure" in unit
    assert calls(tmp_path) == ["daemon-reload", "enable nova-compute", "start nova-compute"]

    # Again, unchanged and running: nothing to do.
    assert daemon.run_systemd(module, params()) == {"changed": False}
    assert calls(tmp_path) == []


def test_a_changed_command_rewrites_the_unit_and_restarts(daemon, tmp_path):
    module = FakeAnsibleModule()
    daemon.run_systemd(module, params())
    calls(tmp_path)
    changed = params(command=["/opt/openstack/nova/bin/nova-compute", "--debug"])
    assert daemon.run_systemd(module, changed) == {"changed": True}
    assert "--debug" in (tmp_path / "nova-compute.service").read_text()
    assert calls(tmp_path) == ["daemon-reload", "enable nova-compute", "restart nova-compute"]


def test_restarted_and_stopped(daemon, tmp_path):
    module = FakeAnsibleModule()
    daemon.run_systemd(module, params())
    calls(tmp_path)
    assert daemon.run_systemd(module, params(state="restarted")) == {"changed": True}
    assert calls(tmp_path) == ["enable nova-compute", "restart nova-compute"]
    assert daemon.run_systemd(module, params(state="stopped")) == {"changed": True}
    assert calls(tmp_path) == ["disable --now nova-compute"]
    assert daemon.run_systemd(module, params(state="stopped")) == {"changed": False}


def test_without_systemd_a_daemon_that_ignores_sigterm_goes_with_its_workers(daemon, tmp_path):
    # A parent that ignores SIGTERM, and a worker (a child in its process group).
    script = tmp_path / "stubborn"
    script.write_text("#!/bin/sh\ntrap '' TERM\nsleep 300 &\necho $! > \"$1\"\nwait\n")
    script.chmod(0o755)
    worker_pid_file = tmp_path / "worker.pid"
    values = params(name="stubborn", user=None, command=[str(script), str(worker_pid_file)],
                    environment={}, stop_timeout=1, settle_seconds=0.3,
                    pid_file=str(tmp_path / "run" / "stubborn.pid"),
                    log_file=str(tmp_path / "log" / "stubborn.log"))
    assert daemon.start(values) is None
    pid = daemon.running_pid(values["pid_file"], str(script))
    assert pid
    worker = int(worker_pid_file.read_text())
    daemon.stop(values, pid)
    deadline = time.monotonic() + 5  # SIGKILL takes effect asynchronously
    while time.monotonic() < deadline and not all(map(daemon._is_zombie, (pid, worker))):
        time.sleep(0.05)
    # Gone, or zombies that nobody has reaped yet.
    assert daemon._is_zombie(pid) and daemon._is_zombie(worker)
    assert not os.path.exists(values["pid_file"])
