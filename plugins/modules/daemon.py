#!/usr/bin/python
"""Ansible module: run a long-lived service with or without systemd."""

DOCUMENTATION = r"""
module: daemon
short_description: Start, stop and restart a daemon, with systemd or with a pid file
description:
  - Where systemd is PID 1, writes a unit file for the daemon and drives it with systemctl.
  - Elsewhere (containers, network-namespace labs) starts the command in a new session with its
    output appended to O(log_file), records its pid in O(pid_file), and checks by pid and command
    line whether it runs.
  - A daemon that exits within O(settle_seconds) of being started is reported as a failure,
    with the end of its log.
options:
  name: {description: Service name, also the unit name., type: str, required: true}
  command: {description: Program and arguments., type: list, elements: str, required: true}
  state: {type: str, choices: [started, stopped, restarted], default: started}
  user: {description: Run as this user (default root)., type: str}
  environment: {description: Extra environment variables., type: dict, default: {}}
  chdir: {description: Working directory., type: str, default: /}
  pid_file: {description: Pid file (no systemd). Default /run/NAME.pid, type: path}
  log_file: {description: Where stdout and stderr go (no systemd). Default /var/log/NAME.log, type: path}
  stop_signal: {description: Signal that stops the daemon gracefully., type: str, default: TERM}
  stop_timeout: {description: Seconds before a daemon that ignores O(stop_signal) is killed., type: int, default: 30}
  settle_seconds: {description: A started daemon must still run after this many seconds., type: float, default: 1.5}
  service_manager: {type: str, choices: [auto, systemd, pidfile], default: auto}
"""

import os
import pwd
import shlex
import signal
import subprocess
import time

from ansible.module_utils.basic import AnsibleModule

UNIT_DIR = "/etc/systemd/system"


def systemd_is_pid1():
    return os.path.isdir("/run/systemd/system")


# --- without systemd: a pid file ---------------------------------------------

