"""[libvirt]: the libvirt virt driver (compute_driver = libvirt.LibvirtDriver).

Instance disks live under [DEFAULT] instances_path; VNC consoles follow [vnc].
"""

from oslo_config import cfg

GROUP = "libvirt"

# Where the driver connects when connection_uri is empty, by virt_type: both
# are QEMU's system instance (kvm only changes the domain type).
DEFAULT_URIS = {"kvm": "qemu:///system", "qemu": "qemu:///system"}

opts = [
    cfg.StrOpt(
        "virt_type", default="kvm", choices=("kvm", "qemu"),
        help="kvm needs hardware virtualisation; qemu is pure emulation (TCG)."),
    cfg.StrOpt(
        "connection_uri", default="",
        help="libvirt URI; empty means the one virt_type implies (qemu:///system). "
             "test:///default is libvirt's in-memory driver, for tests."),
    cfg.IntOpt(
        "wait_soft_reboot_seconds", default=120, min=0,
        help="How long a soft reboot waits for the guest to shut down before it "
             "falls back to a hard reboot."),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]


def connection_uri(conf):
    """The libvirt URI the driver opens."""
    return conf.libvirt.connection_uri or DEFAULT_URIS[conf.libvirt.virt_type]
