"""The boot mode of nodes (UEFI or BIOS).

Revision ID: b8e2d4f6a1c3
Revises: a7d3f5b9c2e1
Create Date: 2026-12-05
"""

from alembic import op
import sqlalchemy as sa

revision = 'b8e2d4f6a1c3'
down_revision = 'a7d3f5b9c2e1'
branch_labels = None
depends_on = None


def upgrade():
    # Every node enrolled so far was deployed on the legacy path (no EFI
    # flag, a BIOS drive number to boot from): it stays so.
    op.add_column('bm_nodes', sa.Column(
        'boot_mode', sa.String(8), nullable=False, server_default='bios'))
