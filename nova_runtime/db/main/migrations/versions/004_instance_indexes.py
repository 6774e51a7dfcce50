"""Indexes that keep a boot and a page of servers flat as the instances grow

- instances_project_id_deleted_usage_idx (project_id, deleted, user_id,
  vcpus, memory_mb, uuid) replaces instances_project_id_deleted_idx, a prefix
  of it: the quota count of every boot (objects.quotas._instance_totals:
  count, vcpus and memory_mb of a project's live instances, its user's
  apart, without the uuids of build requests) reads the index alone instead
  of one row per instance of the project.
- instances_deleted_created_at_uuid_idx (deleted, created_at, uuid): GET
  /servers and /servers/detail read the live instances in their default
  order (created_at, then uuid, descending) from the index, the first page
  and a page after a marker alike, instead of sorting the whole table for
  every page (upstream Nova has instances_deleted_created_at_idx).

Revision ID: main_004
Revises: main_003
Create Date: 2026-12-06 17:00:00.000000
"""

from alembic import op

revision = 'main_004'
down_revision = 'main_003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.create_index('instances_project_id_deleted_usage_idx',
                              ['project_id', 'deleted', 'user_id', 'vcpus', 'memory_mb', 'uuid'],
                              unique=False)
        batch_op.drop_index('instances_project_id_deleted_idx')
        batch_op.create_index('instances_deleted_created_at_uuid_idx',
                              ['deleted', 'created_at', 'uuid'], unique=False)
