"""[wsgi]: the HTTP server that nova-api runs (cheroot, threads, no eventlet)."""

from oslo_config import cfg

GROUP = "wsgi"

opts = [
    cfg.IntOpt(
        "server_threads", default=16, min=1,
        help="Requests that nova-api serves at the same time (one thread each)."),
    cfg.IntOpt(
        "client_socket_timeout", default=900, min=1,
        help="Seconds an idle client connection is kept open."),
    cfg.IntOpt(
        "max_request_body_size", default=114688, min=1,
        help="Largest request body accepted, in bytes; larger ones get 413."),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
