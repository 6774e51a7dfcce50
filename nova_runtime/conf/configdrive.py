"""[DEFAULT] options of the config drive (nova_runtime/virt/configdrive.py)."""

from oslo_config import cfg

opts = [
    cfg.StrOpt(
        "config_drive_format", default="iso9660", choices=("iso9660",),
        help="The config drive's file system: an ISO 9660 image labelled config-2, "
             "built in Python (no genisoimage needed). upstream's vfat is not offered."),
    cfg.BoolOpt(
        "force_config_drive", default=False,
        help="Give every instance a config drive, whether its create request asked for "
             "one or not."),
]


def register_opts(conf):
    conf.register_opts(opts)


def list_opts():
    return [("DEFAULT", opts)]
