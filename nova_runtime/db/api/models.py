"""The API database: what is global to the deployment, above the cells.

Rows here are deleted for real (no soft delete), as upstream's API database does.
"""

import sqlalchemy as sa
from sqlalchemy import orm

from nova_runtime.db.base import table_args, IdMixin, LongText, TimestampMixin


class Base(orm.DeclarativeBase):
    pass


# --- cells v2 -----------------------------------------------------------------

class CellMapping(IdMixin, TimestampMixin, Base):
    """A cell: its database and its message queue."""

    __tablename__ = "cell_mappings"
    __table_args__ = table_args(sa.UniqueConstraint("uuid", name="uniq_cell_mappings0uuid"))

    uuid = orm.mapped_column(sa.String(36), nullable=False)
    name = orm.mapped_column(sa.String(255))
    transport_url = orm.mapped_column(sa.Text, nullable=False)
    database_connection = orm.mapped_column(sa.Text, nullable=False)
    disabled = orm.mapped_column(sa.Boolean, nullable=False, default=False)


class HostMapping(IdMixin, TimestampMixin, Base):
    """Which cell a compute host belongs to."""

    __tablename__ = "host_mappings"
    __table_args__ = table_args(sa.UniqueConstraint("host", name="uniq_host_mappings0host"))

    cell_id = orm.mapped_column(sa.ForeignKey("cell_mappings.id"), nullable=False, index=True)
    host = orm.mapped_column(sa.String(255), nullable=False)


class InstanceMapping(IdMixin, TimestampMixin, Base):
    """Which cell an instance lives in; cell_id is None while it is being scheduled."""

    __tablename__ = "instance_mappings"
    __table_args__ = table_args(
        sa.UniqueConstraint("instance_uuid", name="uniq_instance_mappings0instance_uuid"),
        sa.Index("instance_mappings_project_id_idx", "project_id"),
    )

    instance_uuid = orm.mapped_column(sa.String(36), nullable=False)
    cell_id = orm.mapped_column(sa.ForeignKey("cell_mappings.id"), index=True)
    project_id = orm.mapped_column(sa.String(255), nullable=False)
    user_id = orm.mapped_column(sa.String(255))
    queued_for_delete = orm.mapped_column(sa.Boolean, default=False)


# --- what servers are made of -------------------------------------------------

class Flavor(IdMixin, TimestampMixin, Base):
    __tablename__ = "flavors"
    __table_args__ = table_args(
        sa.UniqueConstraint("flavorid", name="uniq_flavors0flavorid"),
        sa.UniqueConstraint("name", name="uniq_flavors0name"),
    )

    flavorid = orm.mapped_column(sa.String(255), nullable=False)
    name = orm.mapped_column(sa.String(255), nullable=False)
    memory_mb = orm.mapped_column(sa.Integer, nullable=False)
    vcpus = orm.mapped_column(sa.Integer, nullable=False)
    root_gb = orm.mapped_column(sa.Integer, nullable=False, default=0)
    ephemeral_gb = orm.mapped_column(sa.Integer, nullable=False, default=0)
    swap = orm.mapped_column(sa.Integer, nullable=False, default=0)
    rxtx_factor = orm.mapped_column(sa.Float, default=1.0)
    vcpu_weight = orm.mapped_column(sa.Integer)
    disabled = orm.mapped_column(sa.Boolean, default=False)
    is_public = orm.mapped_column(sa.Boolean, default=True)
    description = orm.mapped_column(sa.Text)


class FlavorExtraSpec(IdMixin, TimestampMixin, Base):
    __tablename__ = "flavor_extra_specs"
    __table_args__ = table_args(
        sa.UniqueConstraint("flavor_id", "key", name="uniq_flavor_extra_specs0flavor_id0key"),
    )

    flavor_id = orm.mapped_column(sa.ForeignKey("flavors.id", ondelete="CASCADE"), nullable=False)
    key = orm.mapped_column(sa.String(255), nullable=False)
    value = orm.mapped_column(sa.String(255))


class FlavorProject(IdMixin, TimestampMixin, Base):
    """A private flavor's access list."""

    __tablename__ = "flavor_projects"
    __table_args__ = table_args(
        sa.UniqueConstraint("flavor_id", "project_id",
                            name="uniq_flavor_projects0flavor_id0project_id"),
    )

    flavor_id = orm.mapped_column(sa.ForeignKey("flavors.id", ondelete="CASCADE"), nullable=False)
    project_id = orm.mapped_column(sa.String(255), nullable=False)


class KeyPair(IdMixin, TimestampMixin, Base):
    __tablename__ = "key_pairs"
    __table_args__ = table_args(
        sa.UniqueConstraint("user_id", "name", name="uniq_key_pairs0user_id0name"))

    name = orm.mapped_column(sa.String(255), nullable=False)
    user_id = orm.mapped_column(sa.String(255), nullable=False)
    fingerprint = orm.mapped_column(sa.String(255))
    public_key = orm.mapped_column(sa.Text)
    type = orm.mapped_column(sa.Enum("ssh", "x509", name="keypair_types"),
                             nullable=False, server_default="ssh")


# --- requests on their way to a cell ------------------------------------------

class RequestSpec(IdMixin, TimestampMixin, Base):
    """What the scheduler was asked for an instance (JSON), kept for moves and reschedules."""

    __tablename__ = "request_specs"
    __table_args__ = table_args(
        sa.UniqueConstraint("instance_uuid", name="uniq_request_specs0instance_uuid"),
    )

    instance_uuid = orm.mapped_column(sa.String(36), nullable=False)
    spec = orm.mapped_column(LongText, nullable=False)


