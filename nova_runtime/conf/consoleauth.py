"""[consoleauth]: console tokens (upstream's group of this name)."""

from oslo_config import cfg

GROUP = "consoleauth"

opts = [
    cfg.IntOpt(
        "token_ttl", default=600, min=1,
        help="Seconds a console token stays valid after nova-compute issued it. Read by "
             "nova-compute, which issues the tokens."),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
