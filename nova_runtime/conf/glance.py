"""[glance]: where images come from."""

from oslo_config import cfg

GROUP = "glance"

opts = [
    cfg.ListOpt(
        "api_servers",
        help="Glance endpoints (http://host:9292), tried in turn when a call is retried "
             "(num_retries). When empty, the 'image' endpoint of the Keystone catalog is "
             "used."),
    cfg.IntOpt(
        "num_retries", default=3, min=0,
        help="Enable glance operation retries. Specifies the number of retries when "
             "uploading / downloading an image to / from glance (and of every other call "
             "to glance) that cannot reach it or that it answers with 503, one second "
             "apart, each at the next of api_servers. 0 means no retries."),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
