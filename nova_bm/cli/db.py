"""``nova-bm-manage db sync|version``: the node database schema."""

from cliff import command

from nova_bm.cli import base
from nova_bm.db import migration


class Sync(base.CommandMixin, command.Command):
    """Create or upgrade the node database schema to the newest revision."""

    def take_action(self, parsed_args):
        migration.upgrade()
        self.app.stdout.write('Node database at revision %s.\n'
                              % migration.version())


class Version(base.CommandMixin, command.Command):
    """Print the node database's schema revision ("None": not synced)."""

    def take_action(self, parsed_args):
        self.app.stdout.write('%s\n' % migration.version())
