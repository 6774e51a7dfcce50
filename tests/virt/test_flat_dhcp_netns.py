"""The flat network of a compute (network/linux_net.py) for real, inside network
namespaces that this test makes (``nrt-dhcp-<pid>-host`` and ``-guest``):

    guest ns: nrtg0 (the guest's NIC, busybox udhcpc and wget)
       |  veth
    host ns:  nrth0 -- bridge nrtbr0 (10.99.0.1/24: dnsmasq, metadata proxy on :9697)
              127.0.0.1:8775  the test's metadata server, which checks the signature
                              with the metadata API's own code

The last test boots the toolkit's guest image (tests/virt/guest_image.py) under
QEMU TCG on a tap in the bridge instead of the veth: its own DHCP client and
metadata reader, then ping and ssh from the host namespace (marked guest_image too).

Needs root, ip, iptables, dnsmasq (dnsmasq-base), dhcp_release (dnsmasq-utils)
and busybox. Nothing leaves the two namespaces.
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from nova_runtime import config
from nova_runtime.network import dhcp, linux_net

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
    pytest.mark.skipif(any(shutil.which(tool) is None for tool in
                           ("ip", "iptables", "dnsmasq", "dhcp_release", "busybox")),
                       reason="needs ip, iptables, dnsmasq, dhcp_release and busybox"),
]

PREFIX = f"nrt-dhcp-{os.getpid()}"
HOST_NS, GUEST_NS = f"{PREFIX}-host", f"{PREFIX}-guest"
BRIDGE = "nrtbr0"
SECRET = "test-secret"
MAC = "fa:16:3e:0a:0b:0c"
UNKNOWN_MAC = "fa:16:3e:99:99:99"

# The metadata API's side, reduced to its check: a signed X-Instance-ID is
# answered with what the API would look up.
UPSTREAM = textwrap.dedent("""
    import http.server, json, sys
    from nova_runtime.metadata import signature
    secret = sys.argv[2]
    # Bodies made beforehand by the metadata API's content code, for a real guest.
    served = json.load(open(sys.argv[3])) if len(sys.argv) > 3 else {}
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            uuid = self.headers.get("X-Instance-ID", "")
            ok = signature.matches(secret, uuid,
                                          self.headers.get("X-Instance-ID-Signature"))
            status = 200 if ok else 403
            if served:
                status = status if self.path in served else 404
                body = served.get(self.path, "").encode()
            else:
                body = json.dumps({"uuid": uuid, "project_id": self.headers.get("X-Tenant-ID"),
                                   "path": self.path, "from": self.client_address[0],
                                   "forwarded_for": self.headers.get("X-Forwarded-For")}).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
""")

# udhcpc hands the lease to this script; it configures the NIC and writes what it got.
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    ip route replace default via "$router" dev "$interface"
    printf 'ip=%s router=%s dns=%s\\n' "$ip" "$router" "$dns" > "{out}"
    ;;
esac
"""


def run(*argv, check=True, timeout=30):
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=timeout)


def in_ns(ns, *argv, **kwargs):
    return run("ip", "netns", "exec", ns, *argv, **kwargs)


@pytest.fixture
def namespaces():
    for ns in (HOST_NS, GUEST_NS):
        run("ip", "netns", "add", ns)
    try:
        in_ns(HOST_NS, "ip", "link", "set", "lo", "up")
        in_ns(GUEST_NS, "ip", "link", "set", "lo", "up")
        in_ns(HOST_NS, "ip", "link", "add", BRIDGE, "type", "bridge")
        in_ns(HOST_NS, "ip", "link", "add", "nrth0", "type", "veth", "peer", "name", "nrtg0")
        in_ns(HOST_NS, "ip", "link", "set", "nrtg0", "netns", GUEST_NS)
        in_ns(HOST_NS, "ip", "link", "set", "nrth0", "master", BRIDGE, "up")
        in_ns(GUEST_NS, "ip", "link", "set", "nrtg0", "address", UNKNOWN_MAC, "up")
        yield
    finally:
        for ns in (GUEST_NS, HOST_NS):
            run("ip", "netns", "del", ns, check=False)


@pytest.fixture
def upstream(namespaces, served, tmp_path):
    (tmp_path / "served.json").write_text(json.dumps(served))
    server = subprocess.Popen(["ip", "netns", "exec", HOST_NS, sys.executable, "-c", UPSTREAM,
                               "8775", SECRET, str(tmp_path / "served.json")],
                              stdout=subprocess.DEVNULL,
                              stderr=open(tmp_path / "upstream.log", "wb"))
    deadline = time.monotonic() + 10
    while not linux_net._listening(server.pid, 8775):
        assert server.poll() is None and time.monotonic() < deadline, \
            (tmp_path / "upstream.log").read_text()
        time.sleep(0.05)
    yield server
    server.terminate()
    server.wait(10)