def running_pid(pid_file, program):
    """The pid from pid_file if that process lives and runs ``program``."""
    try:
        with open(pid_file) as handle:
            pid = int(handle.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except (OSError, ValueError):
        return None
    # Interpreted programs show up as "python3 /opt/x/bin/prog": look at every word.
    wanted = os.path.basename(program).encode()
    if any(os.path.basename(word) == wanted for word in argv[:3]):
        return pid
    return None


def start(params):
    log_file, pid_file = params["log_file"], params["pid_file"]
    for path in (log_file, pid_file):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    env = dict(os.environ, **{k: str(v) for k, v in params["environment"].items()})
    user = params["user"]
    preexec = None
    if user:
        entry = pwd.getpwnam(user)
        env.update(HOME=entry.pw_dir, USER=user, LOGNAME=user)

        def preexec():
            os.initgroups(user, entry.pw_gid)
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
    log = open(log_file, "ab")
    if user:  # the daemon reopens its log as itself when it rotates
        os.chown(log_file, entry.pw_uid, entry.pw_gid)
    process = subprocess.Popen(
        params["command"], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        cwd=params["chdir"], env=env, start_new_session=True, preexec_fn=preexec,
        close_fds=True)
    log.close()
    with open(pid_file, "w") as handle:
        handle.write(f"{process.pid}\n")
    deadline = time.monotonic() + params["settle_seconds"]
    while time.monotonic() < deadline:
        if process.poll() is not None:
            os.unlink(pid_file)
            return f"exited with status {process.returncode} right after starting"
        time.sleep(0.1)
    return None


def stop(params, pid):
    sig = getattr(signal, "SIG" + params["stop_signal"].upper().removeprefix("SIG"))
    os.kill(pid, sig)
    deadline = time.monotonic() + params["stop_timeout"]
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        if _is_zombie(pid):
            break
        time.sleep(0.1)
    else:
        if os.path.exists(f"/proc/{pid}"):
            # The daemon was started as the leader of its own session: its
            # whole group goes, worker processes included (they would be
            # orphans still serving the daemon's queue otherwise).
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    try:
        os.unlink(params["pid_file"])
    except FileNotFoundError:
        pass


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def log_tail(path, lines=20):
    try:
        with open(path, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return ""


def run_pidfile(module, params):
    state = params["state"]
    pid = running_pid(params["pid_file"], params["command"][0])
    if state == "started" and pid:
        return dict(changed=False, pid=pid)
    if state == "stopped" and not pid:
        return dict(changed=False)
    if module.check_mode:
        return dict(changed=True)
    if pid:
        stop(params, pid)
    if state == "stopped":
        return dict(changed=True)
    problem = start(params)
    if problem:
        module.fail_json(msg=f"{params['name']} {problem}; end of {params['log_file']}:\n"
                             f"{log_tail(params['log_file'])}")
    return dict(changed=True, pid=running_pid(params["pid_file"], params["command"][0]))


# --- with systemd: a unit file -----------------------------------------------

def unit_text(params):
    lines = [
        "[Unit]", f"Description={params['name']} (managed by Ansible)", "After=network-online.target",
        "", "[Service]", "ExecStart=" + shlex.join(params["command"]),
        f"WorkingDirectory={params['chdir']}", f"KillSignal=SIG{params['stop_signal'].upper().removeprefix('SIG')}",
        f"TimeoutStopSec={params['stop_timeout']}", "Restart=on-failure",
    ]
    if params["user"]:
        lines.append(f"User={params['user']}")
    for key, value in sorted(params["environment"].items()):
        lines.append(f'Environment="{key}={value}"')
    lines += ["", "[Install]", "WantedBy=multi-user.target", ""]
    return "\n".join(lines)


def run_systemd(module, params):
    name, state = params["name"], params["state"]
    path = os.path.join(UNIT_DIR, f"{name}.service")
    wanted = unit_text(params)
    try:
        with open(path) as handle:
            unit_changed = handle.read() != wanted
    except FileNotFoundError:
        unit_changed = True
    active = subprocess.run(["systemctl", "is-active", "--quiet", name]).returncode == 0
    needs_action = (state == "restarted" or unit_changed
                    or (state == "started") != active)
    if not needs_action:
        return dict(changed=False)
    if module.check_mode:
        return dict(changed=True)
    if unit_changed:
        with open(path, "w") as handle:
            handle.write(wanted)
        module.run_command(["systemctl", "daemon-reload"], check_rc=True)
    if state == "stopped":
        module.run_command(["systemctl", "disable", "--now", name], check_rc=True)
    else:
        verb = "restart" if (state == "restarted" or (unit_changed and active)) else "start"
        module.run_command(["systemctl", "enable", name], check_rc=True)
        module.run_command(["systemctl", verb, name], check_rc=True)
    return dict(changed=True)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            command=dict(type="list", elements="str", required=True),
            state=dict(type="str", choices=["started", "stopped", "restarted"], default="started"),
            user=dict(type="str"),
            environment=dict(type="dict", default={}),
            chdir=dict(type="str", default="/"),
            pid_file=dict(type="path"),
            log_file=dict(type="path"),
            stop_signal=dict(type="str", default="TERM"),
            stop_timeout=dict(type="int", default=30),
            settle_seconds=dict(type="float", default=1.5),
            service_manager=dict(type="str", choices=["auto", "systemd", "pidfile"], default="auto"),
        ),
        supports_check_mode=True,
    )
    params = dict(module.params)
    params["pid_file"] = params["pid_file"] or f"/run/{params['name']}.pid"
    params["log_file"] = params["log_file"] or f"/var/log/{params['name']}.log"
    manager = params["service_manager"]
    if manager == "auto":
        manager = "systemd" if systemd_is_pid1() else "pidfile"
    if not os.access(params["command"][0], os.X_OK):
        module.fail_json(msg=f"{params['name']}: {params['command'][0]} is not an executable file")
    runner = run_systemd if manager == "systemd" else run_pidfile
    result = runner(module, params)
    module.exit_json(service_manager=manager, **result)


if __name__ == "__main__":
    main()
