"""nova-conductor's RPC endpoint: the cell database on behalf of the computes,
and the build orchestration (conductor.build).

The record methods are thin calls to nova_runtime.objects functions on
[database] connection, this cell's database. Errors the callers expect (not
found, task state races) are declared with expected_exceptions so that the
server does not log them as failures; they reach the caller with their own
type.

schedule_and_build_instances (a cast from the compute API) needs [api_database]
connection: the nova-conductor that has it is the super-conductor. build_instances
(a cast from a compute whose build failed) needs only the cell database;
instance_group_hosts (1.5, a compute's late check of a server group) needs
the API database too, as unshelve_instance (1.6, a cast from the compute API:
conductor.shelve) does.

Its periodic task ends builds lost between services (conductor.lost_builds).
"""

import functools
import logging

import oslo_messaging as messaging

from nova_runtime import cells, rpc, service
from nova_runtime.cells import session
from nova_runtime.conductor import build, lost_builds, migrate, shelve
from nova_runtime.db import engines
from nova_runtime.network import api as network_api
from nova_runtime.objects import compute_nodes, exceptions, instance_actions, instances
from nova_runtime.objects import console_auth_tokens
from nova_runtime.objects import migrations, services

LOG = logging.getLogger(__name__)


def _endpoint(method):
    """An RPC method of the API. Record errors are answers, not failures: the
    server logs no traceback for them. A database that does not answer
    becomes DatabaseDown."""

    @functools.wraps(method)
    def endpoint(self, context, **kwargs):
        try:
            return method(self, context, **kwargs)
        except cells.DOWN_ERRORS as exc:
            raise exceptions.DatabaseDown(
                f"the cell database {engines.mask_password(self.db_url)} does not answer: "
                f"{service.db_error_reason(exc)}") from None

    return rpc.expose(messaging.expected_exceptions(exceptions.RecordError)(endpoint))


