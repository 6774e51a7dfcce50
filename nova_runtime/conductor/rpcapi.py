"""The client side of nova-conductor's RPC API (topic 'conductor').

Version history:

1.0 - ping, service_register, service_heartbeat, service_update,
      compute_node_get_by_host_and_nodename, compute_node_create,
      compute_node_update, instance_get_by_uuid, instance_get_all_by_host,
      instance_update, instance_fault_create, action_event_start,
      action_event_finish
1.1 - schedule_and_build_instances, build_instances (casts), instance_destroy
1.2 - console_auth_token_create, console_auth_tokens_destroy_for_instance
1.3 - migrate_server (cast, to the super-conductor), migration_get,
      migration_update, migration_get_in_progress_by_host_and_node,
      instance_flavors_get, instance_flavors_update, action_start,
      instance_spawn_info
1.4 - instance_claim; instance_update's finish_event; instance_spawn_info's
      config_drive (False: network_info only)
1.5 - instance_group_hosts (the compute's late check of a server group's policy)
1.6 - unshelve_instance (cast, to the super-conductor), instance_system_metadata_get,
      instance_system_metadata_update

Every record method returns records (dicts of column values, datetimes as datetime)
and raises the nova_runtime.objects.exceptions errors with their own type.
"""

import oslo_messaging as messaging

from nova_runtime import rpc, service
from nova_runtime.objects import exceptions as record_exc

TOPIC = "conductor"

# How long a compute waits for nova-conductor's answer to a ping at start.
PING_TIMEOUT = 10


