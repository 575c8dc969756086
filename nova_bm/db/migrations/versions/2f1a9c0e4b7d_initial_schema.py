"""Initial schema: bare-metal nodes and their interfaces.

Revision ID: 2f1a9c0e4b7d
Revises:
Create Date: 2026-11-20
"""

from alembic import op
from oslo_db.sqlalchemy import types as db_types
import sqlalchemy as sa

revision = '2f1a9c0e4b7d'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'bm_nodes',
        sa.Column('created_at', sa.DateTime(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('uuid', sa.String(36), nullable=False),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('service_host', sa.String(255), nullable=False),
        sa.Column('cpus', sa.Integer(), nullable=False),
        sa.Column('memory_mb', sa.Integer(), nullable=False),
        sa.Column('local_gb', sa.Integer(), nullable=False),
        sa.Column('cpu_arch', sa.String(32), nullable=False),
        sa.Column('resource_class', sa.String(80), nullable=False),
        sa.Column('traits', db_types.JsonEncodedList(), nullable=False),
        sa.Column('ipmi_address', sa.String(255), nullable=False),
        sa.Column('ipmi_port', sa.Integer(), nullable=False),
        sa.Column('ipmi_username', sa.String(255), nullable=False),
        sa.Column('ipmi_password', sa.String(255), nullable=False),
        sa.Column('instance_uuid', sa.String(36), nullable=True),
        sa.Column('power_state', sa.String(16), nullable=True),
        sa.Column('provision_state', sa.String(16), nullable=False),
        sa.Column('maintenance', sa.Boolean(), nullable=False),
        sa.Column('maintenance_reason', sa.Text(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.UniqueConstraint('uuid', name='uniq_bm_nodes0uuid'),
        sa.UniqueConstraint('name', name='uniq_bm_nodes0name'),
        sa.UniqueConstraint('instance_uuid',
                            name='uniq_bm_nodes0instance_uuid'),
        sa.UniqueConstraint('ipmi_address', 'ipmi_port',
                            name='uniq_bm_nodes0ipmi_address0ipmi_port'),
        mysql_engine='InnoDB',
        mysql_charset='utf8mb4',
    )
    op.create_index('bm_nodes_service_host_idx', 'bm_nodes',
                    ['service_host'])
    op.create_table(
        'bm_interfaces',
        sa.Column('created_at', sa.DateTime(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('node_id', sa.Integer(),
                  sa.ForeignKey('bm_nodes.id', ondelete='CASCADE',
                                name='bm_interfaces_node_id_fkey'),
                  nullable=False),
        sa.Column('address', sa.String(17), nullable=False),
        sa.Column('vif_id', sa.String(36), nullable=True),
        sa.UniqueConstraint('address', name='uniq_bm_interfaces0address'),
        mysql_engine='InnoDB',
        mysql_charset='utf8mb4',
    )
    op.create_index('bm_interfaces_node_id_idx', 'bm_interfaces',
                    ['node_id'])
