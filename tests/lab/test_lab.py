"""tools/lab: network-namespace hosts reached over real ssh.

Each test module gets its own lab (its own namespace prefix, state directory and
inventory), so a lab that molecule or a developer runs is left alone.
"""

import os
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "tools" / "lab"

if os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "unshare", "ssh", "/usr/sbin/sshd")):
    pytest.skip("the lab needs root, iproute2, util-linux and openssh-server", allow_module_level=True)


class Lab:
    """One lab: runs tools/lab with its own environment, reads its inventory."""

    def __init__(self, root):
        self.prefix = f"t{uuid.uuid4().hex[:6]}-"
        self.state = root / "state"
        self.inventory = root / "inventory.yml"
        self.env = dict(
            os.environ,
            NOVA_LAB_PREFIX=self.prefix,
            NOVA_LAB_DIR=str(self.state),
            NOVA_LAB_INVENTORY=str(self.inventory),
        )

    def tool(self, *args, check=True):
        return subprocess.run([str(LAB), *args], env=self.env, capture_output=True, text=True,
                              check=check, timeout=60)

    def hostvars(self):
        data = yaml.safe_load(self.inventory.read_text())
        hosts = {}
        for group in ("controller", "compute"):
            for name, variables in (data[group]["hosts"] or {}).items():
                hosts[name] = dict(data["all"]["vars"], **variables, group=group)
        return hosts

    def ssh(self, host, command, check=True):
        """The real ssh binary, with what the inventory gives Ansible, host key checked."""
        v = self.hostvars()[host]
        argv = ["ssh", "-i", v["ansible_ssh_private_key_file"],
                "-o", f"UserKnownHostsFile={self.state}/ssh/known_hosts", "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
                *shlex.split(v["ansible_ssh_common_args"]),
                f"{v['ansible_user']}@{v['ansible_host']}", command]
        return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60)

    def namespaces(self):
        return [n for n in os.listdir("/run/netns") if n.startswith(self.prefix)] \
            if os.path.isdir("/run/netns") else []


def processes_mentioning(text):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if text.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("lab"))
    try:
        lab.tool("up")
        yield lab
    finally:
        lab.tool("down", check=False)


def test_up_starts_ct_c1_c2_and_writes_the_inventory(lab):
    hosts = lab.hostvars()
    assert {h: v["group"] for h, v in hosts.items()} == {"ct": "controller", "c1": "compute", "c2": "compute"}
    assert {h: v["ansible_host"] for h, v in hosts.items()} == {
        "ct": "10.77.0.10", "c1": "10.77.0.11", "c2": "10.77.0.12"}
    for v in hosts.values():
        assert v["management_ip"] == v["ansible_host"]
        assert v["ansible_user"] == "root"
        assert v["ansible_python_interpreter"] == "/usr/bin/python3"
        assert Path(v["ansible_ssh_private_key_file"]).is_file()
    assert sorted(lab.namespaces()) == sorted(lab.prefix + n for n in ("lab-br", "mgmt", "ct", "c1", "c2"))


def test_ssh_reaches_every_host_which_knows_its_name_and_address(lab):
    for host, v in lab.hostvars().items():
        result = lab.ssh(host, "hostname; ip -4 -o addr show dev eth0; ip route show default")
        name, address, route = result.stdout.splitlines()
        assert name == host
        assert f"inet {v['ansible_host']}/24" in address
        assert route.startswith("default via 10.77.0.1")


def test_up_again_changes_nothing(lab):
    pids = {h: (lab.state / "hosts" / h / "host.pid").read_text() for h in ("ct", "c1", "c2")}
    inventory = lab.inventory.stat().st_mtime_ns
    result = lab.tool("up")
    assert "already up" in result.stderr
    assert {h: (lab.state / "hosts" / h / "host.pid").read_text() for h in pids} == pids
    assert lab.inventory.stat().st_mtime_ns == inventory


def test_each_host_has_its_own_etc_nova(lab):
    marker = f"written on c1 {uuid.uuid4()}"
    lab.ssh("c1", f"echo '{marker}' > /etc/nova/lab-test")
    assert lab.ssh("c1", "cat /etc/nova/lab-test").stdout.strip() == marker
    assert lab.ssh("c2", "ls -A /etc/nova").stdout == ""
    assert lab.ssh("ct", "test -e /etc/nova/lab-test", check=False).returncode == 1
    assert not Path("/etc/nova/lab-test").exists()  # the machine's own
    assert (lab.state / "hosts" / "c1" / "fs" / "etc" / "nova" / "lab-test").read_text().strip() == marker