class ConductorAPI(rpc.RPCAPI):
    TOPIC = TOPIC
    VERSION = "1.6"

    def ping(self, context, timeout=None):
        return self._prepare("1.0", timeout=timeout or PING_TIMEOUT).call(context, "ping")

    # --- services ----------------------------------------------------------------

    def service_register(self, context, host, binary, topic, version):
        return self._prepare("1.0").call(
            context, "service_register", host=host, binary=binary, topic=topic, version=version)

    def service_heartbeat(self, context, service_id):
        return self._prepare("1.0").call(context, "service_heartbeat", service_id=service_id)

    def service_update(self, context, service_id, values):
        return self._prepare("1.0").call(
            context, "service_update", service_id=service_id, values=values)

    # --- compute nodes -----------------------------------------------------------

    def compute_node_get_by_host_and_nodename(self, context, host, nodename):
        return self._prepare("1.0").call(
            context, "compute_node_get_by_host_and_nodename", host=host, nodename=nodename)

    def compute_node_create(self, context, uuid, values):
        return self._prepare("1.0").call(context, "compute_node_create", uuid=uuid, values=values)

    def compute_node_update(self, context, node_id, values):
        return self._prepare("1.0").call(
            context, "compute_node_update", node_id=node_id, values=values)

    # --- instances -------------------------------------------------------------

    def instance_get_by_uuid(self, context, instance_uuid):
        return self._prepare("1.0").call(
            context, "instance_get_by_uuid", instance_uuid=instance_uuid)

    def instance_get_all_by_host(self, context, host, node=None):
        return self._prepare("1.0").call(context, "instance_get_all_by_host", host=host, node=node)

    def instance_update(self, context, instance_uuid, values, expected_task_states=None,
                        finish_event=None):
        """Set ``values`` (only in one of ``expected_task_states``, when given);
        with ``finish_event`` ({"event", "result", "traceback"}) the step ends
        in the same call, as action_event_finish. Returns the record."""
        if finish_event is None:
            return self._prepare("1.0").call(
                context, "instance_update", instance_uuid=instance_uuid, values=values,
                expected_task_states=expected_task_states)
        return self._prepare("1.4").call(
            context, "instance_update", instance_uuid=instance_uuid, values=values,
            expected_task_states=expected_task_states, finish_event=finish_event)

    def instance_group_hosts(self, context, group_uuid, exclude=None):
        """The hosts of the server group's live members but ``exclude``, one
        entry per member (None: not on a host yet)."""
        return self._prepare("1.5").call(context, "instance_group_hosts",
                                         group_uuid=group_uuid, exclude=exclude)

    def instance_system_metadata_get(self, context, instance_uuid):
        """The instance's system metadata ({key: value})."""
        return self._prepare("1.6").call(context, "instance_system_metadata_get",
                                         instance_uuid=instance_uuid)

    def instance_system_metadata_update(self, context, instance_uuid, values):
        """Set the system metadata keys of ``values`` (None deletes a key);
        returns the whole system metadata."""
        return self._prepare("1.6").call(context, "instance_system_metadata_update",
                                         instance_uuid=instance_uuid, values=values)

    def instance_claim(self, context, instance_uuid, values, expected_task_states, node_id,
                       node_values, event=None, host=None, config_drive=False):
        """A build's claim in one call: ``event`` starts, the instance gets
        ``values``, the node ``node_values``. Returns {"instance", "node",
        "spawn_info"} (spawn_info as instance_spawn_info)."""
        return self._prepare("1.4").call(
            context, "instance_claim", instance_uuid=instance_uuid, values=values,
            expected_task_states=expected_task_states, node_id=node_id,
            node_values=node_values, event=event, host=host, config_drive=config_drive)

    def instance_destroy(self, context, instance_uuid, values=None):
        """Soft-delete the instance, setting ``values`` first; returns the record."""
        return self._prepare("1.1").call(
            context, "instance_destroy", instance_uuid=instance_uuid, values=values)

    def instance_fault_create(self, context, instance_uuid, code, message, details=None,
                              host=None):
        return self._prepare("1.0").call(
            context, "instance_fault_create", instance_uuid=instance_uuid, code=code,
            message=message, details=details, host=host)

    def action_event_start(self, context, instance_uuid, event, host=None):
        """Start step ``event`` of the action that context's request created."""
        return self._prepare("1.0").call(
            context, "action_event_start", instance_uuid=instance_uuid, event=event, host=host)

    def action_event_finish(self, context, instance_uuid, event, result, traceback=None):
        return self._prepare("1.0").call(
            context, "action_event_finish", instance_uuid=instance_uuid, event=event,
            result=result, traceback=traceback)

    # --- console tokens (1.2) ------------------------------------------------------

    def console_auth_token_create(self, context, instance_uuid, *, token_hash, console_type,
                                  host, port, ttl, access_url_base=None,
                                  internal_access_path=None):
        """Store a console token by its hash (the token itself never reaches
        the conductor), valid ``ttl`` seconds from now; returns the row."""
        return self._prepare("1.2").call(
            context, "console_auth_token_create", instance_uuid=instance_uuid,
            token_hash=token_hash, console_type=console_type, host=host, port=port, ttl=ttl,
            access_url_base=access_url_base, internal_access_path=internal_access_path)

    def console_auth_tokens_destroy_for_instance(self, context, instance_uuid):
        """Remove the instance's console tokens (it left its host: their VNC
        address may soon belong to another instance); returns how many."""
        return self._prepare("1.2").call(
            context, "console_auth_tokens_destroy_for_instance", instance_uuid=instance_uuid)


    # --- builds (casts) ------------------------------------------------------------

    def schedule_and_build_instances(self, context, instance_uuids, request_spec, image,
                                     admin_password=None, injected_files=None,
                                     requested_networks=None):
        """To the super-conductor: schedule the build requests of
        ``instance_uuids`` (one request spec for them all) and send each to
        its compute; no valid host puts them in cell0 in ERROR."""
        self._prepare("1.1").cast(
            context, "schedule_and_build_instances", instance_uuids=list(instance_uuids),
            request_spec=request_spec, image=image, admin_password=admin_password,
            injected_files=injected_files or [], requested_networks=requested_networks)

    def build_instances(self, context, instances, request_spec, host_lists, image,
                        admin_password=None, injected_files=None, requested_networks=None,
                        reason=None):
        """To a cell's conductor, from a compute whose build failed with
        ``reason``: build each of ``instances`` on the next untried host of
        its host list (alternate selections), or put it in ERROR."""
        self._prepare("1.1").cast(
            context, "build_instances", instances=instances, request_spec=request_spec,
            host_lists=host_lists, image=image, admin_password=admin_password,
            injected_files=injected_files or [], requested_networks=requested_networks,
            reason=reason)

    # --- resize and cold migration (1.3) ----------------------------------------------

    def migrate_server(self, context, instance_uuid, flavor=None, host=None):
        """To the super-conductor: move the instance (vm_state active or
        stopped, task_state resize_prep) to a host the scheduler picks, with
        ``flavor`` (a resize; None: a cold migration with its flavor) and, if
        given, only to ``host``. See conductor.migrate."""
        self._prepare("1.3").cast(context, "migrate_server", instance_uuid=instance_uuid,
                                  flavor=flavor, host=host)

    # --- unshelve (1.6) -------------------------------------------------------------------

    def unshelve_instance(self, context, instance_uuid, host=None):
        """To the super-conductor: find a host for a shelved-offloaded instance
        (task_state unshelving) from its request spec (only ``host`` when
        given) and send it there to be spawned from its shelved image. See
        conductor.shelve."""
        self._prepare("1.6").cast(context, "unshelve_instance", instance_uuid=instance_uuid,
                                  host=host)

    def migration_get(self, context, migration_id):
        return self._prepare("1.3").call(context, "migration_get", migration_id=migration_id)

    def migration_update(self, context, migration_id, values, expected_statuses=None):
        """Set ``values``; with ``expected_statuses`` only from one of them
        (else UnexpectedTaskState)."""
        return self._prepare("1.3").call(
            context, "migration_update", migration_id=migration_id, values=values,
            expected_statuses=expected_statuses)

    def migration_get_in_progress_by_host_and_node(self, context, host, node):
        """The migrations from or to the node, each with the instance's
        old_flavor and new_flavor."""
        return self._prepare("1.3").call(
            context, "migration_get_in_progress_by_host_and_node", host=host, node=node)

    def instance_flavors_get(self, context, instance_uuid):
        """{"cur", "old", "new"}: the instance's flavors."""
        return self._prepare("1.3").call(context, "instance_flavors_get",
                                         instance_uuid=instance_uuid)

    def instance_flavors_update(self, context, instance_uuid, flavors):
        """Set the keys of ``flavors`` (some of cur, old, new); returns all three."""
        return self._prepare("1.3").call(context, "instance_flavors_update",
                                         instance_uuid=instance_uuid, flavors=flavors)

    def instance_spawn_info(self, context, instance_uuid, config_drive=True):
        """{"network_info": [interface, ...], "metadata": {key: value}, "flavor": {...}};
        without ``config_drive`` only network_info."""
        if config_drive:
            return self._prepare("1.3").call(context, "instance_spawn_info",
                                             instance_uuid=instance_uuid)
        return self._prepare("1.4").call(context, "instance_spawn_info",
                                         instance_uuid=instance_uuid, config_drive=False)

    def action_start(self, context, instance_uuid, action):
        """Start an action of the service's own (e.g. confirmResize when a
        resize is confirmed automatically) under context's request id."""
        return self._prepare("1.3").call(context, "action_start", instance_uuid=instance_uuid,
                                         action=action)


