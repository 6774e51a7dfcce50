"""oslo.messaging's options that nova_runtime uses: [DEFAULT] transport_url,
control_exchange, rpc_response_timeout, ... and [oslo_messaging_rabbit],
registered up front so that config validation and nova-manage see them.

oslo.messaging declares and reads them itself (nova_runtime/rpc.py hands it
the ConfigOpts). [oslo_messaging_notifications] is not offered: nova_runtime
sends no notifications. Kafka's group neither: RPC runs over RabbitMQ (or
fake:// in one process).
"""

from oslo_messaging import opts as messaging_opts

_GROUPS = (None, "oslo_messaging_rabbit")


def register_opts(conf):
    for group, opts in list_opts():
        conf.register_opts(opts, group=None if group == "DEFAULT" else group)


def list_opts():
    return [(group or "DEFAULT", opts) for group, opts in messaging_opts.list_opts()
            if group in _GROUPS]
