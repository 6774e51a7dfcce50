"""nova.conf files for the daemons that tests and benchmarks start.

A configuration is layers of {section: {option: value}}: ``write`` merges
them (later layers win; a value of None unsets the option) and writes the
INI file. ``COMMON`` is what every such daemon has: loopback, the fake
driver, and fast reconnects to RabbitMQ (the tests and benchmarks stop and
start it); ``host`` is one host's own layer. ``write_nova_conf`` writes
the smallest nova.conf, what nova-manage and nova-status need.
"""

COMMON = {
    "DEFAULT": {"my_ip": "127.0.0.1", "compute_driver": "fake.FakeDriver"},
    "oslo_messaging_rabbit": {"rabbit_retry_interval": 1, "rabbit_retry_backoff": 1,
                              "rabbit_interval_max": 2},
}

TRANSPORT_URL = "rabbit://openstack:RABBIT_PASS@127.0.0.1:5672/"


def host(name, transport_url, state_path):
    """The layer of host ``name``: its name, message queue and state_path."""
    return {"DEFAULT": {"host": name, "transport_url": transport_url,
                        "state_path": state_path}}


def merged(*layers):
    """{section: {option: value}} of the layers, later ones winning; a value
    of None unsets the option."""
    sections = {}
    for layer in layers:
        for section, options in layer.items():
            sections.setdefault(section, {}).update(options)
    return {section: {name: value for name, value in options.items() if value is not None}
            for section, options in sections.items()}


def render(sections):
    """The INI text of {section: {option: value}} (empty sections left out)."""
    return "".join(f"[{section}]\n" + "".join(f"{name} = {value}\n"
                                             for name, value in options.items())
                   for section, options in sections.items() if options)


def write(path, *layers):
    """Write the merged ``layers`` to ``path``; returns ``path``."""
    with open(path, "w") as handle:
        handle.write(render(merged(*layers)))
    return path


def write_nova_conf(path, api_url, main_url, transport_url=TRANSPORT_URL, extra=""):
    """The smallest nova.conf, at ``path`` (a pathlib.Path): the message
    queue and the two databases, then ``extra`` (INI text)."""
    path.write_text(render({"DEFAULT": {"transport_url": transport_url},
                            "api_database": {"connection": api_url},
                            "database": {"connection": main_url}}) + extra)
    return path