# --- for nova-compute's Service ---------------------------------------------------

def dependency(conductor, context_factory):
    """nova-conductor answering a ping: what a compute waits for at start.

    The first pings wait briefly (a conductor starting at the same time misses
    the pings sent before its queue exists), later ones up to PING_TIMEOUT
    (a busy conductor may answer slowly)."""
    timeouts = service.growing(1, 2, PING_TIMEOUT)

    def probe():
        timeout = next(timeouts)
        try:
            conductor.ping(context_factory(), timeout=timeout)
        except messaging.MessagingTimeout:
            raise service.Unavailable(
                f"no answer on topic '{TOPIC}' within {timeout} s; is nova-conductor "
                "running for this cell, on this transport_url?") from None
        except messaging.MessagingException as exc:
            raise service.Unavailable(f"{type(exc).__name__}: {exc}") from None

    return service.Dependency("nova-conductor", probe, service.constant(1))


class ConductorRecords(service.ServiceRecords):
    """Service records kept through nova-conductor (for nova-compute)."""

    def __init__(self, conductor):
        self.conductor = conductor

    def register(self, context, *, host, binary, topic, version):
        with conductor_errors():
            return self.conductor.service_register(context, host, binary, topic, version)

    def heartbeat(self, context, service_id):
        with conductor_errors():
            return self.conductor.service_heartbeat(context, service_id)


class conductor_errors:
    """nova-conductor not answering (or its database down) -> service.Unavailable."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            return False
        # The first line only: a remote error's text carries the remote traceback.
        text = (str(exc) or type(exc).__name__).splitlines()[0]
        if issubclass(exc_type, messaging.MessagingTimeout):
            raise service.Unavailable(
                f"nova-conductor did not answer within the RPC timeout ({text})") from None
        if issubclass(exc_type, record_exc.DatabaseDown):
            raise service.Unavailable(f"nova-conductor: {text}") from None
        if issubclass(exc_type, messaging.MessagingException):
            raise service.Unavailable(f"RPC to nova-conductor failed: {text}") from None
        return False
