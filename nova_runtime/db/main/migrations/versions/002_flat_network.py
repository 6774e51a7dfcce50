"""The flat network: virtual interfaces, leases and the network's addressing

Revision ID: main_002
Revises: main_001
Create Date: 2026-11-30 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

revision = 'main_002'
down_revision = 'main_001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('virtual_interfaces',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('network_id', sa.Integer(), nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('deleted', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['instance_uuid'], ['instances.uuid'], ),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('address', 'deleted', name='uniq_virtual_interfaces0address0deleted'),
    sa.UniqueConstraint('uuid', name='uniq_virtual_interfaces0uuid'),
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    with op.batch_alter_table('virtual_interfaces', schema=None) as batch_op:
        batch_op.create_index('virtual_interfaces_instance_uuid_fkey', ['instance_uuid'],
                              unique=False)

    with op.batch_alter_table('fixed_ips', schema=None) as batch_op:
        batch_op.add_column(sa.Column('virtual_interface_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('leased', sa.Boolean(), nullable=True))
        batch_op.create_foreign_key('fixed_ips_virtual_interface_id_fkey', 'virtual_interfaces',
                                    ['virtual_interface_id'], ['id'])

    with op.batch_alter_table('networks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('netmask', sa.String(length=39), nullable=True))
        batch_op.add_column(sa.Column('broadcast', sa.String(length=39), nullable=True))
        batch_op.add_column(sa.Column('dhcp_start', sa.String(length=39), nullable=True))
        batch_op.add_column(sa.Column('bridge_interface', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('dns2', sa.String(length=39), nullable=True))
        batch_op.create_unique_constraint('uniq_networks0label0deleted', ['label', 'deleted'])
