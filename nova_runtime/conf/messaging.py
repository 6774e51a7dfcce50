"""oslo.messaging's options ([DEFAULT] transport_url, [oslo_messaging_rabbit], ...),
registered up front so that config validation and nova-manage see them.

oslo.messaging declares them itself; the sample config lists them through its
own namespace (oslo-config-generator --namespace oslo.messaging)."""

from oslo_messaging import opts as messaging_opts

# The groups nova_runtime uses; kafka and others stay unregistered.
_GROUPS = (None, "oslo_messaging_notifications", "oslo_messaging_rabbit")


def register_opts(conf):
    for group, opts in messaging_opts.list_opts():
        if group in _GROUPS:
            conf.register_opts(opts, group=group)


def list_opts():
    return []
