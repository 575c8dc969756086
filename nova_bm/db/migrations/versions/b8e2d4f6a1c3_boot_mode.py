"""The boot mode of nodes (UEFI or BIOS).

Revision ID: b8e2d4f6a1c3
Revises: a7d3f5b9c2e1
Create Date: 2026-12-05
"""

import json

from alembic import op
import sqlalchemy as sa

revision = 'b8e2d4f6a1c3'
down_revision = 'a7d3f5b9c2e1'
branch_labels = None
depends_on = None

_UEFI_TRAIT = 'COMPUTE_FIRMWARE_UEFI'
_BOOT_MODE_TRAITS = (_UEFI_TRAIT, 'COMPUTE_FIRMWARE_BIOS')


def upgrade():
    # Every node enrolled so far was deployed on the legacy path (no EFI
    # flag, a BIOS drive number to boot from): it stays so...
    op.add_column('bm_nodes', sa.Column(
        'boot_mode', sa.String(8), nullable=False, server_default='bios'))
    # ... unless its operator marked it UEFI with the standard trait, the
    # one way there was: the trait becomes the boot mode, which reports it
    # from now on (a trait given by hand could contradict the mode).
    nodes = sa.table('bm_nodes', sa.column('id', sa.Integer),
                     sa.column('traits', sa.Text),
                     sa.column('boot_mode', sa.String(8)))
    connection = op.get_bind()
    for node_id, text in connection.execute(
            sa.select(nodes.c.id, nodes.c.traits).where(
                nodes.c.traits.like('%COMPUTE_FIRMWARE_%'))):
        traits = json.loads(text or '[]')
        kept = [t for t in traits if t not in _BOOT_MODE_TRAITS]
        if kept == traits:
            continue
        values = {'traits': json.dumps(kept)}
        if _UEFI_TRAIT in traits:
            values['boot_mode'] = 'uefi'
        connection.execute(nodes.update().where(nodes.c.id == node_id)
                           .values(**values))
