"""The options of nova.conf, one module per group.

Nothing here touches a global ConfigOpts: entry points create their own and call
``register_all`` on it.  ``list_opts`` feeds ``oslo-config-generator``
(namespace ``nova_runtime``, see pyproject.toml and
etc/nova-config-generator.conf). Every option listed is honoured:
tests/unit/test_config_sample.py checks that the code reads each one of ours
and hands each library's group to its library.

Not offered: [oslo_concurrency]. The one inter-process lock, the image cache's
(nova_runtime/virt/libvirt/disks.py), must sit beside the images, in
instances_path, so that computes sharing instances_path share it (upstream's
is in instances_path too); no lock would use lock_path.
"""

from oslo_log import _options as log_options

from nova_runtime.conf import (
    api,
    availability_zone,
    conductor,
    configdrive,
    console,
    consoleauth,
    database,
    default,
    fake_driver,
    filter_scheduler,
    glance,
    keystone_authtoken,
    libvirt,
    messaging,
    network,
    neutron,
    novnc,
    oslo_policy,
    placement,
    quota,
    scheduler,
    vnc,
    wsgi,
)

_MODULES = (
    default,
    network,
    configdrive,
    availability_zone,
    api,
    conductor,
    console,
    consoleauth,
    database,
    fake_driver,
    filter_scheduler,
    glance,
    keystone_authtoken,
    libvirt,
    messaging,
    neutron,
    novnc,
    oslo_policy,
    placement,
    quota,
    scheduler,
    vnc,
    wsgi,
)


def register_all(conf):
    for module in _MODULES:
        module.register_opts(conf)


def list_opts():
    """[(group name, [opts])] for every option nova_runtime declares, and
    oslo.log's that the daemons register (nova_runtime.cmd.daemon_conf)."""
    return [pair for module in _MODULES for pair in module.list_opts()] + _log_opts()


def _log_opts():
    """oslo.log's options, without fatal_deprecations: oslo.log's own sample
    namespace lists it, but only its global cfg.CONF (never used here) honours it."""
    return [("DEFAULT", [opt for group, opts in log_options.list_opts() for opt in opts
                         if opt.dest != "fatal_deprecations"])]
