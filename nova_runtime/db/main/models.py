"""A cell database: the services, compute nodes and instances of one cell.

cell0 uses the same schema; only instances (and their faults) ever land there.
Rows are soft-deleted (see SoftDeleteMixin) so that deleted servers stay visible
to operators and to the API's changes-since queries.
"""

import sqlalchemy as sa
from sqlalchemy import orm

from nova_runtime.db.base import table_args, IdMixin, LongText, SoftDeleteMixin, TimestampMixin


class Base(orm.DeclarativeBase):
    pass


class Row(IdMixin, TimestampMixin, SoftDeleteMixin):
    """Columns every cell table has."""


# --- services and hypervisors -------------------------------------------------

class Service(Row, Base):
    """A running daemon (nova-compute, nova-conductor, ...) and its heartbeat."""

    __tablename__ = "services"
    __table_args__ = table_args(
        sa.UniqueConstraint("host", "binary", "deleted", name="uniq_services0host0binary0deleted"),
        sa.UniqueConstraint("uuid", name="uniq_services0uuid"),
    )

    uuid = orm.mapped_column(sa.String(36), nullable=False)
    host = orm.mapped_column(sa.String(255), nullable=False)
    binary = orm.mapped_column(sa.String(255), nullable=False)
    topic = orm.mapped_column(sa.String(255))
    report_count = orm.mapped_column(sa.Integer, nullable=False, default=0)
    disabled = orm.mapped_column(sa.Boolean, default=False)
    disabled_reason = orm.mapped_column(sa.String(255))
    last_seen_up = orm.mapped_column(sa.DateTime)
    forced_down = orm.mapped_column(sa.Boolean, default=False)
    # The RPC version the service speaks, so that mixed versions can talk.
    version = orm.mapped_column(sa.Integer, default=0)


class ComputeNode(Row, Base):
    """A hypervisor's resources as its nova-compute last reported them."""

    __tablename__ = "compute_nodes"
    __table_args__ = table_args(
        sa.UniqueConstraint("host", "hypervisor_hostname", "deleted",
                            name="uniq_compute_nodes0host0hypervisor_hostname0deleted"),
        sa.UniqueConstraint("uuid", name="uniq_compute_nodes0uuid"),
    )

    uuid = orm.mapped_column(sa.String(36), nullable=False)
    service_id = orm.mapped_column(sa.Integer)
    host = orm.mapped_column(sa.String(255))
    hypervisor_hostname = orm.mapped_column(sa.String(255))
    hypervisor_type = orm.mapped_column(sa.Text, nullable=False)
    hypervisor_version = orm.mapped_column(sa.Integer, nullable=False)
    cpu_info = orm.mapped_column(LongText, nullable=False)
    host_ip = orm.mapped_column(sa.String(39))
    vcpus = orm.mapped_column(sa.Integer, nullable=False)
    memory_mb = orm.mapped_column(sa.Integer, nullable=False)
    local_gb = orm.mapped_column(sa.Integer, nullable=False)
    vcpus_used = orm.mapped_column(sa.Integer, nullable=False)
    memory_mb_used = orm.mapped_column(sa.Integer, nullable=False)
    local_gb_used = orm.mapped_column(sa.Integer, nullable=False)
    free_ram_mb = orm.mapped_column(sa.Integer)
    free_disk_gb = orm.mapped_column(sa.Integer)
    disk_available_least = orm.mapped_column(sa.Integer)
    current_workload = orm.mapped_column(sa.Integer)
    running_vms = orm.mapped_column(sa.Integer)
    # JSON: [[arch, hypervisor type, vm mode], ...] for ImagePropertiesFilter
    supported_instances = orm.mapped_column(sa.Text)
    # JSON: free-form capabilities for ComputeCapabilitiesFilter
    stats = orm.mapped_column(sa.Text)
    cpu_allocation_ratio = orm.mapped_column(sa.Float)
    ram_allocation_ratio = orm.mapped_column(sa.Float)
    disk_allocation_ratio = orm.mapped_column(sa.Float)
    # 1 once nova-manage cell_v2 discover_hosts has mapped this node's host.
    mapped = orm.mapped_column(sa.Integer, default=0, server_default="0")


# --- instances ----------------------------------------------------------------

