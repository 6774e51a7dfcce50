"""nova-compute: runs the instances of one host through its virt driver.

Usage: nova-compute [--config-file FILE] [--config-dir DIR] [--log-file FILE]

Needs [DEFAULT] transport_url (its cell's message queue) and compute_driver;
it has no database access and reaches the database through nova-conductor,
which it waits for at start, as for the message queue. Exit codes: 0 stopped
by SIGTERM or SIGINT, 1 cannot start (configuration, driver).
"""

from nova_runtime import context as nova_context
from nova_runtime import rpc, service
from nova_runtime.compute import manager, rpcapi
from nova_runtime.conductor import rpcapi as conductor_rpcapi
from nova_runtime.virt import driver as virt_driver

BINARY = "nova-compute"


def build(conf, host=None, driver=None):
    """The nova-compute Service; ``host`` and ``driver`` default to the
    configuration's (the embedded mode and tests pass their own)."""
    host = host or conf.host
    if driver is None:
        try:
            driver = virt_driver.load_driver(conf)
        except virt_driver.DriverLoadError as exc:
            raise service.FatalError(str(exc)) from None
    transport = rpc.get_transport(conf)
    conductor = conductor_rpcapi.ConductorAPI(transport)
    return service.Service(
        conf, binary=BINARY, topic=rpcapi.TOPIC, host=host, transport=transport,
        manager=manager.ComputeManager(conf, host, driver, conductor),
        records=conductor_rpcapi.ConductorRecords(conductor),
        dependencies=[service.message_queue(conf),
                      conductor_rpcapi.dependency(conductor, nova_context.get_admin_context)])


def main(argv=None):
    return service.main(BINARY, build, argv)