def test_private_state_is_mounted_over_the_hosts_own_layer(lab):
    """A bind mount on a directory of the machine itself would be detached when
    someone removes that directory on the machine; on the host's overlay it is not."""
    mounts = lab.ssh("c1", "findmnt -n -l -o TARGET,FSTYPE,SOURCE").stdout.splitlines()
    table = {line.split()[0]: line.split()[1:] for line in mounts}
    for directory in ("/etc", "/opt", "/var/lib", "/var/log"):
        assert table[directory][0] == "overlay"
    assert table["/run"][0] == "tmpfs"
    for private in ("/etc/nova", "/opt/openstack", "/var/lib/mysql", "/etc/hosts"):
        assert table[private][1].endswith(f"[{lab.state}/hosts/c1/fs{private}]")


def test_processes_of_one_host_are_not_seen_on_another(lab):
    lab.ssh("c1", "setsid sleep 600 </dev/null >/dev/null 2>&1 &")
    assert "sleep 600" in lab.ssh("c1", "ps -eo args").stdout
    assert "sleep 600" not in lab.ssh("c2", "ps -eo args").stdout


def test_hosts_resolve_each_other_by_name_and_nothing_else(lab):
    listing = lab.ssh("c1", "getent hosts ct c2 mgmt").stdout.split()
    assert listing == ["10.77.0.10", "ct", "10.77.0.12", "c2", "10.77.0.1", "mgmt"]
    assert lab.ssh("c1", "cat /etc/resolv.conf").stdout == "nameserver 127.0.0.1\n"
    # No DNS server answers inside the lab: an unknown name fails at once.
    assert lab.ssh("c1", "timeout 5 getent hosts pypi.org", check=False).returncode == 2
    # ct's sshd answers c1 at the name ct.
    banner = lab.ssh("c1", "timeout 5 bash -c 'exec 3<>/dev/tcp/ct/22; head -c 7 <&3'").stdout
    assert banner == "SSH-2.0"


def test_ansible_reaches_every_host_with_the_inventory(lab):
    ansible = Path(sys.executable).parent / "ansible"
    if not ansible.exists():
        pytest.skip("ansible is not installed in this virtualenv")
    result = subprocess.run([str(ansible), "-i", str(lab.inventory), "all", "-m", "ping"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(line.split()[0] for line in result.stdout.splitlines() if "SUCCESS" in line) == ["c1", "c2", "ct"]


def test_adding_c3_to_the_running_lab(lab):
    pids = {h: (lab.state / "hosts" / h / "host.pid").read_text() for h in ("ct", "c1", "c2")}
    lab.tool("up", "c3")
    hosts = lab.hostvars()
    assert hosts["c3"]["group"] == "compute" and hosts["c3"]["ansible_host"] == "10.77.0.13"
    assert lab.ssh("c3", "hostname").stdout.strip() == "c3"
    # The running hosts were not restarted, and they know c3 now.
    assert {h: (lab.state / "hosts" / h / "host.pid").read_text() for h in pids} == pids
    assert lab.ssh("ct", "getent hosts c3").stdout.split() == ["10.77.0.13", "c3"]
    assert lab.ssh("c3", "ls -A /etc/nova").stdout == ""


def test_down_removes_namespaces_processes_mounts_and_state(tmp_path):
    lab = Lab(tmp_path)
    lab.tool("up", "ct", "c1")
    lab.ssh("c1", "setsid sleep 600 </dev/null >/dev/null 2>&1 &")
    assert lab.namespaces() and processes_mentioning(str(lab.state))

    lab.tool("down")
    assert lab.namespaces() == []
    assert processes_mentioning(str(lab.state)) == []
    assert str(lab.state) not in Path("/proc/self/mountinfo").read_text()
    assert not lab.state.exists()
    # The inventory is back to the default hosts, and down again is harmless.
    assert sorted(lab.hostvars()) == ["c1", "c2", "ct"]
    assert lab.tool("down").returncode == 0
