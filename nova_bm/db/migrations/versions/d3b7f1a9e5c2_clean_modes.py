"""Clean modes and the proof of each node's last cleaning.

Revision ID: d3b7f1a9e5c2
Revises: b8e2d4f6a1c3
Create Date: 2026-12-05
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = 'd3b7f1a9e5c2'
down_revision = 'b8e2d4f6a1c3'
branch_labels = None
depends_on = None


def _text():
    return sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mysql')


def upgrade():
    # Nodes keep [baremetal] automated_clean (None) until an operator
    # gives one its own mode; none was cleaned with a proof yet.
    op.add_column('bm_nodes', sa.Column('clean_mode', sa.String(16),
                                        nullable=True))
    op.add_column('bm_nodes', sa.Column('clean_request', sa.String(16),
                                        nullable=True))
    op.add_column('bm_nodes', sa.Column('last_cleaning', _text(),
                                        nullable=True))
    op.add_column('bm_deploy_jobs', sa.Column('clean_mode', sa.String(16),
                                              nullable=True))
    op.add_column('bm_deploy_jobs', sa.Column('erase_report', _text(),
                                              nullable=True))
    # A "clean failed" node an operator took out of maintenance was to be
    # cleaned again; from now on "cleaning" says so ("clean failed" waits
    # for "nova-bm-manage node clean").
    nodes = sa.table('bm_nodes', sa.column('provision_state', sa.String(16)),
                     sa.column('maintenance', sa.Boolean))
    op.execute(nodes.update().where(
        nodes.c.provision_state == 'clean failed',
        nodes.c.maintenance == sa.false()).values(
            provision_state='cleaning'))