class Instance(Row, Base):
    __tablename__ = "instances"
    __table_args__ = table_args(
        sa.UniqueConstraint("uuid", name="uniq_instances0uuid"),
        # The quota count reads this index alone (migration main_004).
        sa.Index("instances_project_id_deleted_usage_idx", "project_id", "deleted", "user_id",
                 "vcpus", "memory_mb", "uuid"),
        # Pages of servers in their default order (created_at, uuid).
        sa.Index("instances_deleted_created_at_uuid_idx", "deleted", "created_at", "uuid"),
        sa.Index("instances_host_node_deleted_idx", "host", "node", "deleted"),
        sa.Index("instances_reservation_id_idx", "reservation_id"),
        sa.Index("instances_updated_at_project_id_idx", "updated_at", "project_id"),
    )

    uuid = orm.mapped_column(sa.String(36), nullable=False)
    user_id = orm.mapped_column(sa.String(255))
    project_id = orm.mapped_column(sa.String(255))
    display_name = orm.mapped_column(sa.String(255))
    display_description = orm.mapped_column(sa.Text)
    hostname = orm.mapped_column(sa.String(255))
    image_ref = orm.mapped_column(sa.String(255))
    kernel_id = orm.mapped_column(sa.String(255))
    ramdisk_id = orm.mapped_column(sa.String(255))
    launch_index = orm.mapped_column(sa.Integer)
    key_name = orm.mapped_column(sa.String(255))
    key_data = orm.mapped_column(LongText)
    power_state = orm.mapped_column(sa.Integer)
    vm_state = orm.mapped_column(sa.String(255))
    task_state = orm.mapped_column(sa.String(255))
    memory_mb = orm.mapped_column(sa.Integer)
    vcpus = orm.mapped_column(sa.Integer)
    root_gb = orm.mapped_column(sa.Integer)
    ephemeral_gb = orm.mapped_column(sa.Integer)
    instance_type_id = orm.mapped_column(sa.Integer)
    # The compute service's host, and the hypervisor node on it.
    host = orm.mapped_column(sa.String(255))
    node = orm.mapped_column(sa.String(255))
    launched_on = orm.mapped_column(sa.Text)
    user_data = orm.mapped_column(LongText)
    reservation_id = orm.mapped_column(sa.String(255))
    launched_at = orm.mapped_column(sa.DateTime)
    terminated_at = orm.mapped_column(sa.DateTime)
    availability_zone = orm.mapped_column(sa.String(255))
    locked = orm.mapped_column(sa.Boolean, default=False)
    locked_by = orm.mapped_column(sa.Enum("owner", "admin", name="instances0locked_by"))
    os_type = orm.mapped_column(sa.String(255))
    architecture = orm.mapped_column(sa.String(255))
    vm_mode = orm.mapped_column(sa.String(255))
    access_ip_v4 = orm.mapped_column(sa.String(39))
    access_ip_v6 = orm.mapped_column(sa.String(39))
    config_drive = orm.mapped_column(sa.String(255))
    progress = orm.mapped_column(sa.Integer)
    cleaned = orm.mapped_column(sa.Integer, default=0)


class InstanceExtra(Row, Base):
    """JSON blobs kept beside an instance: its flavor (old and new during a
    resize), key pairs, network info and what a migration needs."""

    __tablename__ = "instance_extra"
    __table_args__ = table_args(sa.Index("instance_extra_idx", "instance_uuid"))

    instance_uuid = orm.mapped_column(sa.ForeignKey("instances.uuid"), nullable=False)
    flavor = orm.mapped_column(LongText)
    keypairs = orm.mapped_column(LongText)
    network_info = orm.mapped_column(LongText)
    migration_context = orm.mapped_column(LongText)
    device_metadata = orm.mapped_column(LongText)


class InstanceMetadata(Row, Base):
    """User-visible metadata (server metadata in the API)."""

    __tablename__ = "instance_metadata"
    __table_args__ = table_args(sa.Index("instance_metadata_instance_uuid_idx", "instance_uuid"))

    key = orm.mapped_column(sa.String(255))
    value = orm.mapped_column(sa.String(255))
    instance_uuid = orm.mapped_column(sa.ForeignKey("instances.uuid"))


