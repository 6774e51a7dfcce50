"""[keystone_authtoken]: keystonemiddleware's own options.

The keystoneauth plugin options of this section (auth_url, username, ...) are
registered by keystoneauth itself once auth_type names a plugin.
"""

from keystoneauth1 import loading as ks_loading
from keystonemiddleware import auth_token

GROUP = "keystone_authtoken"


def register_opts(conf):
    for group, opts in auth_token.list_opts():
        conf.register_opts(opts, group=group)
    ks_loading.register_auth_conf_options(conf, GROUP)


def list_opts():
    [(group, opts)] = auth_token.list_opts()
    return [(group, opts + ks_loading.get_auth_plugin_conf_options("password"))]
