"""Deploy: a node's deploy interface and the jobs of its deploy ramdisk.

Existing nodes get ``deploy_interface = netboot``, what they did before
deploys existed, so an upgrade changes nothing under a running cloud;
nodes enrolled afterwards get ``[baremetal] default_deploy_interface``.

Revision ID: 9d4b2e7f1a36
Revises: 7c3e5a1d9b20
Create Date: 2026-11-21
"""

from alembic import op
import sqlalchemy as sa

revision = '9d4b2e7f1a36'
down_revision = '7c3e5a1d9b20'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('bm_nodes', sa.Column('deploy_interface', sa.String(16),
                                        nullable=False,
                                        server_default='netboot'))
    op.create_table(
        'bm_deploy_jobs',
        sa.Column('created_at', sa.DateTime(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('node_id', sa.Integer(),
                  sa.ForeignKey('bm_nodes.id', ondelete='CASCADE',
                                name='bm_deploy_jobs_node_id_fkey'),
                  nullable=False),
        sa.Column('mode', sa.String(16), nullable=False),
        sa.Column('instance_uuid', sa.String(36), nullable=True),
        sa.Column('token_hash', sa.String(64), nullable=False),
        sa.Column('image_key_hash', sa.String(64), nullable=True),
        sa.Column('image_file', sa.String(255), nullable=True),
        sa.Column('image_size', sa.BigInteger(), nullable=True),
        sa.Column('image_sha256', sa.String(64), nullable=True),
        sa.Column('root_device', sa.String(255), nullable=True),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('result_sha256', sa.String(64), nullable=True),
        sa.Column('result_device', sa.String(255), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(), nullable=True),
        sa.UniqueConstraint('node_id', name='uniq_bm_deploy_jobs0node_id'),
        sa.UniqueConstraint('token_hash',
                            name='uniq_bm_deploy_jobs0token_hash'),
        sa.UniqueConstraint('image_key_hash',
                            name='uniq_bm_deploy_jobs0image_key_hash'),
        mysql_engine='InnoDB',
        mysql_charset='utf8mb4',
    )
