"""[conductor]: nova-conductor's worker processes, and builds lost between services."""

from oslo_config import cfg

GROUP = "conductor"

opts = [
    cfg.IntOpt(
        "workers", min=1,
        help="nova-conductor worker processes, each serving the conductor topic; default: "
             "one per CPU, as upstream. They share the host name and the services row."),
    cfg.IntOpt(
        "lost_build_timeout", default=600, min=0,
        help="Seconds after which a build lost between services (a build request that "
             "reached no cell, or an instance whose compute never got its build: a "
             "nova-conductor killed while scheduling, a message queue restarted) is put in "
             "ERROR with a fault by nova-conductor's periodic task (the build request in "
             "cell0). 0 never does."),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
