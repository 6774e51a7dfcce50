"""[neutron]: only what the metadata API shares with a metadata proxy.

nova_runtime does not talk to Neutron. A metadata proxy in front of nova-api's
metadata API (Neutron's, or any that follows its protocol) names the instance in
X-Instance-ID and X-Tenant-ID headers and signs the instance id with the shared
secret; these are upstream's option names for that.
"""

from oslo_config import cfg

GROUP = "neutron"

opts = [
    cfg.BoolOpt(
        "service_metadata_proxy", default=False,
        help="The metadata API sits behind a metadata proxy: it finds the instance from "
             "the X-Instance-ID, X-Tenant-ID and X-Instance-ID-Signature headers "
             "(HMAC-SHA256 of the instance id with metadata_proxy_shared_secret) instead "
             "of from the request's source address."),
    cfg.StrOpt(
        "metadata_proxy_shared_secret", default="", secret=True,
        help="The secret that the metadata proxy signs X-Instance-ID with."),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
