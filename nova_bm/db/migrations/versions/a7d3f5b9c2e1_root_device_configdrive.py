"""Root device hints on nodes; the chosen disk and the config drive on
deploy jobs.

Revision ID: a7d3f5b9c2e1
Revises: e4a9c1f7b3d8
Create Date: 2026-12-05
"""

from alembic import op
from oslo_db.sqlalchemy import types as db_types
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

#: Up to 64 disks' facts as JSON: more than MySQL's TEXT (64 KiB) holds.
_DISKS_TYPE = sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mysql')

revision = 'a7d3f5b9c2e1'
down_revision = 'e4a9c1f7b3d8'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('bm_nodes', sa.Column(
        'root_device_hints', db_types.JsonEncodedDict(), nullable=True))
    for column in (sa.Column('root_size', sa.BigInteger, nullable=True),
                   sa.Column('disks', _DISKS_TYPE, nullable=True),
                   sa.Column('configdrive_file', sa.String(255),
                             nullable=True),
                   sa.Column('configdrive_size', sa.BigInteger,
                             nullable=True),
                   sa.Column('configdrive_sha256', sa.String(64),
                             nullable=True),
                   sa.Column('result_configdrive_sha256', sa.String(64),
                             nullable=True)):
        op.add_column('bm_deploy_jobs', column)
