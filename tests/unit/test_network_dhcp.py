"""The pure parts of the flat network on a compute: dnsmasq's hosts file and
command line, the iptables rule set, the metadata proxy's signature, table
and forwarding (over loopback). tests/virt/test_flat_dhcp_netns.py runs them
for real in network namespaces."""

import http.server
import ipaddress
import json
import os
import signal
import threading
import urllib.error
import urllib.request

import pytest

from nova_runtime import config
from nova_runtime.metadata import signature
from nova_runtime.network import dhcp, firewall, flat, linux_net, metadata_proxy


def network(**overrides):
    conf = config.new_conf()
    conf([])
    conf.set_override("fixed_range", "10.20.0.0/24")
    conf.set_override("flat_network_bridge", "br100")
    for name, value in overrides.items():
        conf.set_override(name, value)
    return flat.from_conf(conf)


PATHS = dhcp.Paths("/var/lib/nova/networks", "br100")


# --- dnsmasq ------------------------------------------------------------------------------

def test_hosts_file_has_one_static_lease_per_interface_in_address_order():
    hosts = [dhcp.Host("FA:16:3E:00:00:02", "10.20.0.10", "web-2"),
             dhcp.Host("fa:16:3e:00:00:01", "10.20.0.3", "web-1")]
    assert dhcp.hosts_file(hosts) == ("fa:16:3e:00:00:01,10.20.0.3,web-1\n"
                                      "fa:16:3e:00:00:02,10.20.0.10,web-2\n")
    # The same set in another order writes the same bytes: no needless reload.
    assert dhcp.hosts_file(reversed(hosts)) == dhcp.hosts_file(hosts)
    assert dhcp.hosts_file([]) == ""


@pytest.mark.parametrize("hostname", [None, "", "a,b", "-x", "has space", "a.b", "x" * 64])
def test_a_name_dnsmasq_cannot_take_is_left_out_not_the_lease(hostname):
    assert dhcp.hosts_file([dhcp.Host("fa:16:3e:00:00:01", "10.20.0.3", hostname)]) == \
        "fa:16:3e:00:00:01,10.20.0.3\n"


def test_dnsmasq_serves_only_static_leases_on_the_bridge_and_forwards_no_dns():
    argv = dhcp.command(network(), PATHS, 86400, domain="novalocal", user="nova", group="nova")
    assert argv[0] == "dnsmasq"
    for flag in ("--conf-file=/dev/null", "--no-hosts", "--no-resolv", "--bind-interfaces",
                 "--interface=br100", "--except-interface=lo", "--listen-address=10.20.0.1",
                 "--dhcp-range=10.20.0.2,static,255.255.255.0,86400s",
                 f"--dhcp-hostsfile={PATHS.hosts}", f"--dhcp-leasefile={PATHS.leases}",
                 "--dhcp-option=option:router,10.20.0.1",
                 "--dhcp-option=option:dns-server,10.20.0.1", f"--pid-file={PATHS.pid}",
                 "--user=nova", "--group=nova", "--domain=novalocal", "--local=/novalocal/"):
        assert flag in argv
    # No upstream server: a name that is not an instance's is never asked outside.
    assert not [arg for arg in argv if arg.startswith(("--server", "--resolv-file"))]


def test_gateway_and_first_address_follow_the_options():
    argv = dhcp.command(network(gateway="10.20.0.254", flat_network_dhcp_start="10.20.0.100"),
                        PATHS, 600)
    assert "--listen-address=10.20.0.254" in argv
    assert "--dhcp-option=option:router,10.20.0.254" in argv
    assert "--dhcp-range=10.20.0.100,static,255.255.255.0,600s" in argv
    assert not [arg for arg in argv if arg.startswith(("--user", "--domain"))]


def test_release_and_signal_commands():
    host = dhcp.Host("FA:16:3E:00:00:01", "10.20.0.3", "vm")
    assert dhcp.release_command("br100", host) == \
        ["dhcp_release", "br100", "10.20.0.3", "fa:16:3e:00:00:01"]
    assert dhcp.signal_command(42, signal.SIGHUP) == ["kill", "-HUP", "42"]
    assert dhcp.signal_command(42, signal.SIGTERM) == ["kill", "-TERM", "42"]


def test_leases_are_read_from_dnsmasqs_lease_file(tmp_path):
    paths = dhcp.Paths(str(tmp_path), "br100")
    assert dhcp.leases(paths) == []
    (tmp_path / "nova-br100.leases").write_text(
        "1765000000 fa:16:3e:00:00:01 10.20.0.3 vm 01:fa:16:3e:00:00:01\n")
    assert dhcp.leases(paths) == [("fa:16:3e:00:00:01", "10.20.0.3")]


