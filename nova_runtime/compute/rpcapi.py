"""The client side of nova-compute's RPC API (topic 'compute', one server per host).

Version history:

1.0 - ping, refresh_resources
1.1 - build_and_run_instance, terminate_instance, stop_instance, start_instance
      (casts)

Further lifecycle calls (reboot, pause, suspend, snapshot, resize, ...) join
as 1.x minor versions. Each method asks ``_prepare`` for the version it
needs, so that a client capped to an older compute during a rolling upgrade
raises rpc.ServiceTooOld instead of sending a call the compute does not know;
``can_send_version`` tells callers beforehand.

``instance`` arguments are instance records (dicts of the instances row);
the compute reads the record again through nova-conductor before acting.
"""

from nova_runtime import rpc

TOPIC = "compute"


class ComputeAPI(rpc.RPCAPI):
    TOPIC = TOPIC
    VERSION = "1.1"

    def ping(self, context, host, timeout=None):
        """{"host", "service_id", "driver", "nodes"} from the compute on ``host``."""
        return self._prepare("1.0", server=host, timeout=timeout).call(context, "ping")

    def refresh_resources(self, context, host):
        """Make ``host`` report its resources now; returns its compute node records."""
        return self._prepare("1.0", server=host).call(context, "refresh_resources")

    # --- 1.1: the instance lifecycle ------------------------------------------------

    def build_and_run_instance(self, context, host, instance, *, node, limits, image,
                               request_spec, host_list, admin_password=None,
                               injected_files=None, requested_networks=None):
        """Build ``instance`` (vm_state building, task_state scheduling) on
        ``node`` of ``host``: claim within ``limits``, spawn, ACTIVE. On a
        failure the compute asks its conductor to reschedule to one of
        ``host_list`` (the remaining alternates, selection dicts)."""
        self._prepare("1.1", server=host).cast(
            context, "build_and_run_instance", instance=instance, node=node, limits=limits,
            image=image, request_spec=request_spec, host_list=host_list,
            admin_password=admin_password, injected_files=injected_files or [],
            requested_networks=requested_networks)

    def terminate_instance(self, context, instance):
        """Destroy the instance (task_state deleting) and soft-delete its record."""
        self._prepare("1.1", server=instance["host"]).cast(
            context, "terminate_instance", instance=instance)

    def stop_instance(self, context, instance, clean_shutdown=True):
        """Power the instance (task_state powering-off) off: vm_state stopped."""
        self._prepare("1.1", server=instance["host"]).cast(
            context, "stop_instance", instance=instance, clean_shutdown=clean_shutdown)

    def start_instance(self, context, instance):
        """Power the instance (task_state powering-on) on: vm_state active."""
        self._prepare("1.1", server=instance["host"]).cast(
            context, "start_instance", instance=instance)
