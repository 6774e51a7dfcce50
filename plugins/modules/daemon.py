#!/usr/bin/python
"""Ansible module: run a long-lived service with or without systemd."""

DOCUMENTATION = r"""
module: daemon
short_description: Start, stop and restart a daemon, with systemd or with Debian's supervisor
description:
  - Where systemd is PID 1, writes a unit file for the daemon and drives it with systemctl.
  - Elsewhere (containers, network-namespace labs) runs it under Debian's supervisor (supervisord,
    started here if it does not run), with a program file in O(supervisor_programs_dir) and its
    output in O(log_file); a daemon that exits unexpectedly is started again. Copies of the
    daemon running outside supervisord (started by hand or another way) are stopped first.
  - A daemon that exits within O(settle_seconds) of being started is reported as a failure,
    with the end of its log.
options:
  name: {description: Service name, also the unit name., type: str, required: true}
  command: {description: Program and arguments., type: list, elements: str, required: true}
  state: {type: str, choices: [started, stopped, restarted], default: started}
  user: {description: Run as this user (default root)., type: str}
  environment: {description: Extra environment variables., type: dict, default: {}}
  chdir: {description: Working directory., type: str, default: /}
  log_file: {description: Where stdout and stderr go (no systemd). Default /var/log/NAME.log, type: path}
  stop_signal: {description: Signal that stops the daemon gracefully., type: str, default: TERM}
  stop_timeout: {description: Seconds before a daemon that ignores O(stop_signal) is killed., type: int, default: 30}
  settle_seconds: {description: A started daemon must still run after this many seconds., type: float, default: 1.5}
  service_manager: {type: str, choices: [auto, systemd, supervisor], default: auto}
  supervisor_config: {description: supervisord's configuration file., type: path, default: /etc/supervisor/supervisord.conf}
  supervisor_programs_dir: {description: Where supervisord reads program files., type: path, default: /etc/supervisor/conf.d}
"""

import contextlib
import math
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import time

from ansible.module_utils.basic import AnsibleModule

UNIT_DIR = "/etc/systemd/system"


def systemd_is_pid1():
    return os.path.isdir("/run/systemd/system")


# --- without systemd: Debian's supervisor ------------------------------------

# A program that exits otherwise than with 0 after it started is started again
# (systemd's Restart=on-failure); one that cannot start within startretries
# tries ends FATAL. Logs are bounded.
SUPERVISOR_PROGRAM = """\
; Managed by Ansible (the daemon module).
[program:{name}]
command={command}
directory={chdir}
{user}environment={environment}
autostart=true
autorestart=unexpected
exitcodes=0
startsecs={startsecs}
startretries=3
stopsignal={stop_signal}
stopwaitsecs={stop_timeout}
killasgroup=true
redirect_stderr=true
stdout_logfile={log_file}
stdout_logfile_maxbytes=50MB
stdout_logfile_backups=2
"""


def _supervisor_value(text):
    return str(text).replace("%", "%%")  # supervisor expands %(name)s in values


def supervisor_program(params):
    environment = dict(params["environment"])
    if params["user"]:  # supervisord changes the user, not HOME and the like
        home = pwd.getpwnam(params["user"]).pw_dir
        environment = dict(HOME=home, USER=params["user"], LOGNAME=params["user"], **environment)
    environment = ",".join(f'{key}="{_supervisor_value(value)}"'
                           for key, value in sorted(environment.items()))
    return SUPERVISOR_PROGRAM.format(
        name=params["name"], command=_supervisor_value(shlex.join(params["command"])),
        chdir=params["chdir"], user=f"user={params['user']}\n" if params["user"] else "",
        environment=environment, startsecs=math.ceil(params["settle_seconds"]),
        stop_signal=params["stop_signal"].upper().removeprefix("SIG"),
        stop_timeout=params["stop_timeout"], log_file=params["log_file"])


class Supervisor:
    """supervisorctl against the supervisord of ``config``; starts that
    supervisord if it does not answer."""

    def __init__(self, module, config):
        self.module = module
        self.config = config

    def ctl(self, *args):
        return self.module.run_command(["supervisorctl", "-c", self.config, *args])

    def ensure_running(self):
        if self.ctl("pid")[0] == 0:
            return
        if not shutil.which("supervisord"):
            self.module.fail_json(msg="systemd is not PID 1 here, and Debian's supervisor "
                                      "package, which runs the daemons instead, is not "
                                      "installed (site.yml installs it: playbooks/supervision.yml)")
        rc, out, err = self.module.run_command(["supervisord", "-c", self.config])
        deadline = time.monotonic() + 10
        while self.ctl("pid")[0] != 0:
            if rc != 0 or time.monotonic() > deadline:
                self.module.fail_json(msg=f"supervisord -c {self.config} did not start: {err or out}")
            time.sleep(0.2)

    def state(self, name):
        """RUNNING, STARTING, BACKOFF, STOPPED, EXITED, FATAL ...; None if unknown."""
        out = self.ctl("status", name)[1].split()
        return out[1] if len(out) > 1 and out[0] == name and out[1].isupper() else None

    def settle(self, name, seconds):
        """The program's state once it left STARTING (or BACKOFF: retries)."""
        deadline = time.monotonic() + seconds
        state = self.state(name)
        while state in ("STARTING", "BACKOFF") and time.monotonic() < deadline:
            time.sleep(0.2)
            state = self.state(name)
        return state