@pytest.fixture
def conf(tmp_path):
    conf = config.new_conf()
    conf([])
    conf.set_override("fixed_range", "10.99.0.0/24")
    conf.set_override("flat_network_bridge", BRIDGE)
    conf.set_override("networks_path", str(tmp_path / "networks"))
    conf.set_override("metadata_host", "127.0.0.1")
    conf.set_override("metadata_port", 8775)
    conf.set_override("metadata_proxy_shared_secret", SECRET, group="neutron")
    return conf


@pytest.fixture
def flat_host(upstream, conf):
    host = linux_net.FlatHost(conf, netns=HOST_NS)
    yield host
    host.teardown()  # also when the test failed: no dnsmasq or proxy left running


def udhcpc(tmp_path, tries=3):
    out = tmp_path / "lease.txt"
    script = tmp_path / "udhcpc.sh"
    script.write_text(UDHCPC_SCRIPT.format(out=out))
    script.chmod(0o755)
    with_lease = in_ns(GUEST_NS, "busybox", "udhcpc", "-i", "nrtg0", "-f", "-q", "-n",
                       "-t", str(tries), "-T", "1", "-A", "1", "-s", str(script), check=False)
    if with_lease.returncode != 0:
        return None
    return dict(field.split("=", 1) for field in out.read_text().split())


def wget(path):
    # Python's client, not busybox wget: Debian's static busybox crashes in glibc's
    # resolver outside an initramfs (seen: SIGSEGV even for an address literal).
    return in_ns(GUEST_NS, sys.executable, "-c",
                 "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("
                 f"'http://169.254.169.254{path}', timeout=5).read().decode())", check=False)


def test_guest_gets_its_lease_and_metadata_and_delete_leaves_nothing(flat_host, tmp_path):
    instance = {"uuid": str(uuid.uuid4()), "hostname": "vm-one", "project_id": "p1"}
    vif = {"address": MAC, "fixed_ip": "10.99.0.5", "bridge": BRIDGE}
    flat_host.plug(instance, [vif])
    rules = flat_host.iptables.tagged(BRIDGE)
    assert len(rules) == 5
    assert any("DNAT" in rule and "10.99.0.1:9697" in rule for rule in rules)
    assert "inet 10.99.0.1/24" in in_ns(HOST_NS, "ip", "-4", "addr", "show", BRIDGE).stdout
    dnsmasq_pid = dhcp.running_pid(flat_host.paths.pid)
    assert dnsmasq_pid is not None

    # Again: nothing added, the same dnsmasq (idempotent).
    flat_host.plug(instance, [vif])
    assert flat_host.iptables.tagged(BRIDGE) == rules
    assert dhcp.running_pid(flat_host.paths.pid) == dnsmasq_pid
    assert in_ns(HOST_NS, "ip", "-4", "addr", "show", BRIDGE).stdout.count("inet ") == 1

    # Static leases only: a MAC that no instance here has gets nothing.
    assert udhcpc(tmp_path, tries=2) is None
    in_ns(GUEST_NS, "ip", "link", "set", "nrtg0", "address", MAC)
    lease = udhcpc(tmp_path)
    assert lease == {"ip": "10.99.0.5", "router": "10.99.0.1", "dns": "10.99.0.1"}
    assert (MAC, "10.99.0.5") in dhcp.leases(flat_host.paths)

    # 169.254.169.254:80 -> DNAT -> proxy -> signed headers -> the metadata API.
    answer = wget("/openstack/latest/meta_data.json")
    assert answer.returncode == 0, answer.stderr
    seen = json.loads(answer.stdout)
    assert seen == {"uuid": instance["uuid"], "project_id": "p1",
                    "path": "/openstack/latest/meta_data.json", "from": "127.0.0.1",
                    "forwarded_for": "10.99.0.5"}

    # Delete: the lease is released, the proxy no longer answers for the address.
    flat_host.unplug(instance["uuid"])
    deadline = time.monotonic() + 5
    while dhcp.leases(flat_host.paths) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dhcp.leases(flat_host.paths) == []
    assert open(flat_host.paths.hosts).read() == ""
    refused = wget("/")
    assert refused.returncode != 0 and "404" in refused.stderr  # from the proxy

    # Teardown: no rule, address, process or file is left.
    proxy_pid = dhcp.running_pid(flat_host.proxy_pid_file, "metadata_proxy")
    flat_host.teardown()
    assert flat_host.iptables.tagged(BRIDGE) == []
    assert "inet " not in in_ns(HOST_NS, "ip", "-4", "addr", "show", BRIDGE).stdout
    assert not dhcp.runs(dnsmasq_pid, "dnsmasq")
    assert proxy_pid is not None and not dhcp.runs(proxy_pid, "metadata_proxy")
    assert not os.path.exists(tmp_path / "networks")


