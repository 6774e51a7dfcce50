"""The iptables rules of the flat bridge, added and removed idempotently.

Each rule carries the comment ``nova-flat-<bridge>``: ``iptables -C`` checks
it before ``-A`` (a second run adds nothing), and teardown deletes every rule
with that comment, including those of an older rule set. Debian's iptables
writes nftables underneath (iptables-nft); the rules are the same either way.
"""

import shlex
import subprocess

METADATA_ADDRESS = "169.254.169.254"


def comment(bridge):
    return f"nova-flat-{bridge}"


def rules(bridge, gateway, proxy_port):
    """[(table, chain, [match and target...])] for the bridge: guests'
    169.254.169.254:80 goes to the metadata proxy on the gateway address, and
    the host's INPUT lets DHCP, DNS and the proxy in even where its policy
    drops."""
    tag = ["-m", "comment", "--comment", comment(bridge)]
    return [
        ("nat", "PREROUTING",
         ["-i", bridge, "-d", f"{METADATA_ADDRESS}/32", "-p", "tcp", "--dport", "80", *tag,
          "-j", "DNAT", "--to-destination", f"{gateway}:{proxy_port}"]),
        ("filter", "INPUT", ["-i", bridge, "-p", "udp", "--dport", "67", *tag, "-j", "ACCEPT"]),
        ("filter", "INPUT", ["-i", bridge, "-d", str(gateway), "-p", "udp", "--dport", "53",
                             *tag, "-j", "ACCEPT"]),
        ("filter", "INPUT", ["-i", bridge, "-d", str(gateway), "-p", "tcp", "--dport", "53",
                             *tag, "-j", "ACCEPT"]),
        ("filter", "INPUT", ["-i", bridge, "-d", str(gateway), "-p", "tcp", "--dport",
                             str(proxy_port), *tag, "-j", "ACCEPT"]),
    ]


class Iptables:
    """Runs iptables, in a network namespace when ``prefix`` says so
    (``["ip", "netns", "exec", NAME]``)."""

    def __init__(self, prefix=()):
        self.prefix = list(prefix)

    def _run(self, *args, check=True):
        return subprocess.run([*self.prefix, "iptables", "-w", *args], check=check,
                              capture_output=True, text=True)

    def present(self, table, chain, spec):
        return self._run("-t", table, "-C", chain, *spec, check=False).returncode == 0

    def ensure(self, rule_set):
        """Add each rule that is not there; returns how many were added."""
        added = 0
        for table, chain, spec in rule_set:
            if not self.present(table, chain, spec):
                self._run("-t", table, "-A", chain, *spec)
                added += 1
        return added

    def remove_tagged(self, bridge):
        """Delete every rule that carries the bridge's comment; returns how many."""
        removed = 0
        for table in ("nat", "filter"):
            for line in self._run("-t", table, "-S", check=False).stdout.splitlines():
                words = shlex.split(line)
                if _has_comment(words, comment(bridge)):
                    # "-A CHAIN spec..." -> "-D CHAIN spec..."
                    self._run("-t", table, "-D", *words[1:])
                    removed += 1
        return removed

    def tagged(self, bridge):
        """The ``iptables -S`` lines of the bridge's rules (for checks and tests)."""
        return [line for table in ("nat", "filter")
                for line in self._run("-t", table, "-S", check=False).stdout.splitlines()
                if _has_comment(shlex.split(line), comment(bridge))]


def _has_comment(words, text):
    return any(word == "--comment" and following == text
               for word, following in zip(words, words[1:]))
