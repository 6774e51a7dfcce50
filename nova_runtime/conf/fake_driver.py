"""[fake_driver]: the resources that nova-compute's fake virt driver reports.

compute_driver = fake.FakeDriver gives a compute host with no hypervisor: its
instances exist only in the nova-compute process. Tests and the embedded mode
use it; these options shape the host the scheduler sees.
"""

from oslo_config import cfg

GROUP = "fake_driver"

opts = [
    cfg.IntOpt("vcpus", default=16, min=1, help="Physical CPUs of the fake host."),
    cfg.IntOpt("memory_mb", default=32768, min=1, help="RAM of the fake host, in MiB."),
    cfg.IntOpt("local_gb", default=500, min=1, help="Local disk of the fake host, in GiB."),
    cfg.StrOpt(
        "hypervisor_hostname", sample_default="<[DEFAULT] host>",
        help="Name of the fake host's one hypervisor node; default: the compute's host."),
    cfg.FloatOpt(
        "spawn_delay", default=0.0, min=0.0,
        help="Seconds each spawn takes: fault tests kill nova-compute in the middle of one."),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
