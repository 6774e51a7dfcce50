"""[api]: how nova-api authenticates requests and shapes its answers."""

from oslo_config import cfg

GROUP = "api"

opts = [
    cfg.StrOpt(
        "auth_strategy", default="keystone", choices=("keystone", "noauth2"),
        help="keystone: validate tokens with keystonemiddleware ([keystone_authtoken]). "
             "noauth2: trust the X-Auth-Token 'user:project' form; for tests only."),
    cfg.IntOpt(
        "max_limit", default=1000, min=1,
        help="The most items a collection (flavors, keypairs, hypervisors...) returns "
             "in one response; clients page with limit and marker."),
    cfg.URIOpt(
        "compute_link_prefix",
        help="Base URL put in links instead of the request's host URL, for a nova-api "
             "behind a proxy (e.g. https://cloud.example.com:8774)."),
    cfg.BoolOpt(
        "use_forwarded_for", default=False,
        help="Take the client address from X-Forwarded-For. Only behind a trusted proxy."),
    cfg.BoolOpt(
        "list_records_by_skipping_down_cells", default=True,
        help="Listings that span cells (services, hypervisors) leave out the records of a "
             "cell whose database does not answer instead of failing with 500."),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