def test_start_forgets_instances_whose_domains_are_gone(flat_host, tmp_path):
    kept = {"uuid": str(uuid.uuid4()), "hostname": "kept", "project_id": "p"}
    gone = {"uuid": str(uuid.uuid4()), "hostname": "gone", "project_id": "p"}
    flat_host.plug(kept, [{"address": MAC, "fixed_ip": "10.99.0.7", "bridge": BRIDGE}])
    flat_host.plug(gone, [{"address": UNKNOWN_MAC, "fixed_ip": "10.99.0.8", "bridge": BRIDGE}])
    # As after a host reboot: dnsmasq and the gateway address are gone.
    os.kill(dhcp.running_pid(flat_host.paths.pid), signal.SIGTERM)
    in_ns(HOST_NS, "ip", "addr", "flush", "dev", BRIDGE)
    deadline = time.monotonic() + 5
    while dhcp.running_pid(flat_host.paths.pid) and time.monotonic() < deadline:
        time.sleep(0.05)

    flat_host.sync([kept["uuid"]])
    assert list(flat_host.instances()) == [kept["uuid"]]
    assert open(flat_host.paths.hosts).read() == f"{MAC},10.99.0.7,kept\n"
    assert dhcp.running_pid(flat_host.paths.pid) is not None
    in_ns(GUEST_NS, "ip", "link", "set", "nrtg0", "address", MAC)
    assert udhcpc(tmp_path)["ip"] == "10.99.0.7"


def test_an_address_given_again_drops_the_stale_entry_of_its_old_holder(flat_host):
    old = {"uuid": str(uuid.uuid4()), "hostname": "old", "project_id": "p"}
    new = {"uuid": str(uuid.uuid4()), "hostname": "new", "project_id": "p"}
    flat_host.plug(old, [{"address": UNKNOWN_MAC, "fixed_ip": "10.99.0.9", "bridge": BRIDGE}])
    # Its delete was missed; the conductor gave 10.99.0.9 to another instance.
    flat_host.plug(new, [{"address": MAC, "fixed_ip": "10.99.0.9", "bridge": BRIDGE}])
    assert list(flat_host.instances()) == [new["uuid"]]
    assert open(flat_host.paths.hosts).read() == f"{MAC},10.99.0.9,new\n"


def test_libvirt_driver_plugs_on_spawn_and_unplugs_on_destroy(conf, flat_host, tmp_path):
    pytest.importorskip("libvirt")
    from nova_runtime import context as nova_context
    from nova_runtime.conf import network as network_conf
    from nova_runtime.virt import driver as virt_driver
    from tests.virt import libvirt_lab

    conf.set_override("network_manager", network_conf.FLAT_DHCP_MANAGER)
    conf.set_override("instances_path", str(tmp_path / "instances"))
    conf.set_override("virt_type", "qemu", group="libvirt")
    conf.set_override("connection_uri", libvirt_lab.private_uri(str(tmp_path / "nodes"), "h1"),
                      group="libvirt")
    driver = virt_driver.load_driver(conf, "libvirt.LibvirtDriver")
    assert driver._flat is not None and driver._flat.bridge == BRIDGE
    driver._flat = flat_host  # the same, run inside the test's namespace
    driver.image_fetcher = libvirt_lab.ImageStore(str(tmp_path / "glance")).fetch
    driver.init_host("h1")
    assert dhcp.running_pid(flat_host.paths.pid) is not None  # started with the host

    context = nova_context.get_admin_context()
    instance = {"uuid": str(uuid.uuid4()), "hostname": "vm", "project_id": "p", "vcpus": 1,
                "memory_mb": 256, "root_gb": 1, "ephemeral_gb": 0}
    image = {"id": str(uuid.uuid4()), "disk_format": "qcow2", "container_format": "bare",
             "properties": {}}
    vif = {"address": MAC, "fixed_ip": "10.99.0.6", "bridge": BRIDGE, "id": str(uuid.uuid4())}
    driver.spawn(context, instance, image, [], None, network_info=[vif])
    assert open(flat_host.paths.hosts).read() == f"{MAC},10.99.0.6,vm\n"
    in_ns(GUEST_NS, "ip", "link", "set", "nrtg0", "address", MAC)
    assert udhcpc(tmp_path)["ip"] == "10.99.0.6"

    # A restarted nova-compute keeps the lease of the instance whose domain is there.
    driver.init_host("h1")
    assert list(flat_host.instances()) == [instance["uuid"]]

    driver.destroy(context, instance, network_info=[])
    assert flat_host.instances() == {}
    deadline = time.monotonic() + 5
    while dhcp.leases(flat_host.paths) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dhcp.leases(flat_host.paths) == []


