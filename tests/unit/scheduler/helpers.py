"""Small builders for the scheduler tests."""

import time

from nova_runtime import config
from nova_runtime.scheduler import (
    AggregateRecord,
    Flavor,
    HostDefaults,
    HostRecord,
    HostStates,
    RequestSpec,
)

NOW = time.time()


def record(name="h0", node=None, **fields):
    values = dict(
        uuid=f"uuid-{name}-{node or name}", host=name, nodename=node or name,
        vcpus=8, vcpus_used=0, memory_mb=16384, free_ram_mb=16384, local_gb=100,
        free_disk_gb=100, hypervisor_type="QEMU", hypervisor_version=2011001,
        supported_instances=[["x86_64", "qemu", "hvm"]], last_heartbeat=NOW, updated_at=NOW - 5)
    values.update(fields)
    return HostRecord(**values)


def hosts(*records, aggregates=(), **defaults):
    return HostStates(records, aggregates, HostDefaults(**defaults))


def aggregate(name, members, **metadata):
    return AggregateRecord(name=name, hosts=frozenset(members), metadata=metadata)


def spec(memory_mb=1024, vcpus=1, root_gb=0, ephemeral_gb=0, swap=0, extra_specs=None, **fields):
    flavor = Flavor(memory_mb=memory_mb, vcpus=vcpus, root_gb=root_gb,
                    ephemeral_gb=ephemeral_gb, swap=swap, extra_specs=extra_specs or {})
    return RequestSpec(flavor=flavor, **fields)


def conf(**overrides):
    """A loaded ConfigOpts; overrides are 'group.option' or 'option' = value."""
    c = config.new_conf()
    c([], project="nova", default_config_files=[])
    for key, value in overrides.items():
        group, _, name = key.rpartition("__")
        c.set_override(name, value, group=group or None)
    return c
