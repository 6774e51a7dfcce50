"""The toolkit's guest image (roles/guest_image) for the tests: built once per
set of inputs, booted under QEMU TCG with user-mode networking that reaches
nothing but this machine's loopback, and a metadata server on 127.0.0.1.
"""

import fcntl
import http.server
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

from nova_runtime.metadata import content

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELAY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "metadata_relay.py")
BUILD_SCRIPT = os.path.join(ROOT, "roles", "guest_image", "files", "build-guest-image.sh")
CACHE = os.path.join(os.environ.get("NOVA_RUNTIME_TEST_CACHE", "/var/tmp"), "nova-runtime-guest-image")
HOST_TOOLS = ("qemu-system-x86_64", "qemu-img", "ssh", "ssh-keygen", "ssh-keyscan", "apt-get", "dpkg-deb",
              "cpio", "sfdisk", "mkfs.fat", "mcopy")

# QEMU's guestfwd forwards only addresses inside its user network, so that
# network is link-local, with 169.254.169.254 in it; restrict=on keeps the guest
# from reaching anything but the forwards.
NETWORK = "169.254.0.0/16"
HOST_ADDRESS = "169.254.0.2"  # QEMU's side (gateway, DHCP server)
GUEST_ADDRESS = "169.254.0.15"
METADATA_ADDRESS = "169.254.169.254"
GUEST_MAC = "52:54:00:12:34:56"


def missing_tools():
    return [tool for tool in HOST_TOOLS if not shutil.which(tool)]


def image():
    """The built image for the current inputs (package versions, scripts),
    built once under a lock so that parallel sessions do not build it twice."""
    env = dict(os.environ, GUEST_IMAGE_DEBS=os.path.join(CACHE, "debs"))
    result = subprocess.run([BUILD_SCRIPT, "fingerprint"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{BUILD_SCRIPT} fingerprint: {result.stderr}"
    fingerprint = result.stdout.strip()
    path = os.path.join(CACHE, f"nova-guest-{fingerprint}.qcow2")
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(path):
            subprocess.run([BUILD_SCRIPT, "build", path], env=env, check=True)
            for name in os.listdir(CACHE):  # images of earlier inputs
                if name.startswith("nova-guest-") and name != os.path.basename(path):
                    os.remove(os.path.join(CACHE, name))
    return path


class MetadataServer:
    """A metadata service on 127.0.0.1: ``lookup(path)`` gives the body of a
    path (the metadata API's MetadataContent.lookup) or raises for a 404. It
    records the paths asked for."""

    def __init__(self, lookup):
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                try:
                    body = lookup(self.path)[0]
                    self.send_response(200)
                except content.PathNotFound:
                    body = b""
                    self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Guest:
    """The image booted under QEMU TCG: a throw-away overlay (snapshot=on),
    a virtio NIC on a restricted user network (the ssh port forwarded from
    127.0.0.1, 169.254.169.254:80 forwarded to ``metadata_port`` when given),
    a config drive as an IDE CD-ROM when given (as the libvirt driver attaches
    it), the serial console to a file, and every frame recorded (pcap)."""

    def __init__(self, disk, workdir, metadata_port=None, config_drive=None, memory_mb=128):
        # memory_mb: the cloud kernel needs 96 or more.
        self.console = os.path.join(workdir, "console.log")
        self.pcap = os.path.join(workdir, "network.pcap")
        self.qmp = os.path.join(workdir, "qmp.sock")
        self.ssh_port = free_port()
        netdev = (f"user,id=n0,restrict=on,net={NETWORK},host={HOST_ADDRESS},dhcpstart={GUEST_ADDRESS},"
                  f"hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22")
        if metadata_port:
            relay = f"{sys.executable} {RELAY} {metadata_port}"
            netdev += f",guestfwd=tcp:{METADATA_ADDRESS}:80-cmd:{relay}"
        command = ["qemu-system-x86_64", "-machine", "pc,accel=tcg", "-m", str(memory_mb), "-smp", "1",
                   "-display", "none", "-monitor", "none", "-no-reboot",
                   "-qmp", f"unix:{self.qmp},server=on,wait=off",
                   "-drive", f"file={disk},if=virtio,format=qcow2,snapshot=on",
                   "-netdev", netdev, "-device", f"virtio-net-pci,netdev=n0,mac={GUEST_MAC}",
                   "-object", f"filter-dump,id=dump0,netdev=n0,file={self.pcap}",
                   "-serial", f"file:{self.console}"]
        if config_drive:
            command += ["-drive", f"file={config_drive},if=ide,media=cdrom,format=raw,readonly=on"]
        self.log = open(os.path.join(workdir, "qemu.log"), "w")
        self.started = time.monotonic()
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)

    def console_text(self):
        try:
            with open(self.console, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_for_console(self, marker, timeout=180):
        """The console line holding ``marker``, once the guest wrote it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.console_text().splitlines():
                if marker in line:
                    return line.strip()
            if self.process.poll() is not None:
                raise AssertionError(f"QEMU exited with {self.process.returncode}:\n{self.console_text()[-3000:]}")
            time.sleep(0.5)
        raise AssertionError(f"no {marker!r} on the console within {timeout}s:\n{self.console_text()[-3000:]}")

    def ssh(self, key, *command, timeout=30):
        return subprocess.run(
            ["ssh", "-F", "/dev/null", "-i", key, "-p", str(self.ssh_port),
             "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "LogLevel=ERROR", "root@127.0.0.1", *command],
            capture_output=True, text=True, timeout=timeout)

    def host_key_fingerprint(self):
        scan = subprocess.run(["ssh-keyscan", "-p", str(self.ssh_port), "-t", "ed25519", "127.0.0.1"],
                              capture_output=True, text=True, timeout=30)
        return subprocess.run(["ssh-keygen", "-lf", "-"], input=scan.stdout, capture_output=True,
                              text=True, check=True).stdout.split()[1]

    def power_button(self):
        """Press the ACPI power button, as libvirt's clean shutdown does."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(self.qmp)
            stream = sock.makefile("rw")
            stream.readline()  # the greeting
            for command in ("qmp_capabilities", "system_powerdown"):
                stream.write(json.dumps({"execute": command}) + "\n")
                stream.flush()
                reply = {}
                while not reply.keys() & {"return", "error"}:  # events come in between
                    reply = json.loads(stream.readline())
                assert "return" in reply, (command, reply)

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()


def frames(path):
    """(source MAC, ethertype, IPv4 protocol, source address, destination
    address, source port, destination port) of each frame of a pcap file;
    the IPv4 fields are None for other frames."""
    with open(path, "rb") as f:
        data = f.read()
    offset = 24  # the file header
    while offset + 16 <= len(data):
        length = struct.unpack_from("<I", data, offset + 8)[0]
        frame = data[offset + 16:offset + 16 + length]
        offset += 16 + length
        source = ":".join(f"{b:02x}" for b in frame[6:12])
        ethertype = struct.unpack_from("!H", frame, 12)[0]
        if ethertype != 0x0800:
            yield source, ethertype, None, None, None, None, None
            continue
        ip = frame[14:]
        header = (ip[0] & 0x0F) * 4
        protocol = ip[9]
        ports = struct.unpack_from("!HH", ip, header) if protocol in (6, 17) else (None, None)
        yield (source, ethertype, protocol, socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]),
               *ports)
