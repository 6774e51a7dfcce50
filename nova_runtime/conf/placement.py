"""[placement]: keystoneauth session, auth and adapter options for the Placement API."""

from keystoneauth1 import loading as ks_loading

GROUP = "placement"
SERVICE_TYPE = "placement"


def register_opts(conf):
    ks_loading.register_session_conf_options(conf, GROUP)
    ks_loading.register_auth_conf_options(conf, GROUP)
    ks_loading.register_adapter_conf_options(conf, GROUP, include_deprecated=False)
    conf.set_default("service_type", SERVICE_TYPE, group=GROUP)
    conf.set_default("valid_interfaces", ["internal", "public"], group=GROUP)


def list_opts():
    return [(GROUP,
             ks_loading.get_session_conf_options()
             + ks_loading.get_auth_common_conf_options()
             + ks_loading.get_auth_plugin_conf_options("password")
             + ks_loading.get_adapter_conf_options(include_deprecated=False))]
