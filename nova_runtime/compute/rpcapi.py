"""The client side of nova-compute's RPC API (topic 'compute', one server per host).

Version history:

1.0 - ping, refresh_resources

The instance lifecycle (build_and_run_instance, stop, start, reboot, pause,
suspend, snapshot, resize, ...) joins as 1.x minor versions; each method then
checks ``can_send_version`` (RPCAPI._prepare) so that a conductor capped to an
older compute during a rolling upgrade fails clearly instead of sending a call
the compute does not know.
"""

from nova_runtime import rpc

TOPIC = "compute"


class ComputeAPI(rpc.RPCAPI):
    TOPIC = TOPIC
    VERSION = "1.0"

    def ping(self, context, host, timeout=None):
        """{"host", "service_id", "driver", "nodes"} from the compute on ``host``."""
        return self._prepare("1.0", server=host, timeout=timeout).call(context, "ping")

    def refresh_resources(self, context, host):
        """Make ``host`` report its resources now; returns its compute node records."""
        return self._prepare("1.0", server=host).call(context, "refresh_resources")