class InstanceSystemMetadata(Row, Base):
    """Metadata nova keeps for itself (image properties at boot, ...)."""

    __tablename__ = "instance_system_metadata"
    __table_args__ = table_args(sa.Index("instance_uuid", "instance_uuid"))

    instance_uuid = orm.mapped_column(sa.ForeignKey("instances.uuid"), nullable=False)
    key = orm.mapped_column(sa.String(255), nullable=False)
    value = orm.mapped_column(sa.String(255))


class Tag(Base):
    """A server tag (2.26): a short string a user attaches to an instance.

    As upstream's, rows are not soft-deleted: a tag is there or not, and an
    instance's tags go with it."""

    __tablename__ = "tags"
    __table_args__ = table_args(sa.Index("tags_tag_idx", "tag"))

    resource_id = orm.mapped_column(sa.String(36), primary_key=True)
    tag = orm.mapped_column(sa.String(80), primary_key=True)


class InstanceFault(Row, Base):
    """Why an instance went to ERROR: shown as the server's 'fault'."""

    __tablename__ = "instance_faults"
    __table_args__ = table_args(
        sa.Index("instance_faults_instance_uuid_deleted_created_at_idx",
                 "instance_uuid", "deleted", "created_at"),
    )

    instance_uuid = orm.mapped_column(sa.ForeignKey("instances.uuid"))
    code = orm.mapped_column(sa.Integer, nullable=False)
    message = orm.mapped_column(sa.String(255))
    details = orm.mapped_column(LongText)
    host = orm.mapped_column(sa.String(255))


class InstanceAction(Row, Base):
    """A user request on an instance (create, stop, resize, ...): os-instance-actions."""

    __tablename__ = "instance_actions"
    __table_args__ = table_args(
        sa.Index("instance_uuid_idx", "instance_uuid"),
        sa.Index("request_id_idx", "request_id"),
    )

    action = orm.mapped_column(sa.String(255))
    instance_uuid = orm.mapped_column(sa.ForeignKey("instances.uuid"))
    request_id = orm.mapped_column(sa.String(255))
    user_id = orm.mapped_column(sa.String(255))
    project_id = orm.mapped_column(sa.String(255))
    start_time = orm.mapped_column(sa.DateTime)
    finish_time = orm.mapped_column(sa.DateTime)
    message = orm.mapped_column(sa.String(255))


class InstanceActionEvent(Row, Base):
    """A step of an action (compute_build_and_run_instance, ...) and its result."""

    __tablename__ = "instance_actions_events"
    __table_args__ = table_args()

    event = orm.mapped_column(sa.String(255))
    action_id = orm.mapped_column(sa.ForeignKey("instance_actions.id"), index=True)
    start_time = orm.mapped_column(sa.DateTime)
    finish_time = orm.mapped_column(sa.DateTime)
    result = orm.mapped_column(sa.String(255))
    traceback = orm.mapped_column(sa.Text)
    host = orm.mapped_column(sa.String(255))
    details = orm.mapped_column(sa.Text)


class Migration(Row, Base):
    """A resize or cold migration in progress or done."""

    __tablename__ = "migrations"
    __table_args__ = table_args(
        sa.UniqueConstraint("uuid", name="uniq_migrations0uuid"),
        sa.Index("migrations_instance_uuid_and_status_idx", "deleted", "instance_uuid", "status"),
    )

    uuid = orm.mapped_column(sa.String(36))
    instance_uuid = orm.mapped_column(sa.ForeignKey("instances.uuid"))
    source_compute = orm.mapped_column(sa.String(255))
    dest_compute = orm.mapped_column(sa.String(255))
    source_node = orm.mapped_column(sa.String(255))
    dest_node = orm.mapped_column(sa.String(255))
    dest_host = orm.mapped_column(sa.String(255))
    old_instance_type_id = orm.mapped_column(sa.Integer)
    new_instance_type_id = orm.mapped_column(sa.Integer)
    status = orm.mapped_column(sa.String(255))
    migration_type = orm.mapped_column(
        sa.Enum("migration", "resize", "live-migration", "evacuation",
                name="migration_type"))
    hidden = orm.mapped_column(sa.Boolean, default=False)
    user_id = orm.mapped_column(sa.String(255))
    project_id = orm.mapped_column(sa.String(255))


