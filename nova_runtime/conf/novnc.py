"""[DEFAULT] options of nova-novncproxy (upstream keeps them in [DEFAULT] too)."""

from oslo_config import cfg

opts = [
    cfg.StrOpt(
        "web", default="/usr/share/novnc",
        help="Directory of the noVNC web client that nova-novncproxy serves (Debian's "
             "novnc package installs it here; upstream's default names the SPICE client "
             "instead, which nova-novncproxy cannot use)."),
]


def register_opts(conf):
    conf.register_opts(opts)


def list_opts():
    return [("DEFAULT", opts)]