def test_a_pid_is_signalled_only_while_it_runs_the_program(tmp_path):
    pid_file = tmp_path / "pid"
    assert dhcp.running_pid(str(pid_file)) is None
    pid_file.write_text(f"{os.getpid()}\n")
    assert dhcp.running_pid(str(pid_file)) is None  # pytest is not dnsmasq
    assert dhcp.runs(os.getpid(), os.path.basename(open("/proc/self/cmdline", "rb")
                                                    .read().split(b"\0")[0].decode()))
    pid_file.write_text("not a pid\n")
    assert dhcp.running_pid(str(pid_file)) is None


def test_files_are_rewritten_only_when_their_content_changes(tmp_path):
    path = str(tmp_path / "hosts")
    assert linux_net._write(path, "a\n") is True
    assert linux_net._write(path, "a\n") is False
    assert linux_net._write(path, "b\n") is True
    assert open(path).read() == "b\n"
    assert os.listdir(tmp_path) == ["hosts"]  # no temporary file left


# --- iptables -----------------------------------------------------------------------------

def test_rule_set_sends_metadata_to_the_proxy_and_tags_every_rule():
    rules = firewall.rules("br100", ipaddress.IPv4Address("10.20.0.1"), 9697)
    assert rules[0] == ("nat", "PREROUTING", [
        "-i", "br100", "-d", "169.254.169.254/32", "-p", "tcp", "--dport", "80",
        "-m", "comment", "--comment", "nova-flat-br100",
        "-j", "DNAT", "--to-destination", "10.20.0.1:9697"])
    assert all(firewall._has_comment(spec, "nova-flat-br100") for _t, _c, spec in rules)
    assert {(table, chain) for table, chain, _spec in rules} == \
        {("nat", "PREROUTING"), ("filter", "INPUT")}
    # Each rule appears once: ensure() checks each before it adds.
    assert len({tuple(spec) for _t, _c, spec in rules}) == len(rules)
    # Another bridge's rules never carry this bridge's tag.
    assert not firewall._has_comment(firewall.rules("br101", "10.21.0.1", 9697)[0][2],
                                     "nova-flat-br100")


# --- the metadata proxy -------------------------------------------------------------------

def test_proxy_signs_as_the_metadata_api_checks():
    headers = metadata_proxy.proxy_headers("s3cret", {"uuid": "u-1", "project_id": "p"},
                                           "10.20.0.3")
    assert headers["X-Instance-ID"] == "u-1" and headers["X-Tenant-ID"] == "p"
    assert headers["X-Forwarded-For"] == "10.20.0.3"
    assert signature.matches("s3cret", "u-1", headers["X-Instance-ID-Signature"])
    assert not signature.matches("other", "u-1", headers["X-Instance-ID-Signature"])


def test_proxy_table_is_read_again_when_its_file_changes(tmp_path):
    path = tmp_path / "metadata.json"
    table = metadata_proxy.Table(str(path))
    assert table.get("10.20.0.3") is None  # no file yet
    path.write_text(json.dumps({"10.20.0.3": {"uuid": "u-1", "project_id": "p"}}))
    assert table.get("10.20.0.3") == {"uuid": "u-1", "project_id": "p"}
    path.write_text(json.dumps({}))
    assert table.get("10.20.0.3") is None


def _serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_proxy_forwards_a_known_guest_with_signed_headers_and_refuses_others(tmp_path):
    seen = []

    class MetadataApi(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            ok = signature.matches("s3cret", self.headers["X-Instance-ID"],
                                          self.headers["X-Instance-ID-Signature"])
            seen.append((self.path, dict(self.headers)))
            body = b'{"uuid": "u-1"}'
            self.send_response(200 if ok else 403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    upstream = _serve(MetadataApi)
    table = tmp_path / "metadata.json"
    # The test's requests come from 127.0.0.1: that is the "guest" here.
    table.write_text(json.dumps({"127.0.0.1": {"uuid": "u-1", "project_id": "p"}}))
    proxy = _serve(metadata_proxy.handler_class(
        metadata_proxy.Table(str(table)), f"http://127.0.0.1:{upstream.server_port}", "s3cret"))
    base = f"http://127.0.0.1:{proxy.server_port}"
    try:
        with urllib.request.urlopen(f"{base}/openstack/latest/meta_data.json", timeout=5) as r:
            assert r.status == 200 and json.load(r) == {"uuid": "u-1"}
            assert r.headers["Content-Type"] == "application/json"
        path, headers = seen[0]
        assert path == "/openstack/latest/meta_data.json"
        assert headers["X-Instance-ID"] == "u-1" and headers["X-Tenant-ID"] == "p"

        table.write_text(json.dumps({}))  # the instance was deleted
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/", timeout=5)
        assert refused.value.code == 404 and len(seen) == 1

        table.write_text(json.dumps({"127.0.0.1": {"uuid": "u-1", "project_id": "p"}}))
        upstream.shutdown()
        upstream.server_close()
        with pytest.raises(urllib.error.HTTPError) as down:
            urllib.request.urlopen(f"{base}/", timeout=5)
        assert down.value.code == 502
    finally:
        proxy.shutdown()
        proxy.server_close()
