"""Wall time of the toolkit: in the namespace lab, or on a bare machine as a new user runs it.

The namespace lab (the default) starts empty every time, so "fresh" means fresh: no
databases, no virtualenvs, no config on the hosts. What the machine running Ansible keeps
between runs is the wheelhouse it builds from PyPI (roles/python_venv) and the machine's
own packages; pass --cold to delete the wheelhouse first and include the wheel builds.

    python bench/deploy.py [--cold] [--keep]

Steps, each timed:
  fresh      tools/lab up ct c1;  ansible-playbook -i inventory/lab site.yml
  rerun      the same command again (must report changed=0)
  add        tools/lab up c2;     ansible-playbook -i inventory/lab site.yml --limit controller,c2
Targets on the 2-core machines: fresh <= 360 s, rerun <= 60 s, add <= 90 s.

--bare times the README's first command on a bare Debian 12 machine: nothing installed
beyond what a fresh cloud image has, no caches (no apt lists or archives, no pip or uv
cache, no wheelhouse).

    python bench/deploy.py --bare [--source tree|clone] [--keep]

The machine is a debootstrap (minbase) of bookworm with python3, git, ca-certificates,
sudo and procps, as a tar under /var/tmp/nova-bare (made once; delete it to make it
again), unpacked afresh for every run and run as a container of its own: a chroot in new
mount, PID, UTS, IPC and network namespaces, with its own init (PID 1 reaps orphans).
Its network namespace reaches only the root namespace over a veth pair, where this
script runs an HTTP proxy that lets through Debian's mirror and PyPI and nothing else
(apt's Acquire::http::Proxy; http(s)_proxy for pip and uv). The repository goes in as
/root/nova-runtime: the working tree's tracked and untracked files (--source tree, the
default) or a clone of the committed HEAD (--source clone). Steps, each timed:
  deploy     tools/deploy.sh, as the README says (bootstrap.sh, then site.yml)
  server     openstack --os-cloud admin server create --flavor m1.tiny
             --image nova-test-image --wait   (must end ACTIVE)
  rerun      tools/deploy.sh again (must report changed=0)
with the deploy broken down by phase: bootstrap.sh's own (apt, the toolkit's .venv),
each service virtualenv's wheel build and installation (the async jobs' own start and
end), and each play of site.yml. Targets: bare machine to an ACTIVE server <= 300 s,
rerun <= 45 s; exits 0 when both hold.

    python bench/deploy.py --bare --rerun

times only the re-run on a machine left by --keep: the toolkit's files of the working tree
(TOOLKIT: roles, playbooks, plugins, ...; not nova_runtime, which others may be changing,
and whose change a re-run would install) are copied over the machine's repository again
(files deleted from the tree stay there), then tools/deploy.sh runs once; prints its
changed= count, the per-role and slowest-task times, and the JSON.

Both modes print one line per step, then the figures as JSON on the last line.
"""

import argparse
import asyncio
import datetime
import glob
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
LAB = os.path.join(ROOT, "tools", "lab")
WHEELHOUSE = "/root/.cache/openstack-wheels"
TARGETS = {"fresh": 360, "rerun": 60, "add": 90}

# --- the bare machine ---
BARE_DIR = "/var/tmp/nova-bare"
IMAGE = os.path.join(BARE_DIR, "bookworm-minbase.tar")
MACHINE = os.path.join(BARE_DIR, "machine")
IMAGE_PACKAGES = "python3,git,ca-certificates,sudo,procps"   # what a fresh cloud image has
MIRROR = "http://deb.debian.org/debian"
NETNS = "nova-bare"
VETH = ("nbare0", "nbare1")                 # root side, machine side
PROXY_IP, MACHINE_IP, PROXY_PORT = "10.78.0.1", "10.78.0.2", 3128
# Where the proxy lets the machine go: the package mirrors, nothing else.
PROXY_ALLOWED = {("deb.debian.org", 80), ("pypi.org", 443), ("files.pythonhosted.org", 443)}
REPO_IN_MACHINE = "/root/nova-runtime"
# What --rerun copies into the machine again: the toolkit, not nova_runtime.
TOOLKIT = ("ansible.cfg", "site.yml", "roles/", "playbooks/", "plugins/", "inventory/", "tools/")
BARE_TARGETS = {"to_server": 300, "rerun": 45}
SOURCES = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
# As on the project's machines: packages do not start their services on install.
POLICY_RC_D = "#!/bin/sh\n# Packages do not start their services on install (as on the project's machines).\nexit 101\n"
# PID 1 of the machine: reaps orphans; SIGTERM ends it, and the kernel then kills the rest.
INIT = ("import os, signal, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: os._exit(0))\n"
        "while True:\n"
        "    try:\n"
        "        os.wait()\n"
        "    except ChildProcessError:\n"
        "        time.sleep(0.2)\n")


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


