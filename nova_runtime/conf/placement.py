"""[placement]: keystoneauth session, auth and adapter options for the Placement API."""

from keystoneauth1 import loading as ks_loading

GROUP = "placement"
SERVICE_TYPE = "placement"
DEFAULT_TIMEOUT = 30  # seconds


def register_opts(conf):
    ks_loading.register_session_conf_options(conf, GROUP)
    ks_loading.register_auth_conf_options(conf, GROUP)
    ks_loading.register_adapter_conf_options(conf, GROUP, include_deprecated=False)
    conf.set_default("service_type", SERVICE_TYPE, group=GROUP)
    conf.set_default("valid_interfaces", ["internal", "public"], group=GROUP)
    # keystoneauth waits forever by default: a hung Placement would hang the
    # scheduler's RPC calls and nova-compute's periodic task with it.
    conf.set_default("timeout", DEFAULT_TIMEOUT, group=GROUP)


def list_opts():
    return [(GROUP,
             ks_loading.get_session_conf_options()
             + ks_loading.get_auth_common_conf_options()
             + ks_loading.get_auth_plugin_conf_options("password")
             + ks_loading.get_adapter_conf_options(include_deprecated=False))]
