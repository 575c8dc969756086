"""Schema migrations of the node database (alembic), for ``db sync``."""

import os

from alembic import command as alembic_command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from alembic import script as alembic_script

from nova_bm.db import api

_MIGRATIONS = os.path.join(os.path.dirname(__file__), 'migrations')


def _config(connection=None):
    config = alembic_config.Config()
    config.set_main_option('script_location', _MIGRATIONS)
    config.attributes['connection'] = connection
    return config


def head():
    """The newest revision this code knows."""
    scripts = alembic_script.ScriptDirectory.from_config(_config())
    return scripts.get_current_head()


def upgrade(revision='head'):
    """Bring the node database to ``revision``; safe to run again."""
    with api.engine().begin() as connection:
        alembic_command.upgrade(_config(connection), revision)


def version():
    """The database's current revision, or None when it has no schema."""
    with api.engine().connect() as connection:
        context = alembic_migration.MigrationContext.configure(connection)
        return context.get_current_revision()