# --- the real guest image on the bridge --------------------------------------------------

GUEST_UUID, GUEST_NAME = "5d0c6b1e-2f3a-4b5c-8d7e-9f0a1b2c3d4e", "guest-dhcp"


@pytest.fixture(scope="module")
def guest_key(tmp_path_factory):
    path = tmp_path_factory.mktemp("key") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return str(path), (path.parent / "id_ed25519.pub").read_text().strip()


@pytest.fixture
def served(request):
    """{path: body} that the metadata server answers: for the guest image, its
    real metadata; otherwise nothing (it echoes the proxy's headers)."""
    if "guest_key" not in request.fixturenames:
        return {}
    from nova_runtime.metadata import content
    from nova_runtime.virt import configdrive
    from tests.unit.test_metadata import FLAVOR, make_conf
    conf = make_conf()
    record = {"id": 1, "uuid": GUEST_UUID, "hostname": GUEST_NAME, "display_name": GUEST_NAME,
              "project_id": "p1", "user_id": "u1", "launch_index": 0,
              "availability_zone": "nova", "reservation_id": "r-1", "image_ref": "nova-guest",
              "key_name": "k", "key_data": request.getfixturevalue("guest_key")[1]}
    tree = content.MetadataContent(configdrive.instance_data(conf, record, flavor=FLAVOR),
                                   dhcp_domain=conf.api.dhcp_domain)
    bodies = {}
    for name in ("meta_data.json", "network_data.json", "vendor_data.json", "user_data"):
        path = f"/openstack/latest/{name}"
        with contextlib.suppress(content.PathNotFound):
            bodies[path] = tree.lookup(path)[0].decode()
    return bodies


@pytest.mark.guest_image
@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU")
def test_the_guest_image_gets_its_address_and_key_on_the_bridge(guest_key, flat_host, tmp_path):
    from tests.virt import guest_image
    image = guest_image.image()
    flat_host.plug({"uuid": GUEST_UUID, "hostname": GUEST_NAME, "project_id": "p1"},
                   [{"address": MAC, "fixed_ip": "10.99.0.5", "bridge": BRIDGE}])
    # The tap that libvirt would make for <interface type='bridge'>.
    in_ns(HOST_NS, "ip", "tuntap", "add", "dev", "nrttap0", "mode", "tap")
    in_ns(HOST_NS, "ip", "link", "set", "nrttap0", "master", BRIDGE, "up")
    console = tmp_path / "console.log"
    qemu = subprocess.Popen(
        ["ip", "netns", "exec", HOST_NS, "qemu-system-x86_64", "-machine", "pc,accel=tcg",
         "-m", "128", "-smp", "1", "-display", "none", "-monitor", "none", "-no-reboot",
         "-drive", f"file={image},if=virtio,format=qcow2,snapshot=on",
         "-netdev", "tap,id=n0,ifname=nrttap0,script=no,downscript=no",
         "-device", f"virtio-net-pci,netdev=n0,mac={MAC}", "-serial", f"file:{console}"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "qemu.log", "wb"))
    try:
        line = _wait_for(console, "nova-guest: ready", qemu, timeout=180)
        assert "address=10.99.0.5" in line and f"uuid={GUEST_UUID}" in line, line
        assert "source=metadata" in line, line
        assert in_ns(HOST_NS, "busybox", "ping", "-c", "1", "-W", "5", "10.99.0.5",
                     check=False).returncode == 0
        login = in_ns(HOST_NS, "ssh", "-F", "/dev/null", "-i", guest_key[0],
                      "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                      "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                      "-o", "ConnectTimeout=10", "root@10.99.0.5", "hostname", check=False,
                      timeout=60)
        assert (login.returncode, login.stdout) == (0, f"{GUEST_NAME}\n"), login.stderr
    finally:
        qemu.kill()
        qemu.wait()


def _wait_for(path, marker, process, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.exists() else ""
        for line in text.splitlines():
            if marker in line:
                return line.strip()
        assert process.poll() is None, f"QEMU exited:\n{text[-3000:]}"
        time.sleep(0.5)
    raise AssertionError(f"no {marker!r} within {timeout}s:\n{text[-3000:]}")
