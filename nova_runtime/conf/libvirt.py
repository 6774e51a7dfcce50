"""[libvirt]: the libvirt virt driver."""

from oslo_config import cfg

GROUP = "libvirt"

opts = [
    cfg.StrOpt(
        "virt_type", default="kvm", choices=("kvm", "qemu"),
        help="kvm needs hardware virtualisation; qemu is pure emulation (TCG)."),
    cfg.StrOpt(
        "connection_uri", default="",
        help="libvirt URI; empty means qemu:///system. test:///default is libvirt's in-memory driver."),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
