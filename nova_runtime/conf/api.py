"""[api]: how nova-api authenticates requests."""

from oslo_config import cfg

GROUP = "api"

opts = [
    cfg.StrOpt(
        "auth_strategy", default="keystone", choices=("keystone", "noauth2"),
        help="keystone: validate tokens with keystonemiddleware ([keystone_authtoken]). "
             "noauth2: trust the X-Auth-Token 'user:project' form; for tests only."),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
