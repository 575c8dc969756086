"""Inspection: the hardware a node's deploy ramdisk read, and the record
of its last inspection.

Revision ID: f6c2a8d4e1b9
Revises: d3b7f1a9e5c2
Create Date: 2026-12-05
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = 'f6c2a8d4e1b9'
down_revision = 'd3b7f1a9e5c2'
branch_labels = None
depends_on = None


def _text():
    return sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mysql')


def upgrade():
    # No node was inspected yet: every one reads "not inspected".
    op.add_column('bm_nodes', sa.Column('last_inspection', _text(),
                                        nullable=True))
    op.add_column('bm_deploy_jobs', sa.Column('system_uuid', sa.String(36),
                                              nullable=True))
    op.add_column('bm_deploy_jobs', sa.Column('inventory', _text(),
                                              nullable=True))
    op.create_index('bm_deploy_jobs_system_uuid_idx', 'bm_deploy_jobs',
                    ['system_uuid'])
    # Its own table: the resource cycle's bulk query of every node never
    # reads the inventories (tens of KiB each).
    op.create_table(
        'bm_inventories',
        sa.Column('created_at', sa.DateTime, nullable=True),
        sa.Column('updated_at', sa.DateTime, nullable=True),
        sa.Column('node_id', sa.Integer,
                  sa.ForeignKey('bm_nodes.id', ondelete='CASCADE',
                                name='bm_inventories_node_id_fkey'),
                  primary_key=True, autoincrement=False),
        sa.Column('inventory', _text(), nullable=False),
        mysql_engine='InnoDB', mysql_charset='utf8mb4')
