"""nova-conductor's part of an unshelve: a host for a shelved-offloaded instance.

The super-conductor (it needs [api_database] connection for the instance's
cell mapping and request spec) runs ``unshelve_instance`` for the compute
API's unshelve of a SHELVED_OFFLOADED server (task_state unshelving):

1. the shelved image's metadata from Glance (system metadata
   shelved_image_id), with the user's token;
2. nova-scheduler chooses a host from the instance's request spec (its
   current flavor, its availability zone; a ``host`` given with 2.91 is
   forced) in the instance's own cell, and claims it in Placement, as for a
   build;
3. unshelve_instance goes to that compute, which claims on its node and
   spawns the guest from the image (see compute.manager).

When no host fits, the scheduler fails or the image is gone, the instance
stays SHELVED_OFFLOADED with no task, and a fault says why (upstream leaves
the fault out for NoValidHost; here every failure has one); the
conductor_unshelve_instance event of the user's action records the error and
a claim the scheduler made is released.
"""

import logging
import traceback

from nova_runtime.states import task_states, vm_states
from nova_runtime.conductor import moves
from nova_runtime.conductor.build import fault_message, fault_text
from nova_runtime.image import glance
from nova_runtime.objects import exceptions as record_exc
from nova_runtime.objects import instance_actions, instances
from nova_runtime.scheduler.errors import NoValidHost

LOG = logging.getLogger(__name__)

EVENT = "conductor_unshelve_instance"


class UnshelveTasks:
    """``clients``: the conductor's BuildTasks, whose scheduler, Placement
    and compute RPC clients this shares."""

    def __init__(self, conf, api_url, clients):
        self.conf = conf
        self.api_url = api_url
        self.clients = clients

    def unshelve_instance(self, context, instance_uuid, host=None):
        moves.run(context, self.api_url, instance_uuid, EVENT, ("unshelve", "unshelving"),
                  lambda cell: self._unshelve(context, cell, instance_uuid, host),
                  self._failed)

    def _unshelve(self, context, cell, instance_uuid, host):
        url = cell.database_connection
        instance = instances.get_by_uuid(url, instance_uuid)
        if (instance["vm_state"], instance["task_state"]) != (
                vm_states.SHELVED_OFFLOADED, task_states.UNSHELVING):
            LOG.info("Not unshelving instance %s: it is in vm_state %s, task_state %s",
                     instance_uuid, instance["vm_state"], instance["task_state"])
            return
        image_id = instances.get_metadata(url, instance_uuid, system=True).get(
            "shelved_image_id")
        image = self._image(context, instance_uuid, image_id)
        spec = moves.request_spec(self.api_url, instance,
                                  instances.get_flavor(url, instance_uuid), host)
        selection = moves.select_in_cell(self.clients, context, cell, instance["uuid"], spec)
        LOG.info("Unshelving instance %s on %s (node %s)", instance_uuid, selection["host"],
                 selection["nodename"])
        self.clients.computes.get(cell).unshelve_instance(
            context, selection["host"], instance, image=image, node=selection["nodename"],
            limits=selection["limits"], request_spec=spec)

    def _image(self, context, instance_uuid, image_id):
        if not image_id:
            raise UnshelveError(f"Instance {instance_uuid} has no shelved image to unshelve "
                                "from")
        try:
            image = glance.show(context, image_id, self.conf)
        except glance.ImageNotFound:
            raise UnshelveError(f"Unshelve failed: the shelved image {image_id} of instance "
                                f"{instance_uuid} could not be found") from None
        if image.get("status") != "active":
            raise UnshelveError(f"Unshelve failed: the shelved image {image_id} of instance "
                                f"{instance_uuid} is {image.get('status')}, not active")
        return image

    def _failed(self, url, instance_uuid, exc):
        """Back to SHELVED_OFFLOADED with no task, and a fault; the
        scheduler's claim, if it made one, released."""
        self.clients.allocations.release(instance_uuid)
        message = fault_message(exc) if isinstance(exc, NoValidHost) else \
            f"Unshelve failed: {fault_text(exc)}" if not isinstance(exc, UnshelveError) \
            else str(exc)
        try:
            instances.update(url, instance_uuid, {"vm_state": vm_states.SHELVED_OFFLOADED,
                                                  "task_state": None},
                             expected_task_states=[task_states.UNSHELVING])
        except record_exc.RecordError:
            return  # deleted, or another request took it over
        except Exception as error:
            LOG.error("Cannot clear the task of instance %s: %s", instance_uuid, error)
            return
        try:
            instance_actions.fault_create(url, instance_uuid=instance_uuid,
                                          code=400 if isinstance(exc, NoValidHost) else 500,
                                          message=message, details=traceback.format_exc())
        except Exception as error:
            LOG.error("Cannot record the fault of instance %s: %s", instance_uuid, error)



class UnshelveError(Exception):
    """The instance cannot be unshelved (no shelved image); the message is its fault's."""
