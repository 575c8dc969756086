"""``nova-bm-manage``: the operators' tool to enrol and manage nodes.

Built on cliff like OpenStack's own clients, so listings take
``-f table|json|yaml|csv|value``. It reads nova.conf the way Nova's tools
do (``--config-file``, default ``/etc/nova/nova.conf``), because the node
database is configured there, in ``[baremetal_database]``.

Exit status: 0 on success, 2 when input was refused (nothing written), 1
for failures at run time. Errors are one line on stderr.
"""

import logging
import sys

from cliff import app
from cliff import commandmanager
import pbr.version

from nova_bm.cli import db as db_commands
from nova_bm.cli import interface as interface_commands
from nova_bm.cli import node as node_commands
from nova_bm.cli import power as power_commands
from nova_bm.conf import CONF

COMMANDS = {
    'db sync': db_commands.Sync,
    'db version': db_commands.Version,
    'node create': node_commands.Create,
    'node list': node_commands.List,
    'node show': node_commands.Show,
    'node update': node_commands.Update,
    'node delete': node_commands.Delete,
    'node import': node_commands.Import,
    'node power status': power_commands.PowerStatus,
    'node power on': power_commands.PowerOn,
    'node power off': power_commands.PowerOff,
    'node power reboot': power_commands.Reboot,
    'node validate': power_commands.Validate,
    'interface add': interface_commands.Add,
    'interface list': interface_commands.List,
    'interface delete': interface_commands.Delete,
}

# A CLI should tell an operator at once that the database is down, not
# after oslo.db's default 10 tries 10 s apart (even one try sleeps 10 s
# before it gives up); 0 skips the start-up probe, so the first query fails
# at once. nova.conf may still say otherwise.
_CLI_DB_MAX_RETRIES = 0


def _version():
    try:
        return pbr.version.VersionInfo('nova-bm').version_string()
    except Exception:  # not installed: running from a source tree
        return 'unknown'


class NovaBMManage(app.App):

    CONSOLE_MESSAGE_FORMAT = '%(levelname)s: %(message)s'

    def __init__(self):
        manager = commandmanager.CommandManager('nova_bm.manage')
        for name, command_class in COMMANDS.items():
            manager.add_command(name, command_class)
        super().__init__(description=__doc__.splitlines()[0],
                         version=_version(), command_manager=manager,
                         deferred_help=True)
        self._config_loaded = False
        self._error = None

    def build_option_parser(self, description, version, argparse_kwargs=None):
        parser = super().build_option_parser(description, version,
                                             argparse_kwargs)
        parser.add_argument('--config-file', action='append', default=None,
                            metavar='PATH',
                            help='nova.conf to read (repeatable; default: '
                                 "Nova's, /etc/nova/nova.conf).")
        parser.add_argument('--config-dir', action='append', default=None,
                            metavar='DIR',
                            help='Directory of *.conf files to read too.')
        return parser

    def configure_logging(self):
        super().configure_logging()
        if self.options.verbose_level < 2:
            # alembic narrates every migration step at INFO.
            logging.getLogger('alembic').setLevel(logging.WARNING)

    def load_config(self):
        """Parse nova.conf once, before the first command runs."""
        if self._config_loaded:
            return
        CONF.set_default('max_retries', _CLI_DB_MAX_RETRIES,
                         group='baremetal_database')
        CONF([], project='nova',
             default_config_files=self.options.config_file,
             default_config_dirs=self.options.config_dir)
        self._config_loaded = True

    def clean_up(self, cmd, result, err):
        self._error = err

    def run(self, argv):
        result = super().run(argv)
        if self._error is not None:
            return getattr(self._error, 'exit_code', 1)
        return result


def main(argv=None):
    """Run one command; return the exit status (usage errors give 2)."""
    try:
        return NovaBMManage().run(sys.argv[1:] if argv is None else argv)
    except SystemExit as e:  # argparse's usage errors and --help
        return e.code


if __name__ == '__main__':
    sys.exit(main())
