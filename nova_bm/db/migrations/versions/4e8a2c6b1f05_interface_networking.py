"""Interfaces: what Neutron needs to bind a port to a node's NIC.

``pxe_enabled`` (the NIC the node boots from the network with: existing
interfaces were the ones nodes booted with, so they say true),
``physical_network`` (the Neutron physical network the NIC is cabled to)
and ``local_link_connection`` (the switch port: ``switch_id``, ``port_id``,
``switch_info``), as Ironic's ports have them.

Revision ID: 4e8a2c6b1f05
Revises: 9d4b2e7f1a36
Create Date: 2026-11-22
"""

from alembic import op
from oslo_db.sqlalchemy import types as db_types
import sqlalchemy as sa

revision = '4e8a2c6b1f05'
down_revision = '9d4b2e7f1a36'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('bm_interfaces', sa.Column(
        'pxe_enabled', sa.Boolean(), nullable=False,
        server_default=sa.true()))
    op.add_column('bm_interfaces', sa.Column(
        'physical_network', sa.String(64), nullable=True))
    op.add_column('bm_interfaces', sa.Column(
        'local_link_connection', db_types.JsonEncodedDict(), nullable=True))
