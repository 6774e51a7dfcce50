"""[conductor]: nova-conductor's worker processes."""

from oslo_config import cfg

GROUP = "conductor"

opts = [
    cfg.IntOpt(
        "workers", min=1,
        help="nova-conductor worker processes, each serving the conductor topic; default: "
             "one per CPU, as upstream. They share the host name and the services row."),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
