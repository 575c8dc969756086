"""``nova-bm-manage db sync|version``: the node database schema."""

from cliff import command

from nova_bm.cli import base
from nova_bm.cli import usage
from nova_bm.conf import CONF
from nova_bm.db import migration


def _database():
    """The node database's URL as it may be shown (password masked)."""
    return usage.mask_url(CONF.baremetal_database.connection)


class Sync(base.CommandMixin, command.Command):
    """Create or upgrade the node database schema to the newest revision."""

    def take_action(self, parsed_args):
        migration.upgrade()
        self.app.stdout.write('Node database at revision %s (%s).\n'
                              % (migration.version(), _database()))


class Version(base.CommandMixin, command.Command):
    """Print the node database's schema revision ("None": not synced)."""

    def take_action(self, parsed_args):
        self.app.stdout.write('%s\n' % migration.version())