class ConductorManager(service.Manager):
    target = messaging.Target(version="1.6")

    def __init__(self, conf, host, db_url, api_url=None):
        super().__init__(conf, host)
        self.db_url = db_url
        self.api_url = api_url or conf.api_database.connection or None
        self.build_tasks = build.BuildTasks(conf, db_url, self.api_url)
        self.migration_tasks = migrate.MigrationTasks(conf, self.api_url, self.build_tasks)
        self.unshelve_tasks = shelve.UnshelveTasks(conf, self.api_url, self.build_tasks)
        self.lost_builds = lost_builds.LostBuilds(conf, self.build_tasks)

    def periodic_tasks(self, context):
        """Builds lost between services end in ERROR (conductor.lost_builds);
        a database that does not answer is one line of the service's log."""
        try:
            self.lost_builds.run(context)
        except cells.DOWN_ERRORS as exc:
            raise service.Unavailable(
                f"lost builds not checked: {service.db_error_reason(exc)}") from None

    # --- builds (1.1, casts) -------------------------------------------------------

    @rpc.expose
    def schedule_and_build_instances(self, context, instance_uuids, request_spec, image,
                                     admin_password=None, injected_files=None,
                                     requested_networks=None):
        self.build_tasks.schedule_and_build_instances(
            context, instance_uuids, request_spec, image, admin_password=admin_password,
            injected_files=injected_files, requested_networks=requested_networks)

    @rpc.expose
    def build_instances(self, context, instances, request_spec, host_lists, image,
                        admin_password=None, injected_files=None, requested_networks=None,
                        reason=None):
        self.build_tasks.build_instances(
            context, instances, request_spec, host_lists, image, admin_password=admin_password,
            injected_files=injected_files, requested_networks=requested_networks,
            reason=reason)

    # --- resize and cold migration (1.3, a cast) ------------------------------------------

    @rpc.expose
    def migrate_server(self, context, instance_uuid, flavor=None, host=None):
        self.migration_tasks.migrate_server(context, instance_uuid, flavor=flavor, host=host)

    # --- unshelve (1.6, a cast) ------------------------------------------------------------

    @rpc.expose
    def unshelve_instance(self, context, instance_uuid, host=None):
        self.unshelve_tasks.unshelve_instance(context, instance_uuid, host=host)

    # --- services ----------------------------------------------------------------

    @_endpoint
    def service_register(self, context, host, binary, topic, version):
        record, created = services.register(
            self.db_url, host=host, binary=binary, topic=topic, version=version)
        if created:
            LOG.info("Registered %s on host %s as service %s", binary, host, record["id"])
        return record

    @_endpoint
    def service_heartbeat(self, context, service_id):
        return services.heartbeat(self.db_url, service_id)

    @_endpoint
    def service_update(self, context, service_id, values):
        return services.update(self.db_url, service_id, values)

    # --- compute nodes -----------------------------------------------------------

    @_endpoint
    def compute_node_get_by_host_and_nodename(self, context, host, nodename):
        return compute_nodes.get_by_host_and_nodename(self.db_url, host, nodename)

    @_endpoint
    def compute_node_create(self, context, uuid, values):
        return compute_nodes.create(self.db_url, uuid, values)

    @_endpoint
    def compute_node_update(self, context, node_id, values):
        return compute_nodes.update(self.db_url, node_id, values)

    # --- instances -------------------------------------------------------------

    @_endpoint
    def instance_get_by_uuid(self, context, instance_uuid):
        return instances.get_by_uuid(self.db_url, instance_uuid)

    @_endpoint
    def instance_get_all_by_host(self, context, host, node=None):
        return instances.get_all_by_host(self.db_url, host, node)

    @_endpoint
    def instance_update(self, context, instance_uuid, values, expected_task_states=None,
                        finish_event=None):
        if finish_event is None:
            return instances.update(self.db_url, instance_uuid, values, expected_task_states)
        with session(self.db_url) as db:  # 1.4: one transaction for both
            record = instances.update(self.db_url, instance_uuid, values,
                                      expected_task_states, db=db)
            self._finish_event(context, instance_uuid, db=db, **finish_event)
        return record

    @_endpoint
    def instance_claim(self, context, instance_uuid, values, expected_task_states, node_id,
                       node_values, event=None, host=None, config_drive=False):
        """A compute's claim of the instance for one of its nodes, in one call
        (1.4): the step ``event`` starts (as action_event_start), the instance
        gets ``values`` (its host and node; only while its task_state is one
        of ``expected_task_states``), the node its new usage, and the answer
        carries what the compute needs to spawn it (as instance_spawn_info)."""
        # One transaction (every build makes this call). Each step raises
        # before it writes: what the steps before a refused one wrote stays,
        # as in a transaction of its own (the event that the compute ends
        # with an error when the instance was deleted meanwhile).
        refused = None
        with session(self.db_url) as db:
            try:
                if event is not None:
                    instance_actions.event_start(
                        self.db_url, instance_uuid=instance_uuid,
                        request_id=context.request_id, event=event, host=host, db=db)
                record = instances.update(self.db_url, instance_uuid, values,
                                          expected_task_states, db=db)
                node = compute_nodes.update(self.db_url, node_id, node_values, db=db)
                spawn_info = self._spawn_info(instance_uuid, config_drive, db=db)
            except exceptions.RecordError as exc:
                refused = exc
        if refused is not None:
            raise refused
        return {"instance": record, "node": node, "spawn_info": spawn_info}

    @_endpoint
    def instance_group_hosts(self, context, group_uuid, exclude=None):
        """1.5: the hosts of the server group's live members (in every cell)
        but ``exclude``, one entry per member, for the compute's late check
        of the group's policy (upstream's "upcall" to the API database).
        A conductor without [api_database] connection cannot answer: NotFound."""
        if not self.api_url:
            raise exceptions.NotFound(
                f"nova-conductor on {self.host} has no [api_database] connection to read "
                f"server group {group_uuid}")
        return self.build_tasks.group_member_hosts(group_uuid, exclude)

    @_endpoint
    def instance_system_metadata_get(self, context, instance_uuid):  # 1.6
        return instances.get_metadata(self.db_url, instance_uuid, system=True)

    @_endpoint
    def instance_system_metadata_update(self, context, instance_uuid, values):  # 1.6
        instances.set_system_metadata(self.db_url, instance_uuid, values)
        return instances.get_metadata(self.db_url, instance_uuid, system=True)

    @_endpoint
    def instance_destroy(self, context, instance_uuid, values=None):
        return instances.destroy(self.db_url, instance_uuid, values)

    @_endpoint
    def instance_fault_create(self, context, instance_uuid, code, message, details=None,
                              host=None):
        return instance_actions.fault_create(
            self.db_url, instance_uuid=instance_uuid, code=code, message=message,
            details=details, host=host)

    @_endpoint
    def action_start(self, context, instance_uuid, action):
        instance = instances.get_by_uuid(self.db_url, instance_uuid)
        return instance_actions.action_start(
            self.db_url, instance_uuid=instance_uuid, request_id=context.request_id,
            action=action, user_id=context.user_id or instance["user_id"],
            project_id=context.project_id or instance["project_id"])

    @_endpoint
    def action_event_start(self, context, instance_uuid, event, host=None):
        return instance_actions.event_start(
            self.db_url, instance_uuid=instance_uuid, request_id=context.request_id,
            event=event, host=host)

    @_endpoint
    def action_event_finish(self, context, instance_uuid, event, result, traceback=None):
        return instance_actions.event_finish(
            self.db_url, instance_uuid=instance_uuid, request_id=context.request_id,
            event=event, result=result, traceback=traceback)

    def _finish_event(self, context, instance_uuid, event, result, traceback=None, db=None):
        """action_event_finish after another write of the same call (in its
        session ``db``): a step that was never recorded is logged, not an
        error of that write."""
        try:
            instance_actions.event_finish(
                self.db_url, instance_uuid=instance_uuid, request_id=context.request_id,
                event=event, result=result, traceback=traceback, db=db)
        except exceptions.InstanceActionNotFound as exc:
            LOG.warning("Cannot finish event %s of instance %s: %s", event, instance_uuid, exc)

    # --- console tokens (1.2) ------------------------------------------------------

    @_endpoint
    def console_auth_token_create(self, context, instance_uuid, token_hash, console_type,
                                  host, port, ttl, access_url_base=None,
                                  internal_access_path=None):
        return console_auth_tokens.create(
            self.db_url, token_hash=token_hash, console_type=console_type, host=host,
            port=port, instance_uuid=instance_uuid, ttl=ttl, access_url_base=access_url_base,
            internal_access_path=internal_access_path)

    @_endpoint
    def console_auth_tokens_destroy_for_instance(self, context, instance_uuid):
        return console_auth_tokens.destroy_for_instance(self.db_url, instance_uuid)

    # --- what a compute needs to spawn (1.3) -------------------------------------------

    @_endpoint
    def instance_spawn_info(self, context, instance_uuid, config_drive=True):
        return self._spawn_info(instance_uuid, config_drive)

    def _spawn_info(self, instance_uuid, config_drive, db=None):
        """The instance's interfaces on the flat network (the driver's
        network_info) and, with ``config_drive`` (1.4: only then), its user
        metadata and flavor, which only a config drive needs (``db``: read
        in that session)."""
        info = {"network_info": network_api.get_network_info(self.db_url, instance_uuid,
                                                             db=db)}
        if config_drive:
            info.update(metadata=instances.get_metadata(self.db_url, instance_uuid, db=db),
                        flavor=instances.get_flavor(self.db_url, instance_uuid, db=db))
        return info

    # --- migrations and the instance's flavors (1.3) ---------------------------------

    @_endpoint
    def migration_get(self, context, migration_id):
        return migrations.get(self.db_url, migration_id)

    @_endpoint
    def migration_update(self, context, migration_id, values, expected_statuses=None):
        return migrations.update(self.db_url, migration_id, values, expected_statuses)

    @_endpoint
    def migration_get_in_progress_by_host_and_node(self, context, host, node):
        return migrations.in_progress_on_node(self.db_url, host, node)

    @_endpoint
    def instance_flavors_get(self, context, instance_uuid):
        return instances.get_flavors(self.db_url, instance_uuid)

    @_endpoint
    def instance_flavors_update(self, context, instance_uuid, flavors):
        unknown = sorted(set(flavors) - {"cur", "old", "new"})
        if unknown:
            raise exceptions.InvalidField(f"an instance has no flavor {', '.join(unknown)}")
        return instances.set_flavors(self.db_url, instance_uuid, **flavors)
