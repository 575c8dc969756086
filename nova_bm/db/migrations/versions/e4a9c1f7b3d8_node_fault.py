"""A node's fault: what keeps it from service, in plain sight.

Revision ID: e4a9c1f7b3d8
Revises: c5f7a3e9d2b4
Create Date: 2026-12-05
"""

from alembic import op
import sqlalchemy as sa

revision = 'e4a9c1f7b3d8'
down_revision = 'c5f7a3e9d2b4'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('bm_nodes', sa.Column('fault', sa.String(32),
                                        nullable=True))
