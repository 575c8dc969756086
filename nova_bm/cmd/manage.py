"""``nova-bm-manage``: the operators' tool to enrol and manage nodes.

Built on cliff like OpenStack's own clients, so listings take
``-f table|json|yaml|csv|value``. It reads nova.conf the way Nova's tools
do (``--config-file``, default ``/etc/nova/nova.conf``), because the node
database is configured there, in ``[baremetal_database]``. Without a
nova.conf it refuses every command that needs the node database, rather
than use (and create) one beside the Python packages; with a bad value in
nova.conf it refuses every such command, naming the option, the value and
the file. ``-v`` names the node database a command uses.

Exit status: 0 on success, 2 when input was refused (nothing written), 1
for failures at run time. Errors are one line on stderr, usage errors
included (:mod:`nova_bm.cli.usage`), and never show a password typed on
the command line.
"""

import glob
import logging
import os
import sys

from cliff import app
from cliff import commandmanager
from cliff import complete as cliff_complete
from cliff import help as cliff_help
from oslo_config import cfg
import pbr.version

from nova_bm.cli import db as db_commands
from nova_bm.cli import interface as interface_commands
from nova_bm.cli import inventory as inventory_commands
from nova_bm.cli import lifecycle as lifecycle_commands
from nova_bm.cli import node as node_commands
from nova_bm.cli import power as power_commands
from nova_bm.cli import usage
from nova_bm.common import safe_text
from nova_bm.conf import CONF
from nova_bm.conf import check as conf_check
from nova_bm.db import api as db_api
from nova_bm.db import migration
from nova_bm import exception

COMMANDS = {
    'db sync': db_commands.Sync,
    'db version': db_commands.Version,
    'node create': node_commands.Create,
    'node list': node_commands.List,
    'node show': node_commands.Show,
    'node update': node_commands.Update,
    'node delete': node_commands.Delete,
    'node import': node_commands.Import,
    'node manage': lifecycle_commands.Manage,
    'node provide': lifecycle_commands.Provide,
    'node clean': lifecycle_commands.Clean,
    'node inspect': lifecycle_commands.Inspect,
    'node inventory': inventory_commands.Inventory,
    'node power status': power_commands.PowerStatus,
    'node power on': power_commands.PowerOn,
    'node power off': power_commands.PowerOff,
    'node power reboot': power_commands.Reboot,
    'node validate': power_commands.Validate,
    'interface add': interface_commands.Add,
    'interface update': interface_commands.Update,
    'interface list': interface_commands.List,
    'interface delete': interface_commands.Delete,
}

# A CLI should tell an operator at once that the database is down, not
# after oslo.db's default 10 tries 10 s apart (even one try sleeps 10 s
# before it gives up); 0 skips the start-up probe, so the first query fails
# at once. nova.conf may still say otherwise.
_CLI_DB_MAX_RETRIES = 0


# Where oslo.config looks for nova.conf when no --config-file is given
# (oslo_config.cfg.find_config_files, for project "nova").
def _config_directories():
    directories = [os.path.expanduser('~/.nova'), os.path.expanduser('~'),
                   '/etc/nova', '/etc']
    for variable in ('SNAP_COMMON', 'SNAP'):
        if os.environ.get(variable):
            directories.append(os.path.join(os.environ[variable], 'etc',
                                            'nova'))
    return directories


def _version():
    try:
        return pbr.version.VersionInfo('nova-bm').version_string()
    except Exception:  # not installed: running from a source tree
        return 'unknown'


class _HelpCommand(usage.OneLineUsageErrors, cliff_help.HelpCommand):
    """print detailed help for another command"""


class _CompleteCommand(usage.OneLineUsageErrors,
                       cliff_complete.CompleteCommand):
    """print bash completion command"""


def _undecodable_file(conf):
    """The first configuration file that is not UTF-8, or a general name."""
    paths = list(conf.default_config_files or ())
    for directory in conf.default_config_dirs or ():
        paths += sorted(glob.glob(os.path.join(directory, '*.conf')))
    for path in paths:
        try:
            with open(path, 'rb') as f:
                f.read().decode('utf-8')
        except UnicodeDecodeError:
            return safe_text.escape(path)
        except OSError:
            continue
    return 'a configuration file'