class ConsoleAuthToken(Row, Base):
    """A console token handed out by the API and checked by nova-novncproxy.

    Only the token's hash is stored, so a database dump reveals no live token."""

    __tablename__ = "console_auth_tokens"
    __table_args__ = table_args(
        sa.UniqueConstraint("token_hash", name="uniq_console_auth_tokens0token_hash"),
        sa.Index("console_auth_tokens_instance_uuid_idx", "instance_uuid"),
        sa.Index("console_auth_tokens_host_expires_idx", "host", "expires"),
    )

    token_hash = orm.mapped_column(sa.String(255), nullable=False)
    console_type = orm.mapped_column(sa.String(255), nullable=False)
    host = orm.mapped_column(sa.String(255), nullable=False)
    port = orm.mapped_column(sa.Integer, nullable=False)
    internal_access_path = orm.mapped_column(sa.String(255))
    instance_uuid = orm.mapped_column(sa.ForeignKey("instances.uuid"), nullable=False)
    expires = orm.mapped_column(sa.Integer, nullable=False)
    access_url_base = orm.mapped_column(sa.String(255))


# --- the flat network (nova-network's role, without Neutron) ------------------

class Network(Row, Base):
    """A flat network from nova.conf: the addresses that instances get.

    nova_runtime.network.flat keeps the row in step with nova.conf; the label
    is unique among live rows so that two conductors creating it at once end
    up with one row."""

    __tablename__ = "networks"
    __table_args__ = table_args(
        sa.UniqueConstraint("uuid", name="uniq_networks0uuid"),
        sa.UniqueConstraint("label", "deleted", name="uniq_networks0label0deleted"),
    )

    uuid = orm.mapped_column(sa.String(36), nullable=False)
    label = orm.mapped_column(sa.String(255))
    cidr = orm.mapped_column(sa.String(43))
    netmask = orm.mapped_column(sa.String(39))
    broadcast = orm.mapped_column(sa.String(39))
    gateway = orm.mapped_column(sa.String(39))
    # The first address given to instances; those below it stay reserved.
    dhcp_start = orm.mapped_column(sa.String(39))
    bridge = orm.mapped_column(sa.String(255))
    bridge_interface = orm.mapped_column(sa.String(255))
    dns1 = orm.mapped_column(sa.String(39))
    dns2 = orm.mapped_column(sa.String(39))


class VirtualInterface(Row, Base):
    """An instance's network interface: its MAC address on a network."""

    __tablename__ = "virtual_interfaces"
    __table_args__ = table_args(
        sa.UniqueConstraint("address", "deleted", name="uniq_virtual_interfaces0address0deleted"),
        sa.UniqueConstraint("uuid", name="uniq_virtual_interfaces0uuid"),
        sa.Index("virtual_interfaces_instance_uuid_fkey", "instance_uuid"),
    )

    uuid = orm.mapped_column(sa.String(36), nullable=False)
    address = orm.mapped_column(sa.String(255), nullable=False)
    network_id = orm.mapped_column(sa.ForeignKey("networks.id"), nullable=False)
    instance_uuid = orm.mapped_column(sa.ForeignKey("instances.uuid"), nullable=False)


class FixedIp(Row, Base):
    """One address of a network, allocated to an instance or free."""

    __tablename__ = "fixed_ips"
    __table_args__ = table_args(
        sa.UniqueConstraint("address", "deleted", name="uniq_fixed_ips0address0deleted"),
        sa.Index("fixed_ips_instance_uuid_fk", "instance_uuid"),
        sa.Index("fixed_ips_network_id_allocated_idx", "network_id", "allocated"),
    )

    address = orm.mapped_column(sa.String(39), nullable=False)
    network_id = orm.mapped_column(sa.ForeignKey("networks.id"), nullable=False)
    instance_uuid = orm.mapped_column(sa.ForeignKey("instances.uuid"))
    virtual_interface_id = orm.mapped_column(sa.ForeignKey("virtual_interfaces.id"))
    allocated = orm.mapped_column(sa.Boolean, default=False)
    # There is no DHCP server: an address is leased (configured statically in
    # the guest) from its allocation until its release.
    leased = orm.mapped_column(sa.Boolean, default=False)
    reserved = orm.mapped_column(sa.Boolean, default=False)
    host = orm.mapped_column(sa.String(255))
