"""The toolkit's guest image (roles/guest_image) boots and does its job.

The image is built once for its inputs (cached under /var/tmp), then booted
under QEMU TCG on a restricted user network that reaches only this machine:
the guest gets its address by DHCP, its metadata from the project's own
metadata content served on 127.0.0.1 (QEMU forwards 169.254.169.254:80 there)
or, when no metadata service answers, from a config drive made by
nova_runtime.virt.configdrive. Then: the console's status line, ssh with the
served key, the hostname, user_data's file, and what the guest sent.

Needs qemu-system-x86_64, ssh and the image build's tools (tools/bootstrap.sh
installs them) and Debian's package mirror; about 30 s with the image cached.
Deselect with -m 'not guest_image'.
"""

import base64
import re
import subprocess
import time

import pytest

from nova_runtime.metadata import content
from nova_runtime.virt import configdrive
from tests.unit.test_metadata import FLAVOR, make_conf
from tests.virt import guest_image

pytestmark = pytest.mark.guest_image
USER_DATA = b"#!/bin/sh\necho \"ran as $(id -u) on $(hostname)\" > /root/user-data-ran\n"


@pytest.fixture(scope="module")
def image():
    missing = guest_image.missing_tools()
    assert not missing, f"missing {', '.join(missing)}: run tools/bootstrap.sh"
    return guest_image.image()


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    path = tmp_path_factory.mktemp("key") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "guest-test", "-f", str(path)],
                   check=True)
    fingerprint = subprocess.run(["ssh-keygen", "-lf", f"{path}.pub"], capture_output=True, text=True,
                                 check=True).stdout.split()[1]
    return str(path), (path.parent / "id_ed25519.pub").read_text().strip(), fingerprint


def instance(uuid, name, public_key):
    return {"id": 1, "uuid": uuid, "hostname": name, "display_name": name, "project_id": "p1",
            "user_id": "u1", "launch_index": 0, "availability_zone": "nova", "reservation_id": "r-1",
            "image_ref": "nova-guest", "key_name": "k", "key_data": public_key,
            "user_data": base64.b64encode(USER_DATA).decode()}


def metadata(conf, record):
    return content.MetadataContent(configdrive.instance_data(conf, record, flavor=FLAVOR),
                                   dhcp_domain=conf.api.dhcp_domain)


def check_guest(guest, key, uuid, name, source):
    """The status line, ssh with the key, the hostname, user_data's file and
    the host key; returns seconds from QEMU's start to the first ssh command."""
    private, _, fingerprint = key
    line = guest.wait_for_console("nova-guest: ready")
    fields = dict(re.findall(r"(\w+)=(\S+)", line))
    assert fields == {"address": guest_image.GUEST_ADDRESS, "uuid": uuid, "hostname": name,
                      "keys": fingerprint, "source": source}, line
    while True:  # dropbear is up before the status line; the forward may lag
        result = guest.ssh(private, "hostname")
        if result.returncode == 0 or time.monotonic() - guest.started > 120:
            break
        time.sleep(0.5)
    ssh_works = time.monotonic() - guest.started
    assert (result.returncode, result.stdout) == (0, f"{name}\n"), result.stderr
    ran = guest.ssh(private, "cat /root/user-data-ran")
    assert ran.stdout == f"ran as 0 on {name}\n", ran.stderr
    console = guest.console_text()
    assert f"nova-guest: host key {guest.host_key_fingerprint()} (ed25519)" in console
    return ssh_works


def guest_traffic(guest):
    """What the guest sent, by kind; anything else is named as it is."""
    kinds = set()
    for mac, ethertype, protocol, source, destination, sport, dport in guest_image.frames(guest.pcap):
        if mac != guest_image.GUEST_MAC:
            continue
        if ethertype == 0x0806:
            kinds.add("arp")
        elif protocol == 17 and (sport, dport) == (68, 67):
            kinds.add("dhcp")
        elif protocol == 6 and (destination, dport) == (guest_image.METADATA_ADDRESS, 80):
            kinds.add("metadata")
        elif protocol == 6 and sport == 22:
            kinds.add("ssh replies")
        else:
            kinds.add(f"ethertype {ethertype:#x} proto {protocol} {source}:{sport} -> {destination}:{dport}")
    return kinds


def test_it_boots_with_the_metadata_service(image, key, tmp_path):
    uuid, name = "3f1c2a9e-7b4d-4e8f-9a06-1d2c3b4a5e6f", "guest-md"
    conf = make_conf()
    server = guest_image.MetadataServer(metadata(conf, instance(uuid, name, key[1])).lookup)
    guest = guest_image.Guest(image, str(tmp_path), metadata_port=server.port)
    try:
        seconds = check_guest(guest, key, uuid, name, "metadata")
        guest.power_button()
        assert guest.process.wait(timeout=60) == 0  # the guest powered itself off
    finally:
        guest.stop()
        server.close()
    print(f"\nguest image, metadata service: ssh works {seconds:.1f} s after QEMU started (TCG)")
    assert server.requests == ["/openstack/latest/meta_data.json", "/openstack/latest/user_data"]
    assert guest_traffic(guest) == {"arp", "dhcp", "metadata", "ssh replies"}


def test_it_falls_back_to_the_config_drive(image, key, tmp_path):
    uuid, name = "9b8e7d6c-5a4f-4321-8fed-cba987654321", "guest-cd"
    conf = make_conf()
    drive = configdrive.make_config_drive(conf, str(tmp_path / "disk.config"), instance(uuid, name, key[1]),
                                          flavor=FLAVOR)
    # No guestfwd: nothing answers at 169.254.169.254.
    guest = guest_image.Guest(image, str(tmp_path), config_drive=drive)
    try:
        seconds = check_guest(guest, key, uuid, name, "config-drive")
    finally:
        guest.stop()
    print(f"\nguest image, config drive: ssh works {seconds:.1f} s after QEMU started (TCG)")
    assert guest_traffic(guest) <= {"arp", "dhcp", "metadata", "ssh replies"}
