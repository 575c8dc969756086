"""Deploy jobs hand their token out once, at the ramdisk's lookup.

The token is no longer written into the node's iPXE script: the job
starts without one (``token_hash`` NULL), and the first lookup by the
ramdisk after the proxy powered the node on (``booted_at``) gets it,
bound to the address it came from (``holder_address``). The image is
served to the token holder only (the image key and its hash are gone);
``image_served_at`` records that the holder read all of it, and
``suspicion`` why the job cannot be trusted (a second lookup, a token
shown from elsewhere, a report too early to be real).

A job is the state of a ramdisk running now, whose token the earlier
release put on its kernel command line: such a ramdisk cannot speak the
new protocol. The table is made anew; nodes left ``deploying`` are
released and cleaned at the next start, as after any restart, and nodes
left ``cleaning`` are cleaned again.

Revision ID: c5f7a3e9d2b4
Revises: 4e8a2c6b1f05
Create Date: 2026-12-05
"""

from alembic import op
import sqlalchemy as sa

revision = 'c5f7a3e9d2b4'
down_revision = '4e8a2c6b1f05'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table('bm_deploy_jobs')
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
        sa.Column('token_hash', sa.String(64), nullable=True),
        sa.Column('holder_address', sa.String(64), nullable=True),
        sa.Column('booted_at', sa.DateTime(), nullable=True),
        sa.Column('looked_up_at', sa.DateTime(), nullable=True),
        sa.Column('image_file', sa.String(255), nullable=True),
        sa.Column('image_size', sa.BigInteger(), nullable=True),
        sa.Column('image_sha256', sa.String(64), nullable=True),
        sa.Column('image_served_at', sa.DateTime(), nullable=True),
        sa.Column('root_device', sa.String(255), nullable=True),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('result_sha256', sa.String(64), nullable=True),
        sa.Column('result_device', sa.String(255), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('suspicion', sa.Text(), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(), nullable=True),
        sa.UniqueConstraint('node_id', name='uniq_bm_deploy_jobs0node_id'),
        sa.UniqueConstraint('token_hash',
                            name='uniq_bm_deploy_jobs0token_hash'),
        # The flows know a job by its id: SQLite must never reuse one.
        sqlite_autoincrement=True,
        mysql_engine='InnoDB',
        mysql_charset='utf8mb4',
    )
