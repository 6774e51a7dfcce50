"""[glance]: where images come from."""

from oslo_config import cfg

GROUP = "glance"

opts = [
    cfg.ListOpt(
        "api_servers",
        help="Glance endpoints (http://host:9292). When empty, the 'image' endpoint of "
             "the Keystone catalog is used."),
    cfg.IntOpt("num_retries", default=3, min=0, help="Retries of a failed image download."),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