class NovaBMManage(app.App):

    NAME = 'nova-bm-manage'
    CONSOLE_MESSAGE_FORMAT = '%(levelname)s: %(message)s'

    def __init__(self):
        # The values of password options typed on this command line.
        self.secrets = set()
        manager = commandmanager.CommandManager('nova_bm.manage')
        for name, command_class in COMMANDS.items():
            manager.add_command(name, command_class)
        super().__init__(description=__doc__.splitlines()[0],
                         version=_version(), command_manager=manager,
                         deferred_help=True)
        # cliff's own commands, with one-line usage errors too.
        manager.add_command('help', _HelpCommand)
        manager.add_command('complete', _CompleteCommand)
        self._config_loaded = False
        self._error = None
        # The node database's URL as it may be shown (password masked).
        self.database = None

    def build_option_parser(self, description, version, argparse_kwargs=None):
        argparse_kwargs = dict(argparse_kwargs or {}, prog=self.NAME)
        parser = super().build_option_parser(description, version,
                                             argparse_kwargs)
        parser.add_argument('--config-file', action='append', default=None,
                            metavar='PATH',
                            help='nova.conf to read (repeatable; default: '
                                 "Nova's, /etc/nova/nova.conf).")
        parser.add_argument('--config-dir', action='append', default=None,
                            metavar='DIR',
                            help='Directory of *.conf files to read too.')
        return usage.install(parser, self)

    def configure_logging(self):
        super().configure_logging()
        for handler in logging.getLogger().handlers:
            # One redacting filter a handler (an earlier run's, in the same
            # process, would be one more pass over every record).
            for old in [f for f in handler.filters
                        if isinstance(f, usage.RedactingFilter)]:
                handler.removeFilter(old)
            handler.addFilter(usage.RedactingFilter(self.secrets))
            if not self.options.debug:
                handler.addFilter(usage.NO_TRACEBACKS)
        if self.options.verbose_level < 2:
            # alembic narrates every migration step at INFO.
            logging.getLogger('alembic').setLevel(logging.WARNING)
        if not self.options.debug:
            # oslo.db logs "DBAPIError exception wrapped." with the
            # traceback of every database error it does not recognise;
            # the command reports the error itself, in one line.
            logging.getLogger('oslo_db.sqlalchemy.exc_filters').setLevel(
                logging.CRITICAL)

    def load_config(self):
        """Parse nova.conf once, before the first command runs.

        Refuses (ConfigInvalid, exit 2) when there is no nova.conf to read,
        when an option of the groups nova-bm-manage reads has a bad value,
        and when the node database would be beside the Python packages.
        """
        if self._config_loaded:
            return
        CONF.set_default('max_retries', _CLI_DB_MAX_RETRIES,
                         group='baremetal_database')
        try:
            CONF([], project='nova', prog=self.NAME,
                 default_config_files=self.options.config_file,
                 default_config_dirs=self.options.config_dir)
        except UnicodeDecodeError as e:
            # oslo.config names no file; find the one that is not text.
            reason = '%s: is not UTF-8 text (%s)' % (
                _undecodable_file(CONF), e.reason)
            raise exception.ConfigInvalid(reason=reason) from None
        self._refuse_missing_config()
        conf_check.check_options(CONF, conf_check.MANAGE_GROUPS)
        url = CONF.baremetal_database.connection
        self.secrets.update(usage.url_secrets(url))
        self.database = usage.mask_url(url)
        db_api.check_connection_url()
        conf_check.check_node_database_location(CONF, self.database)
        if self.options.verbose_level >= 2:
            self.stderr.write('Node database: %s\n' % self.database)
        self._config_loaded = True

    def _refuse_missing_config(self):
        """Refuse to guess where the node database is.

        With no nova.conf, every option has its default, and the default
        node database is an SQLite file under Nova's default state_path:
        beside the Python packages. A command would create it there and
        report success.
        """
        if self.options.config_file or self.options.config_dir:
            return  # the operator's choice, checked by oslo.config
        if CONF.default_config_files or any(
                glob.glob(os.path.join(directory, '*.conf'))
                for directory in CONF.default_config_dirs or ()):
            return
        for name, group in (('connection', 'baremetal_database'),
                            ('state_path', None)):
            location = CONF.get_location(name, group)
            if location and location.location == cfg.Locations.environment:
                return  # OS_BAREMETAL_DATABASE__CONNECTION and the like
        looked = ', '.join(safe_text.escape(os.path.join(d, 'nova.conf'))
                           for d in _config_directories())
        raise exception.ConfigInvalid(
            reason='no nova.conf found (looked for %s, and for %s.conf and '
                   'nova.conf.d beside each): give --config-file PATH, the '
                   'nova.conf whose [baremetal_database] connection names '
                   'the node database' % (looked, self.NAME))

    def prepare_to_run_command(self, cmd):
        super().prepare_to_run_command(cmd)
        take_action = cmd.take_action

        def take_action_naming_the_database(parsed_args):
            try:
                return take_action(parsed_args)
            except exception.DatabaseNotReady as e:
                raise self._not_ready(e) from None
            except exception.DatabaseUnavailable as e:
                raise exception.DatabaseUnavailable(
                    message='The node database is unavailable (%s): %s'
                    % (self.database, e.kwargs.get('reason'))) from None
        cmd.take_action = take_action_naming_the_database

    def _not_ready(self, error):
        """DatabaseNotReady naming the database and what its schema is."""
        alembic = logging.getLogger('alembic')
        level = alembic.level
        alembic.setLevel(logging.WARNING)  # "Context impl SQLiteImpl."
        try:
            current, newest = migration.version(), migration.head()
        except Exception:  # the reason the query failed is what counts
            current = newest = ''
        finally:
            alembic.setLevel(level)
        if current is None:
            problem = 'has no schema'
        elif current and current != newest:
            problem = ('is at schema revision %s, not %s'
                       % (current, newest))
        else:
            problem = 'has no schema or an old one (%s)' % (
                error.kwargs.get('reason'))
        return exception.DatabaseNotReady(
            message='The node database %s %s: run "nova-bm-manage db sync".'
            % (self.database, problem))

    def clean_up(self, cmd, result, err):
        self._error = err

    def run_subcommand(self, argv):
        try:
            self.command_manager.find_command(argv)
        except ValueError:
            words = usage.command_words(argv)
            problem = ('"%s" is not a command' % words if words
                       else 'give a command first')
            self.stderr.write(usage.one_line(
                self.NAME, problem, self.secrets, self._hints(argv)) + '\n')
            return 2
        return super().run_subcommand(argv)

    def _hints(self, argv):
        """A "did you mean" for a command that is not one: the command, then
        the options it would not take (Ironic's ``node set --property``).
        """
        hint, command = usage.command_hint(argv, self._command_names())
        hints = [hint] if hint else []
        if command:
            try:
                factory, name, _ = self.command_manager.find_command(
                    command.split())
                parser = factory(self, self.options).get_parser(name)
                hints += usage.option_hints(argv, parser, self.secrets)
            except Exception:  # noqa: S110 (the command hint stands alone)
                pass
        return hints

    def _command_names(self):
        return [name.replace('_', ' ') for name, _ in self.command_manager
                if name not in ('help', 'complete')]

    def run(self, argv):
        self.secrets.update(usage.secrets_in(argv))
        result = super().run(argv)
        if self._error is not None:
            return getattr(self._error, 'exit_code', 1)
        return result


def main(argv=None):
    """Run one command; return the exit status (usage errors give 2)."""
    try:
        return NovaBMManage().run(sys.argv[1:] if argv is None else argv)
    except SystemExit as e:  # argparse's usage errors and --help
        return 0 if e.code is None else e.code


if __name__ == '__main__':
    sys.exit(main())