def _argv(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return [word.decode(errors="replace") for word in handle.read().split(b"\0")[:-1]]
    except OSError:
        return []


def _parent(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def unsupervised(command):
    """Pids of processes that run ``command`` (perhaps through its interpreter:
    "python3 /opt/x/bin/prog ...") with no supervisord among their ancestors:
    started another way, by hand or by this module before it used supervisor."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        argv = _argv(entry)
        if argv[:len(command)] != command and argv[1:len(command) + 1] != command:
            continue
        ancestor, supervised = _parent(int(entry)), False
        while ancestor > 1 and not supervised:
            supervised = any(os.path.basename(word) == "supervisord" for word in _argv(ancestor)[:2])
            ancestor = _parent(ancestor)
        if not supervised:
            found.append(int(entry))
    return found


def stop_unsupervised(params):
    """Stops the copies of the daemon that run outside supervisord (they hold
    its ports): stop_signal, then SIGKILL to their process groups."""
    pids = unsupervised(params["command"])
    signum = getattr(signal, "SIG" + params["stop_signal"].upper().removeprefix("SIG"))
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
    deadline = time.monotonic() + params["stop_timeout"]
    while time.monotonic() < deadline and any(map(_alive, pids)):
        time.sleep(0.1)
    for pid in filter(_alive, pids):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def run_supervisor(module, params):
    name, state = params["name"], params["state"]
    supervisor = Supervisor(module, params["supervisor_config"])
    path = os.path.join(params["supervisor_programs_dir"], f"{name}.conf")
    wanted = supervisor_program(params)
    try:
        with open(path) as handle:
            program_changed = handle.read() != wanted
    except FileNotFoundError:
        program_changed = state != "stopped"
    # A program's state answers for supervisord too: one supervisorctl call
    # (a Python process) when it runs, as on a re-run.
    current = supervisor.state(name)
    if current is None:  # supervisord down, or the program unknown to it
        supervisor.ensure_running()
        current = supervisor.state(name)
    running = current in ("RUNNING", "STARTING", "BACKOFF")
    if state == "stopped":
        if not os.path.exists(path):
            return dict(changed=False)
        if not module.check_mode:
            # Removing the program stops it (stopsignal, then the group is killed).
            os.unlink(path)
            supervisor.ctl("reread")
            supervisor.ctl("update", name)
        return dict(changed=True)
    if not (state == "restarted" or program_changed or not running):
        return dict(changed=False)
    if module.check_mode:
        return dict(changed=True)
    os.makedirs(os.path.dirname(params["log_file"]), exist_ok=True)
    if not os.path.exists(path):
        stop_unsupervised(params)
    if program_changed:
        os.makedirs(params["supervisor_programs_dir"], exist_ok=True)
        with open(path, "w") as handle:
            handle.write(wanted)
        supervisor.ctl("reread")
        supervisor.ctl("update", name)  # (re)starts a new or changed program
    if state == "restarted" and not program_changed:
        supervisor.ctl("restart", name)
    elif supervisor.state(name) not in ("RUNNING", "STARTING"):
        supervisor.ctl("start", name)
    # Tries startretries times, each needing startsecs of life, before FATAL.
    final = supervisor.settle(name, 4 * (math.ceil(params["settle_seconds"]) + 5))
    if final != "RUNNING":
        module.fail_json(msg=f"{name} did not stay up ({final}); end of {params['log_file']}:\n"
                             f"{log_tail(params['log_file'])}")
    return dict(changed=True)


def log_tail(path, lines=20):
    try:
        with open(path, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return ""


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
            log_file=dict(type="path"),
            stop_signal=dict(type="str", default="TERM"),
            stop_timeout=dict(type="int", default=30),
            settle_seconds=dict(type="float", default=1.5),
            service_manager=dict(type="str", choices=["auto", "systemd", "supervisor"], default="auto"),
            supervisor_config=dict(type="path", default="/etc/supervisor/supervisord.conf"),
            supervisor_programs_dir=dict(type="path", default="/etc/supervisor/conf.d"),
        ),
        supports_check_mode=True,
    )
    params = dict(module.params)
    params["log_file"] = params["log_file"] or f"/var/log/{params['name']}.log"
    manager = params["service_manager"]
    if manager == "auto":
        manager = "systemd" if systemd_is_pid1() else "supervisor"
    if not os.access(params["command"][0], os.X_OK):
        module.fail_json(msg=f"{params['name']}: {params['command'][0]} is not an executable file")
    runner = run_systemd if manager == "systemd" else run_supervisor
    result = runner(module, params)
    module.exit_json(service_manager=manager, **result)


if __name__ == "__main__":
    main()
