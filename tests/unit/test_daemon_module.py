"""plugins/modules/daemon.py. Where systemd is PID 1: the unit file it writes and
the systemctl calls it makes (these machines do not boot systemd, so a
stand-in systemctl on PATH records the calls and keeps the service's state).
Without systemd: the daemons under a real supervisord of the test's own."""

import importlib.util
import os
import pathlib
import signal
import subprocess
import sys
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



# --- without systemd: a private supervisord ---------------------------------------

SUPERVISORD_CONF = """\
[unix_http_server]
file={dir}/supervisor.sock
[supervisord]
logfile={dir}/supervisord.log
pidfile={dir}/supervisord.pid
childlogdir={dir}
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://{dir}/supervisor.sock
[include]
files = {dir}/conf.d/*.conf
"""


class Failed(Exception):
    pass


class SupervisedModule(FakeAnsibleModule):
    def fail_json(self, msg, **kwargs):
        raise Failed(msg)


@pytest.fixture
def supervised(daemon, tmp_path):
    """(the module, a function making its params) against a supervisord of the test's own."""
    directory = tmp_path / "supervisor"
    (directory / "conf.d").mkdir(parents=True)
    config = directory / "supervisord.conf"
    config.write_text(SUPERVISORD_CONF.format(dir=directory))

    def make(name, command, **overrides):
        values = params(name=name, user=None, command=command, environment={"GREETING": "100%"},
                        settle_seconds=1, stop_timeout=2, log_file=str(tmp_path / "log" / f"{name}.log"),
                        supervisor_config=str(config), supervisor_programs_dir=str(directory / "conf.d"))
        values.update(overrides)
        return values

    yield make
    subprocess.run(["supervisorctl", "-c", str(config), "shutdown"], capture_output=True)


def script(tmp_path, name, body):
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def wait_for(predicate, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def read_pid(path):
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def test_supervised_daemon_starts_once_and_comes_back_after_a_kill(daemon, supervised, tmp_path):
    pid_file = tmp_path / "server.pid"
    program = script(tmp_path, "server", f'echo "$GREETING" ; echo $$ > {pid_file}; exec sleep 300\n')
    module = SupervisedModule()
    values = supervised("server", [program])
    assert daemon.run_supervisor(module, values) == {"changed": True}
    assert daemon.run_supervisor(module, values) == {"changed": False}
    first = wait_for(lambda: read_pid(pid_file))
    assert "100%" in (tmp_path / "log" / "server.log").read_text()  # % reaches the daemon

    os.kill(first, signal.SIGKILL)  # supervisord starts it again
    second = wait_for(lambda: read_pid(pid_file) != first and read_pid(pid_file))
    assert second != first
    assert daemon.run_supervisor(module, values) == {"changed": False}

    assert daemon.run_supervisor(module, dict(values, state="restarted")) == {"changed": True}
    wait_for(lambda: read_pid(pid_file) not in (first, second))


def test_a_changed_command_restarts_the_daemon(daemon, supervised, tmp_path):
    pid_file = tmp_path / "server.pid"
    module = SupervisedModule()
    one = script(tmp_path, "one", f"echo $$ > {pid_file}; exec sleep 300\n")
    two = script(tmp_path, "two", f"echo $$ > {pid_file}; exec sleep 301\n")
    daemon.run_supervisor(module, supervised("server", [one]))
    first = wait_for(lambda: read_pid(pid_file))
    assert daemon.run_supervisor(module, supervised("server", [two])) == {"changed": True}
    wait_for(lambda: read_pid(pid_file) != first)


def test_a_daemon_that_dies_at_once_fails_with_the_end_of_its_log(daemon, supervised, tmp_path):
    program = script(tmp_path, "broken", "echo 'cannot start: [database] connection is not set'\nexit 1\n")
    with pytest.raises(Failed, match=r"(?s)did not stay up \(FATAL\).*connection is not set"):
        daemon.run_supervisor(SupervisedModule(), supervised("broken", [program]))


def test_a_daemon_that_ignores_sigterm_is_stopped_with_its_workers(daemon, supervised, tmp_path):
    # A parent that ignores SIGTERM, and a worker (a child in its process group).
    worker_pid_file = tmp_path / "worker.pid"
    parent_pid_file = tmp_path / "parent.pid"
    program = script(tmp_path, "stubborn", f"trap '' TERM\necho $$ > {parent_pid_file}\n"
                                           f"sleep 300 &\necho $! > {worker_pid_file}\nwait\n")
    module = SupervisedModule()
    values = supervised("stubborn", [program])
    daemon.run_supervisor(module, values)
    parent, worker = wait_for(lambda: read_pid(parent_pid_file) and read_pid(worker_pid_file)
                              and (read_pid(parent_pid_file), read_pid(worker_pid_file)))
    assert daemon.run_supervisor(module, dict(values, state="stopped")) == {"changed": True}
    # After stop_timeout the whole group is killed: gone, or zombies not reaped yet.
    wait_for(lambda: daemon_gone(parent) and daemon_gone(worker))
    assert not os.path.exists(os.path.join(values["supervisor_programs_dir"], "stubborn.conf"))
    assert daemon.run_supervisor(module, dict(values, state="stopped")) == {"changed": False}


def daemon_gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_copy_started_outside_supervisor_is_replaced(daemon, supervised, tmp_path):
    # As an earlier version of the module left it: a session of its own, no supervisord.
    # A Python program, as the daemons are ("python3 /opt/.../bin/nova-api ...").
    pid_file = tmp_path / "server.pid"
    program = tmp_path / "server"
    program.write_text(f"#!{sys.executable}\nimport os, time\n"
                       f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(300)\n")
    program.chmod(0o755)
    program = str(program)
    old = subprocess.Popen([program], start_new_session=True)
    wait_for(lambda: read_pid(pid_file) == old.pid)
    module = SupervisedModule()
    assert daemon.run_supervisor(module, supervised("server", [program])) == {"changed": True}
    assert old.wait(timeout=10) is not None
    assert wait_for(lambda: read_pid(pid_file) not in (None, old.pid))
    assert daemon.unsupervised([program]) == []