def lab(args, log):
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
    return 0


# --- the bare machine ---------------------------------------------------------------

class Proxy(threading.Thread):
    """An HTTP proxy (CONNECT and absolute-form GET) on the veth address, for PROXY_ALLOWED only."""

    def __init__(self, host, port):
        super().__init__(daemon=True)
        self.host, self.port = host, port
        self.ready = threading.Event()
        self.bytes_in = 0
        self.refused = []

    def run(self):
        asyncio.run(self._serve())

    async def _serve(self):
        server = await asyncio.start_server(self._client, self.host, self.port)
        self.ready.set()
        async with server:
            await server.serve_forever()

    async def _pipe(self, reader, writer, count=False):
        try:
            while data := await reader.read(65536):
                if count:
                    self.bytes_in += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            try:
                writer.write_eof()
            except (OSError, RuntimeError):
                pass

    async def _client(self, reader, writer):
        upstream = None
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                port = int(port)
            else:
                url = urllib.parse.urlsplit(target)
                host, port = url.hostname or "", url.port or 80
                # The first request in origin form; later ones on this connection stay in
                # absolute form, which servers accept (RFC 9112, 3.2.2).
                path = (url.path or "/") + (f"?{url.query}" if url.query else "")
                head = head.replace(target.encode("latin-1"), path.encode("latin-1"), 1)
            if (host, port) not in PROXY_ALLOWED:
                self.refused.append(f"{method} {target}")
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                await writer.drain()
                return
            up_reader, upstream = await asyncio.open_connection(host, port)
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                upstream.write(head)
            await asyncio.gather(self._pipe(reader, upstream), self._pipe(up_reader, writer, count=True))
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            for stream in (writer, upstream):
                if stream is not None:
                    stream.close()


def sh(argv, **kwargs):
    return subprocess.run(argv, check=True, **kwargs)


def make_image(log):
    """The fresh machine's image: debootstrap minbase + IMAGE_PACKAGES, apt's lists and archives empty."""
    if os.path.exists(IMAGE):
        return
    if not shutil.which("debootstrap"):
        sh(["apt-get", "install", "-y", "-qq", "debootstrap"], stdout=log, stderr=log)
    rootfs = os.path.join(BARE_DIR, "rootfs")
    # debootstrap removes its /debootstrap directory when it succeeds.
    if not os.path.exists(os.path.join(rootfs, "usr/bin/python3")) or os.path.exists(os.path.join(rootfs, "debootstrap")):
        shutil.rmtree(rootfs, ignore_errors=True)
        sh(["debootstrap", "--variant=minbase", f"--include={IMAGE_PACKAGES}", "bookworm", rootfs, MIRROR],
           stdout=log, stderr=log)
    os.makedirs(os.path.join(rootfs, "etc/apt/sources.list.d"), exist_ok=True)
    for stale in ["etc/apt/sources.list"] + glob.glob(os.path.join(rootfs, "var/lib/apt/lists/*_*")) \
            + glob.glob(os.path.join(rootfs, "var/cache/apt/*.bin")) \
            + glob.glob(os.path.join(rootfs, "var/cache/apt/archives/*.deb")):
        path = stale if stale.startswith("/") else os.path.join(rootfs, stale)
        if os.path.lexists(path):
            os.unlink(path)
    with open(os.path.join(rootfs, "etc/apt/sources.list.d/debian.sources"), "w") as handle:
        handle.write(SOURCES)
    policy = os.path.join(rootfs, "usr/sbin/policy-rc.d")
    with open(policy, "w") as handle:
        handle.write(POLICY_RC_D)
    os.chmod(policy, 0o755)
    sh(["tar", "-C", rootfs, "-cf", IMAGE + ".tmp", "."])
    os.rename(IMAGE + ".tmp", IMAGE)
    shutil.rmtree(rootfs)


