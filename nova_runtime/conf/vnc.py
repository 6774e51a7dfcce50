"""[vnc]: VNC consoles of instances and the noVNC proxy."""

from oslo_config import cfg

GROUP = "vnc"

opts = [
    cfg.BoolOpt("enabled", default=True, help="Give instances a VNC console."),
    cfg.HostAddressOpt(
        "server_listen", default="127.0.0.1",
        help="Address the instances' VNC servers listen on, on the compute host."),
    cfg.HostAddressOpt(
        "server_proxyclient_address", default="127.0.0.1",
        help="Address of the compute host that nova-novncproxy connects to."),
    cfg.URIOpt(
        "novncproxy_base_url", default="http://127.0.0.1:6080/vnc_auto.html",
        help="Public URL of the noVNC page handed to users, the console token appended."),
    cfg.HostAddressOpt("novncproxy_host", default="0.0.0.0", help="Where nova-novncproxy listens."),
    cfg.PortOpt("novncproxy_port", default=6080,
                help="Port that the noVNC console proxy should bind to."),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
