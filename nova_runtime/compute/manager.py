"""nova-compute's manager: the virt driver, the resource tracker, and the RPC
endpoint on topic 'compute' (server: this host).

It has no database access: records come and go through nova-conductor.
"""

import oslo_messaging as messaging

from nova_runtime import rpc, service
from nova_runtime.compute import resource_tracker
from nova_runtime.conductor import rpcapi as conductor_rpcapi
from nova_runtime.virt import exceptions as virt_exc


class ComputeManager(service.Manager):
    target = messaging.Target(version="1.0")

    def __init__(self, conf, host, driver, conductor):
        super().__init__(conf, host)
        self.driver = driver
        self.conductor = conductor
        self.resource_tracker = resource_tracker.ResourceTracker(conf, host, driver, conductor)

    def init_host(self, context):
        try:
            self.driver.init_host(self.host)
        except virt_exc.HypervisorUnavailable as exc:
            raise service.Unavailable(f"the hypervisor: {exc}") from None
        self._update_available_resource(context)

    def periodic_tasks(self, context):
        self._update_available_resource(context)

    def cleanup_host(self):
        self.driver.cleanup_host(self.host)

    def _update_available_resource(self, context):
        with conductor_rpcapi.conductor_errors():
            return self.resource_tracker.update_available_resource(context, self.service["id"])

    # --- RPC API 1.0 ----------------------------------------------------------------

    @rpc.expose
    def ping(self, context):
        answer = super().ping(context)
        answer.update(driver=type(self.driver).__name__,
                      nodes=self.driver.get_available_nodes())
        return answer

    @rpc.expose
    def refresh_resources(self, context):
        return self._update_available_resource(context)
