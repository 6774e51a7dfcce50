"""Server tags

Revision ID: main_003
Revises: main_002
Create Date: 2026-12-06 09:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

revision = 'main_003'
down_revision = 'main_002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('tags',
    sa.Column('resource_id', sa.String(length=36), nullable=False),
    sa.Column('tag', sa.String(length=80), nullable=False),
    sa.PrimaryKeyConstraint('resource_id', 'tag'),
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    with op.batch_alter_table('tags', schema=None) as batch_op:
        batch_op.create_index('tags_tag_idx', ['tag'], unique=False)