def copy_repository(source, dest, log, update=False, only=None):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if source == "clone":
        sh(["git", "clone", "--quiet", ROOT, dest], stdout=log, stderr=log)
        return
    listed = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "-co", "--exclude-standard"],
                            check=True, capture_output=True).stdout.split(b"\0")
    files = b"\0".join(name for name in listed if name and os.path.lexists(os.path.join(ROOT.encode(), name))
                       and (only is None or name.decode().startswith(only)))
    os.makedirs(dest, exist_ok=update)
    packer = subprocess.Popen(["tar", "-C", ROOT, "--null", "-T", "-", "-cf", "-"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    unpacker = subprocess.Popen(["tar", "-C", dest, "-xf", "-"], stdin=packer.stdout)
    packer.stdout.close()
    packer.stdin.write(files)
    packer.stdin.close()
    if packer.wait() or unpacker.wait():
        sys.exit("copying the working tree into the machine failed")


def holder_pid():
    """The machine's PID 1 (as the root namespace numbers it), if one runs."""
    for path in glob.glob("/proc/[0-9]*/root"):
        try:
            if os.readlink(path) == MACHINE:
                pid = int(path.split("/")[2])
                with open(f"/proc/{pid}/status") as handle:
                    if re.search(r"^NSpid:\s+\d+\s+1$", handle.read(), re.M):
                        return pid
        except OSError:
            continue
    return None


def machine_down():
    pid = holder_pid()
    if pid:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not os.path.exists(f"/proc/{pid}"):
                break
            time.sleep(0.1)
    subprocess.run(["ip", "link", "del", VETH[0]], capture_output=True)
    subprocess.run(["ip", "netns", "del", NETNS], capture_output=True)


def machine_up(log):
    """Unpack the image, configure the machine's network and names, start its PID 1."""
    machine_down()
    shutil.rmtree(MACHINE, ignore_errors=True)
    os.makedirs(MACHINE)
    sh(["tar", "-C", MACHINE, "-xf", IMAGE])
    files = {
        "etc/hostname": "nova-bare\n",
        "etc/hosts": "127.0.0.1 localhost\n127.0.1.1 nova-bare\n::1 localhost ip6-localhost ip6-loopback\n",
        # Nothing to ask: names stay inside the machine (the proxy resolves the mirrors').
        "etc/resolv.conf": "nameserver 127.0.0.1\n",
        "etc/apt/apt.conf.d/80proxy": f'Acquire::http::Proxy "http://{PROXY_IP}:{PROXY_PORT}";\n',
    }
    for name, text in files.items():
        path = os.path.join(MACHINE, name)
        if os.path.lexists(path):
            os.unlink(path)
        with open(path, "w") as handle:
            handle.write(text)
    # This workplace's egress inspects TLS: the machine trusts its CA, as this one does
    # (a fresh machine elsewhere needs none of it; nothing else is copied in).
    for cert in glob.glob("/usr/local/share/ca-certificates/*.crt"):
        shutil.copy(cert, os.path.join(MACHINE, "usr/local/share/ca-certificates"))
    sh(["chroot", MACHINE, "update-ca-certificates"], stdout=log, stderr=log)
    sh(["ip", "netns", "add", NETNS])
    sh(["ip", "link", "add", VETH[0], "type", "veth", "peer", "name", VETH[1]])
    sh(["ip", "link", "set", VETH[1], "netns", NETNS])
    sh(["ip", "addr", "add", f"{PROXY_IP}/24", "dev", VETH[0]])
    sh(["ip", "link", "set", VETH[0], "up"])
    sh(["ip", "-n", NETNS, "addr", "add", f"{MACHINE_IP}/24", "dev", VETH[1]])
    sh(["ip", "-n", NETNS, "link", "set", VETH[1], "up"])
    sh(["ip", "-n", NETNS, "link", "set", "lo", "up"])
    script = f"""set -e
cd {MACHINE}
mount -t proc proc proc
mount -t sysfs sysfs sys
mount --rbind /dev dev
mount -t tmpfs -o mode=1777 tmpfs dev/shm
mount -t tmpfs -o mode=755 tmpfs run
mount -t tmpfs -o mode=1777 tmpfs tmp
hostname nova-bare
exec chroot . /usr/bin/python3 -c '{INIT}'
"""
    subprocess.Popen(["ip", "netns", "exec", NETNS, "unshare", "--mount", "--pid", "--fork", "--uts", "--ipc",
                      "--propagation", "private", "sh", "-c", script],
                     stdout=log, stderr=log, start_new_session=True)
    for _ in range(100):
        if holder_pid():
            return
        time.sleep(0.1)
    sys.exit("the bare machine's init did not start; see the log")


def inside(command):
    """argv running ``command`` (a shell line) in the machine, in the repository, as a login would."""
    env = {
        "HOME": "/root", "USER": "root", "LOGNAME": "root", "LANG": "C.UTF-8", "TERM": "dumb",
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "http_proxy": f"http://{PROXY_IP}:{PROXY_PORT}", "https_proxy": f"http://{PROXY_IP}:{PROXY_PORT}",
        "no_proxy": "localhost,127.0.0.1,::1",
        # As on this machine: pip and uv use the system's CA store (see machine_up).
        "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt", "PIP_CERT": "/etc/ssl/certs/ca-certificates.crt",
        "REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt",
        # Per-role and per-task times (printed at the end); nothing else changes.
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_roles,ansible.posix.profile_tasks",
        "PYTHONUNBUFFERED": "1",
    }
    return ["nsenter", "-t", str(holder_pid()), "-m", "-u", "-i", "-n", "-p", "-r", "-w",
            "/usr/bin/env", "-i", *[f"{k}={v}" for k, v in env.items()],
            "/bin/bash", "-c", f"cd {REPO_IN_MACHINE} && {command}"]


def step(command, log, t0):
    """Run a command in the machine; returns (seconds, [(seconds since t0, line)], exit code)."""
    log.write(f"$ {command}\n")
    log.flush()
    started = time.time()
    process = subprocess.Popen(inside(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               errors="replace")
    lines = []
    for line in process.stdout:
        at = time.time() - t0
        lines.append((at, line.rstrip("\n")))
        log.write(f"[{at:7.1f}] {line}")
        log.flush()
    code = process.wait()
    return time.time() - started, lines, code


def machine_cpu():
    """CPU seconds of the machine's processes: PID 1 with what it reaped, and its live children's."""
    tick = os.sysconf("SC_CLK_TCK")
    pid1 = holder_pid()
    total = 0
    for path in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(path) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(path.split("/")[2]), int(fields[1])
        if pid == pid1:
            total += sum(int(f) for f in fields[11:15])
        elif ppid == pid1:
            total += sum(int(f) for f in fields[11:15])
    own = resource.getrusage(resource.RUSAGE_CHILDREN)
    return total / tick + own.ru_utime + own.ru_stime


def bootstrap_phases(lines, t0):
    """bootstrap.sh's "bootstrap: PHASE took N s (from EPOCH)" lines: {phase: (start, end)}.
    An older bootstrap.sh printed none: its phases are then read from its messages."""
    phases = {}
    for at, line in lines:
        match = re.match(r"bootstrap: (.+?) took ([\d.]+) s(?: \(from ([\d.]+)\))?", line)
        if match:
            start = float(match.group(3)) - t0 if match.group(3) else at - float(match.group(2))
            phases[f"bootstrap: {match.group(1)}"] = (start, start + float(match.group(2)))
    if not phases:
        marks = [at for at, line in lines if line.startswith("bootstrap: installing nova_runtime")]
        plays = [at for at, line in lines if line.startswith("PLAY [")]
        if marks and plays:
            phases = {"bootstrap: Debian packages": (0.0, marks[0]), "bootstrap: the toolkit's .venv": (marks[0], plays[0])}
    return phases


def play_phases(lines):
    """Each play of site.yml, from its PLAY line to the next (or to PLAY RECAP)."""
    phases, current = {}, None
    for at, line in lines:
        match = re.match(r"PLAY \[(.*)\]", line)
        if match or line.startswith("PLAY RECAP"):
            if current:
                phases[current[0]] = (current[1], at)
            current = (f"play: {match.group(1)}", at) if match else None
            if current and current[0] in phases:     # the same name twice
                current = (f"{current[0]} (2)", at)
    return phases


def venv_phases(t0):
    """The service virtualenvs' async jobs (python_venv's build.yml, install.yml): their own start and end."""
    phases = {}
    for path in glob.glob(os.path.join(MACHINE, "root/.ansible_async/*")):
        try:
            with open(path) as handle:
                result = json.load(handle)
        except (OSError, ValueError):
            continue
        cmd = result.get("cmd", "")
        cmd = cmd if isinstance(cmd, str) else ""
        wheels = re.search(r"wheels=\S*?/([a-z0-9_-]+)-[0-9a-f]{12}", cmd)
        uv = re.search(r"/python-venv-([a-z0-9_-]+)\.XXXXXX", cmd)
        if not (wheels or uv) or "start" not in result or "end" not in result:
            continue
        name = (wheels or uv).group(1)
        kind = "uv install" if uv else "wheels" if 'tmp="$wheels.tmp"' in cmd else "install"

        def epoch(stamp):
            return datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").replace(
                tzinfo=datetime.timezone.utc).timestamp() - t0
        phases[f"venv {name}: {kind}"] = (epoch(result["start"]), epoch(result["end"]))
    return phases


def print_phases(phases):
    print(f"{'phase':60} {'from':>7} {'to':>7} {'took':>7}")
    for name, (start, end) in sorted(phases.items(), key=lambda item: item[1]):
        print(f"{name[:60]:60} {start:7.1f} {end:7.1f} {end - start:7.1f}")


def bare(args, log_path):
    figures = {"source": args.source}
    with open(log_path, "a") as log:
        make_image(log)
        proxy = Proxy(PROXY_IP, PROXY_PORT)
        machine_up(log)
        try:
            proxy.start()
            if not proxy.ready.wait(10):
                sys.exit("the proxy did not start")
            copy_repository(args.source, MACHINE + REPO_IN_MACHINE, log)
            t0 = time.time()
            cpu0 = machine_cpu()
            figures["deploy"], lines, code = step("tools/deploy.sh", log, t0)
            figures["deploy_cpu"] = machine_cpu() - cpu0
            figures["downloaded_mb"] = proxy.bytes_in / 1e6
            phases = {**bootstrap_phases(lines, t0), **play_phases(lines), **venv_phases(t0)}
            profile = [line for _, line in lines[-80:] if re.search(r"-{5,} +[\d.]+s$", line)]
            if code:
                print("\n".join(line for _, line in lines[-30:]))
                sys.exit(f"tools/deploy.sh failed (exit {code}); see {log_path}")
            figures["server"], lines, code = step(
                "openstack --os-cloud admin server create --flavor m1.tiny --image nova-test-image"
                " --wait -f json bare-bench", log, t0)
            status = json.loads("\n".join(line for _, line in lines) or "{}").get("status") if not code else None
            figures["server_status"] = status
            if status != "ACTIVE":
                sys.exit(f"the server did not become ACTIVE ({status}); see {log_path}")
            figures["to_server"] = figures["deploy"] + figures["server"]
            figures["rerun"], lines, code = step("tools/deploy.sh", log, t0)
            if code:
                sys.exit(f"the re-run of tools/deploy.sh failed (exit {code}); see {log_path}")
            figures["rerun_changed"] = changed_count("\n".join(line for _, line in lines))
            rerun_profile = [line for _, line in lines[-80:] if re.search(r"-{5,} +[\d.]+s$", line)]
            figures["proxy_refused"] = proxy.refused[:10]
        finally:
            if not args.keep:
                machine_down()
    print_phases(phases)
    if profile:
        print("deploy, per role and slowest tasks:")
        print("\n".join(f"  {line}" for line in profile))
        print("rerun, per role and slowest tasks:")
        print("\n".join(f"  {line}" for line in rerun_profile))
    ok = True
    for name, target in BARE_TARGETS.items():
        verdict = "ok" if figures[name] <= target else "over target"
        ok = ok and figures[name] <= target
        print(f"{name:9} {figures[name]:7.1f} s  (target {target} s: {verdict})")
    print(f"deploy {figures['deploy']:.1f} s ({figures['deploy_cpu']:.0f} s of CPU, "
          f"{figures['downloaded_mb']:.0f} MB downloaded), server ACTIVE after {figures['server']:.1f} s; "
          f"rerun changed={figures['rerun_changed']}; full output in {log_path}")
    figures["phases"] = {name: [round(start, 1), round(end, 1)] for name, (start, end) in phases.items()}
    print(json.dumps({key: round(value, 1) if isinstance(value, float) else value
                      for key, value in figures.items()}))
    return 0 if ok and figures["rerun_changed"] == 0 else 1


def rerun_only(args, log_path):
    """Only the re-run, on a machine left by --keep (with the working tree copied in again)."""
    if args.source != "tree" or not holder_pid():
        sys.exit("--rerun needs a bare machine left by --bare --keep (and --source tree)")
    with open(log_path, "a") as log:
        proxy = Proxy(PROXY_IP, PROXY_PORT)
        proxy.start()
        if not proxy.ready.wait(10):
            sys.exit("the proxy did not start")
        copy_repository("tree", MACHINE + REPO_IN_MACHINE, log, update=True, only=TOOLKIT)
        load = os.getloadavg()
        seconds, lines, code = step("tools/deploy.sh", log, time.time())
    tail = [line for _, line in lines[-80:] if re.search(r"-{5,} +[\d.]+s$", line)]
    print("\n".join(f"  {line}" for line in tail))
    if code:
        sys.exit(f"the re-run of tools/deploy.sh failed (exit {code}); see {log_path}")
    changed = changed_count("\n".join(line for _, line in lines))
    verdict = "ok" if seconds <= BARE_TARGETS["rerun"] else "over target"
    print(f"rerun {seconds:7.1f} s  (target {BARE_TARGETS['rerun']} s: {verdict}); changed={changed}; "
          f"load average {load[0]:.1f} at the start; full output in {log_path}")
    print(json.dumps({"rerun": round(seconds, 1), "rerun_changed": changed, "load": round(load[0], 1)}))
    return 0 if seconds <= BARE_TARGETS["rerun"] and changed == 0 else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cold", action="store_true", help="lab: delete the wheelhouse first")
    parser.add_argument("--keep", action="store_true", help="leave the lab (or the bare machine) running")
    parser.add_argument("--bare", action="store_true", help="time tools/deploy.sh on a bare machine")
    parser.add_argument("--source", choices=["tree", "clone"], default="tree",
                        help="bare: the working tree's files (default) or a clone of HEAD")
    parser.add_argument("--rerun", action="store_true",
                        help="bare: only re-run tools/deploy.sh on a machine left by --keep")
    parser.add_argument("--down", action="store_true",
                        help="bare: stop a machine left by --keep and delete its files, then exit")
    args = parser.parse_args()

    name = "bench-deploy-bare-rerun.log" if args.rerun else "bench-deploy-bare.log" if args.bare else "bench-deploy.log"
    log = os.path.join(ROOT, ".tmp", name)
    os.makedirs(os.path.dirname(log), exist_ok=True)
    open(log, "w").close()
    if args.down:
        machine_down()
        shutil.rmtree(MACHINE, ignore_errors=True)
        return 0
    if args.rerun:
        return rerun_only(args, log)
    return bare(args, log) if args.bare else lab(args, log)


if __name__ == "__main__":
    sys.exit(main())
