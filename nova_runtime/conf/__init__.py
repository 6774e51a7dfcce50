"""The options of nova.conf, one module per group.

Nothing here touches a global ConfigOpts: entry points create their own and call
``register_all`` on it.  ``list_opts`` feeds ``oslo-config-generator``
(namespace ``nova_runtime``, see pyproject.toml).
"""

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
    oslo_concurrency,
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
    oslo_concurrency,
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
    """[(group name, [opts])] for every option nova_runtime declares."""
    return [pair for module in _MODULES for pair in module.list_opts()]