class BuildRequest(IdMixin, TimestampMixin, Base):
    """An instance accepted by the API and not yet placed in a cell (JSON)."""

    __tablename__ = "build_requests"
    __table_args__ = table_args(
        sa.UniqueConstraint("instance_uuid", name="uniq_build_requests0instance_uuid"),
        sa.Index("build_requests_project_id_idx", "project_id"),
    )

    instance_uuid = orm.mapped_column(sa.String(36), nullable=False)
    project_id = orm.mapped_column(sa.String(255), nullable=False)
    instance = orm.mapped_column(LongText)
    block_device_mappings = orm.mapped_column(LongText)
    tags = orm.mapped_column(sa.Text)


# --- server groups ------------------------------------------------------------

class InstanceGroup(IdMixin, TimestampMixin, Base):
    __tablename__ = "instance_groups"
    __table_args__ = table_args(sa.UniqueConstraint("uuid", name="uniq_instance_groups0uuid"))

    uuid = orm.mapped_column(sa.String(36), nullable=False)
    name = orm.mapped_column(sa.String(255))
    user_id = orm.mapped_column(sa.String(255))
    project_id = orm.mapped_column(sa.String(255))


class InstanceGroupPolicy(IdMixin, TimestampMixin, Base):
    """affinity, anti-affinity, soft-affinity or soft-anti-affinity, with rules (JSON)."""

    __tablename__ = "instance_group_policy"
    __table_args__ = table_args()

    group_id = orm.mapped_column(sa.ForeignKey("instance_groups.id", ondelete="CASCADE"),
                                 nullable=False, index=True)
    policy = orm.mapped_column(sa.String(255))
    rules = orm.mapped_column(sa.Text)


class InstanceGroupMember(IdMixin, TimestampMixin, Base):
    __tablename__ = "instance_group_member"
    __table_args__ = table_args(
        sa.UniqueConstraint("group_id", "instance_uuid",
                            name="uniq_instance_group_member0group_id0instance_uuid"),
    )

    group_id = orm.mapped_column(sa.ForeignKey("instance_groups.id", ondelete="CASCADE"),
                                 nullable=False)
    instance_uuid = orm.mapped_column(sa.String(36), nullable=False, index=True)


# --- aggregates and availability zones ----------------------------------------

class Aggregate(IdMixin, TimestampMixin, Base):
    __tablename__ = "aggregates"
    __table_args__ = table_args(
        sa.UniqueConstraint("uuid", name="uniq_aggregates0uuid"),
        sa.UniqueConstraint("name", name="uniq_aggregates0name"),
    )

    uuid = orm.mapped_column(sa.String(36), nullable=False)
    name = orm.mapped_column(sa.String(255), nullable=False)


class AggregateHost(IdMixin, TimestampMixin, Base):
    __tablename__ = "aggregate_hosts"
    __table_args__ = table_args(
        sa.UniqueConstraint("host", "aggregate_id", name="uniq_aggregate_hosts0host0aggregate_id"),
    )

    aggregate_id = orm.mapped_column(sa.ForeignKey("aggregates.id", ondelete="CASCADE"),
                                     nullable=False)
    host = orm.mapped_column(sa.String(255), nullable=False)


class AggregateMetadata(IdMixin, TimestampMixin, Base):
    """Key/value pairs; the key availability_zone makes the aggregate an AZ."""

    __tablename__ = "aggregate_metadata"
    __table_args__ = table_args(
        sa.UniqueConstraint("aggregate_id", "key", name="uniq_aggregate_metadata0aggregate_id0key"),
        sa.Index("aggregate_metadata_key_idx", "key"),
    )

    aggregate_id = orm.mapped_column(sa.ForeignKey("aggregates.id", ondelete="CASCADE"),
                                     nullable=False)
    key = orm.mapped_column(sa.String(255), nullable=False)
    value = orm.mapped_column(sa.String(255), nullable=False)


# --- quotas -------------------------------------------------------------------

class Quota(IdMixin, TimestampMixin, Base):
    """A project's limit on a resource; absent rows fall back to the default quota class."""

    __tablename__ = "quotas"
    __table_args__ = table_args(
        sa.UniqueConstraint("project_id", "resource", name="uniq_quotas0project_id0resource"),
    )

    project_id = orm.mapped_column(sa.String(255), nullable=False)
    resource = orm.mapped_column(sa.String(255), nullable=False)
    hard_limit = orm.mapped_column(sa.Integer)


class ProjectUserQuota(IdMixin, TimestampMixin, Base):
    __tablename__ = "project_user_quotas"
    __table_args__ = table_args(
        sa.UniqueConstraint("user_id", "project_id", "resource",
                            name="uniq_project_user_quotas0user_id0project_id0resource"),
    )

    project_id = orm.mapped_column(sa.String(255), nullable=False)
    user_id = orm.mapped_column(sa.String(255), nullable=False)
    resource = orm.mapped_column(sa.String(255), nullable=False)
    hard_limit = orm.mapped_column(sa.Integer)


class QuotaClass(IdMixin, TimestampMixin, Base):
    """Limits of a quota class; the class 'default' holds the deployment's defaults."""

    __tablename__ = "quota_classes"
    __table_args__ = table_args(
        sa.UniqueConstraint("class_name", "resource", name="uniq_quota_classes0class_name0resource"),
    )

    class_name = orm.mapped_column(sa.String(255), nullable=False)
    resource = orm.mapped_column(sa.String(255), nullable=False)
    hard_limit = orm.mapped_column(sa.Integer)
