"""[console]: checks that every console proxy makes (upstream's group of this name)."""

from oslo_config import cfg

GROUP = "console"

opts = [
    cfg.ListOpt(
        "allowed_origins", default=[],
        help="Host names, besides the proxy's own (the Host header of the request), that "
             "a browser's Origin header may name when it opens a console websocket. "
             "Other origins are refused, so that other web sites cannot use a user's "
             "console URL."),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
