"""Scale-out: node partition keys and the table of proxies.

Revision ID: 7c3e5a1d9b20
Revises: 2f1a9c0e4b7d
Create Date: 2026-11-21
"""

from alembic import op
import sqlalchemy as sa

revision = '7c3e5a1d9b20'
down_revision = '2f1a9c0e4b7d'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('bm_nodes', sa.Column('partition_key', sa.String(255),
                                        nullable=True))
    op.create_index('bm_nodes_partition_key_idx', 'bm_nodes',
                    ['partition_key'])
    op.create_table(
        'bm_proxies',
        sa.Column('created_at', sa.DateTime(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('host', sa.String(255), nullable=False),
        sa.Column('partition_key', sa.String(255), nullable=True),
        sa.Column('ownership', sa.String(16), nullable=False),
        sa.Column('seen_at', sa.DateTime(), nullable=False),
        sa.UniqueConstraint('host', name='uniq_bm_proxies0host'),
        mysql_engine='InnoDB',
        mysql_charset='utf8mb4',
    )
