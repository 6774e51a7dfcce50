"""What the libvirt driver needs in tests: a Glance stand-in and private hypervisors.

Images: ``ImageStore`` makes a small qcow2 image whose first 64 KiB hold a
known pattern (written with qemu-io) and serves it as the driver's
``image_fetcher``; ``carries_pattern`` tells whether a disk (a snapshot)
holds the image's data.

Hypervisors: test:///default is one in-memory libvirt host shared by every
connection of the process (it comes with a domain named "test"). A second
"host" needs its own: ``private_uri`` writes a node file that test:///PATH
loads into a fresh in-memory host per connection.
"""

import json
import os
import shutil
import subprocess

PATTERN = "0xab"
PATTERN_BYTES = "64k"
IMAGE_SIZE = "64M"

_NODE_XML = """<node>
  <cpu><mhz>2000</mhz><model>x86_64</model><active>4</active><nodes>1</nodes>
       <sockets>1</sockets><cores>4</cores><threads>1</threads></cpu>
  <memory>8388608</memory>
</node>
"""


def qemu_io(path, command):
    """Run a qemu-io command on the image; True if it succeeded (a read with
    -P fails on a pattern mismatch)."""
    result = subprocess.run(["qemu-io", "-f", "qcow2", "-c", command, path],
                            capture_output=True, text=True, check=False)
    return result.returncode == 0 and "verification failed" not in result.stdout


def image_info(path):
    return json.loads(subprocess.run(["qemu-img", "info", "--output=json", path],
                                     capture_output=True, text=True, check=True).stdout)


class ImageStore:
    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.source = os.path.join(directory, "source.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", self.source, IMAGE_SIZE],
                       check=True)
        assert qemu_io(self.source, f"write -P {PATTERN} 0 {PATTERN_BYTES}")
        self.fetched = []  # image ids, in the order the driver fetched them

    def fetch(self, context, image_id, path):
        self.fetched.append(image_id)
        shutil.copyfile(self.source, path)

    def carries_pattern(self, path):
        return qemu_io(path, f"read -P {PATTERN} 0 {PATTERN_BYTES}")


def private_uri(directory, host):
    """A test:/// URI of a fresh in-memory libvirt host of its own."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{host}-node.xml")
    with open(path, "w", encoding="utf-8") as node:
        node.write(_NODE_XML)
    return f"test://{os.path.abspath(path)}"


class PrivateLibvirtd:
    """libvirtd and virtlogd of this test only, running QEMU for real (root).

    They run in a mount namespace of their own in which /run/libvirt,
    /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt are directories
    under ``directory``: no other libvirtd on the machine sees their domains
    or they its. Their socket is in ``directory``/sock, reached through
    ``uri``. Starting takes about 8 s (LAB-NOTES.md).
    """

    STATE_DIRS = ("/run/libvirt", "/var/lib/libvirt", "/var/log/libvirt", "/var/cache/libvirt")

    def __init__(self, directory):
        self.directory = os.path.abspath(directory)
        self.socket = os.path.join(self.directory, "sock", "libvirt-sock")
        self.uri = f"qemu:///system?socket={self.socket}"
        self.process = None

    @classmethod
    def missing(cls):
        """Why this machine cannot run one, or None."""
        if os.geteuid() != 0:
            return "needs root"
        for program in ("libvirtd", "virtlogd", "unshare", "qemu-system-x86_64"):
            if shutil.which(program) is None:
                return f"{program} is not installed"
        return None

    def start(self, timeout=60):
        import time
        commands = []
        for index, target in enumerate(self.STATE_DIRS):
            source = os.path.join(self.directory, f"state{index}")
            os.makedirs(source, exist_ok=True)
            commands.append(f"mkdir -p {target} && mount --bind {source} {target}")
        os.makedirs(os.path.dirname(self.socket), exist_ok=True)
        config = os.path.join(self.directory, "libvirtd.conf")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(f'unix_sock_dir = "{os.path.dirname(self.socket)}"\n'
                         'auth_unix_rw = "none"\nauth_unix_ro = "none"\n')
        commands.append(f"virtlogd -d -p {self.directory}/virtlogd.pid")
        commands.append(f"exec libvirtd -f {config} -p {self.directory}/libvirtd.pid")
        log = open(os.path.join(self.directory, "libvirtd.log"), "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-ec", "\n".join(commands)],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"libvirtd exited: see {self.directory}/libvirtd.log")
            if os.path.exists(self.socket) and subprocess.run(
                    ["virsh", "-c", self.uri, "version"], capture_output=True).returncode == 0:
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"libvirtd did not answer within {timeout} s")

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        pid_file = os.path.join(self.directory, "virtlogd.pid")
        if os.path.exists(pid_file):
            with open(pid_file, encoding="utf-8") as handle:
                pid = int(handle.read().strip() or 0)
            if pid:
                try:
                    os.kill(pid, 15)
                except ProcessLookupError:
                    pass
        self.process = None
