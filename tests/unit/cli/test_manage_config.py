"""nova-bm-manage and nova.conf: what it reads, what it refuses, what it names.

Issue 33 (operator review), finding 5: with no nova.conf, ``db sync`` made
an SQLite file beside the Python packages and said only "Node database at
revision …"; a bad option value came out as oslo.config's
``LocationInfo(…)``, or not at all when the command did not read the
option. And, from finding 10, Ironic's command and option names get a "did
you mean" that names nova-bm's.
"""

import io
import json
import logging
import os

import fixtures

from nova_bm.cmd import manage
from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from tests.unit.cli import base
from tests.unit.cli import test_manage

PASSWORD = 'Cfg-s3cret-pw9'
create_args = test_manage.create_args
# Commands that need the node database, one or more of each group.
DATABASE_COMMANDS = (
    ('db', 'sync'), ('db', 'version'), ('node', 'list'),
    ('node', 'show', 'node-1'), tuple(create_args(1)),
    ('node', 'update', 'node-1', '--cpus', '4'), ('node', 'delete', 'x'),
    ('node', 'power', 'status', '--all'), ('interface', 'list'),
    ('interface', 'add', 'node-1', '52:54:00:00:00:09'),
)


def _default_database():
    """Where the node database goes when nothing says otherwise: under
    Nova's default state_path, the directory Nova is installed in."""
    return os.path.join(CONF.pybasedir, 'nova_bm.sqlite')


class ConfigTestCase(base.ManageTestCase):

    def run_manage(self, *args):
        """Run one command exactly as given (no --config-file added)."""
        stdout, stderr = io.StringIO(), io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', stdout))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', stderr))
        db_api.dispose()
        root = logging.getLogger()
        handlers = list(root.handlers)
        try:
            code = manage.main(list(args))
        finally:
            root.handlers[:] = handlers
        return code, stdout.getvalue(), stderr.getvalue()

    def assertOneLine(self, code, expected, result):
        status, out, err = result
        self.assertEqual(code, status, 'stdout: %r\nstderr: %r' % (out, err))
        lines = err.strip().splitlines()
        self.assertEqual(1, len(lines), err)
        self.assertNotIn('Traceback', out + err)
        self.assertNotIn(PASSWORD, out + err)
        for text in ([expected] if isinstance(expected, str) else expected):
            self.assertIn(text, lines[0])
        return lines[0]

    def assertNotCreated(self, path, existed):
        if not existed:
            self.assertFalse(os.path.exists(path), path)


class NoConfigurationTestCase(ConfigTestCase):
    """No nova.conf where oslo.config looks, and no --config-file."""

    def setUp(self):
        super().setUp()
        self.home = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.EnvironmentVariable('HOME', self.home))
        # Nothing is found, whatever this machine has in /etc.
        self.useFixture(fixtures.MonkeyPatch(
            'oslo_config.cfg.find_config_files', lambda *a, **k: []))
        self.useFixture(fixtures.MonkeyPatch(
            'oslo_config.cfg.find_config_dirs', lambda *a, **k: []))
        self.default_db = _default_database()
        self.existed = os.path.exists(self.default_db)

    def test_every_database_command_refuses_naming_the_paths(self):
        for args in DATABASE_COMMANDS:
            line = self.assertOneLine(2, [
                'no nova.conf found',
                os.path.join(self.home, '.nova', 'nova.conf'),
                os.path.join(self.home, 'nova.conf'),
                '/etc/nova/nova.conf', '/etc/nova.conf',
                'give --config-file PATH'], self.run_manage(*args))
            self.assertNotIn('site-packages', line, args)
            self.assertNotCreated(self.default_db, self.existed)
            # -v too (with stevedore's DEBUG lines): nothing is created.
            code, out, err = self.run_manage('-v', *args)
            self.assertEqual(2, code)
            self.assertIn('no nova.conf found',
                          err.strip().splitlines()[-1])
            self.assertNotIn('Node database:', err)
        self.assertNotCreated(self.default_db, self.existed)

    def test_help_and_complete_still_work(self):
        for args, expected in (
                (('--help',), 'usage: nova-bm-manage'),
                (('help',), 'node create'),
                (('help', 'node', 'create'), '--ipmi-password'),
                (('node', 'create', '--help'), '--ipmi-password'),
                (('db', 'sync', '--help'), 'usage: nova-bm-manage db sync'),
                (('complete',), '_nova_bm_manage')):
            code, out, err = self.run_manage(*args)
            self.assertEqual(0, code, '%s: %s' % (args, err))
            self.assertIn(expected, out, args)
            self.assertNotIn('nova.conf found', out + err)

    def test_nova_conf_in_the_home_directory_is_read(self):
        # oslo.config's own search, as Nova's tools use it.
        self.useFixture(fixtures.MonkeyPatch(
            'oslo_config.cfg.find_config_files',
            lambda *a, **k: [os.path.join(self.home, '.nova', 'nova.conf')]))
        os.mkdir(os.path.join(self.home, '.nova'))
        with open(os.path.join(self.home, '.nova', 'nova.conf'), 'w') as f:
            f.write('[DEFAULT]\nstate_path = %s\n' % self.state)
        code, out, err = self.run_manage('-v', 'db', 'sync')
        self.assertEqual(0, code, err)
        self.assertIn('Node database: sqlite:///%s/nova_bm.sqlite\n'
                      % self.state, err)

    def test_connection_from_the_environment_is_used(self):
        url = 'sqlite:///%s/env.sqlite' % self.state
        self.useFixture(fixtures.EnvironmentVariable(
            'OS_BAREMETAL_DATABASE__CONNECTION', url))
        code, out, err = self.run_manage('db', 'sync')
        self.assertEqual(0, code, err)
        self.assertIn(url, out)
        self.assertTrue(os.path.exists(os.path.join(self.state,
                                                    'env.sqlite')))


class DatabaseNamedTestCase(ConfigTestCase):
    """Every command names its node database at -v, and every error about
    the database names it (a password in the URL masked)."""

    def test_verbose_names_the_database(self):
        url = 'sqlite:///%s/nova_bm.sqlite' % self.state
        self.assertManage('db', 'sync')
        for args in (('db', 'version'), ('node', 'list'),
                     ('node', 'show', 'nope'), ('interface', 'list'),
                     ('db', 'sync')):
            code, out, err = self.manage('-v', *args)
            self.assertIn('Node database: %s\n' % url, err, args)
            code, out, err = self.manage(*args)
            self.assertNotIn('Node database:', err, args)

    def test_sync_says_which_database(self):
        out = self.assertManage('db', 'sync')
        version = self.assertManage('db', 'version').strip()
        self.assertEqual('Node database at revision %s (sqlite:///%s/'
                         'nova_bm.sqlite).\n' % (version, self.state), out)

    def test_no_schema_names_the_database(self):
        for args in (('node', 'list'), ('interface', 'list'),
                     ('node', 'show', 'node-1')):
            line = self.assertOneLine(1, (), self.manage(*args))
            self.assertEqual(
                'ERROR: The node database sqlite:///%s/nova_bm.sqlite has '
                'no schema: run "nova-bm-manage db sync".' % self.state,
                line)

    def test_password_in_the_url_is_masked(self):
        config = self.write_config(
            '[baremetal_database]\n'
            'connection = mysql+pymysql://nova:%s@127.0.0.1:1/nova_bm\n'
            % PASSWORD, name='dead.conf')
        shown = 'mysql+pymysql://nova:******@127.0.0.1:1/nova_bm'
        code, out, err = self.manage('-v', 'node', 'list',
                                     config_file=config)
        self.assertEqual(1, code, err)
        self.assertIn('Node database: %s\n' % shown, err)
        self.assertIn('The node database is unavailable (%s): ' % shown,
                      err)
        self.assertNotIn(PASSWORD, out + err)


class BadValuesTestCase(ConfigTestCase):
    """A bad value in nova.conf: no command runs, and the line names the
    option, the value as written and the file."""

    def test_a_bad_value_refuses_every_command(self):
        config = self.write_config(
            '[DEFAULT]\nstate_path = %s\n[baremetal]\n'
            'power_sync_interval = soon\n' % self.state, name='bad.conf')
        for args in DATABASE_COMMANDS:
            line = self.assertOneLine(
                2, "Configuration error: [baremetal] power_sync_interval = "
                   "'soon' in %s: " % config,
                self.manage(*args, config_file=config))
            self.assertNotIn('LocationInfo', line)
        # Not even db sync ran.
        self.assertFalse(os.path.exists(os.path.join(self.state,
                                                     'nova_bm.sqlite')))

    def test_each_group_read_is_checked(self):
        for section, option, value in (
                ('baremetal_database', 'max_retries', 'x'),
                ('baremetal', 'ipmi_timeout', 'slow'),
                ('DEFAULT', 'report_interval', 'often'),
                ('oslo_messaging_rabbit', 'heartbeat_timeout_threshold',
                 'soon')):
            config = self.write_config(
                '[DEFAULT]\nstate_path = %s\n[%s]\n%s = %s\n'
                % (self.state, section, option, value), name='bad.conf')
            line = self.assertOneLine(
                2, "[%s] %s = '%s' in %s: " % (section, option, value,
                                                config),
                self.manage('node', 'list', config_file=config))
            self.assertNotIn('LocationInfo', line)

    def test_a_secret_option_is_masked(self):
        config = self.write_config(
            '[baremetal_database]\n'
            'connection = mysql+pymysql://nova:%s@127.0.0.1:1/nova_bm\n'
            'max_pool_size = lots\n' % PASSWORD, name='bad.conf')
        self.assertOneLine(2, "[baremetal_database] max_pool_size = 'lots'",
                           self.manage('node', 'list', config_file=config))

    def test_database_beside_the_python_packages_is_refused(self):
        default_db = _default_database()
        existed = os.path.exists(default_db)
        no_state_path = self.write_config('[DEFAULT]\nhost = proxy-1\n',
                                          name='no-state.conf')
        for args in (('db', 'sync'), ('node', 'list')):
            self.assertOneLine(2, [
                'the node database would be sqlite:///%s' % default_db,
                'inside the Python installation', '[DEFAULT] state_path',
                no_state_path], self.manage(*args, config_file=no_state_path))
        self.assertNotCreated(default_db, existed)
        explicit = self.write_config(
            '[baremetal_database]\nconnection = sqlite:///%s/x.sqlite\n'
            % CONF.pybasedir, name='explicit.conf')
        self.assertOneLine(2, 'as [baremetal_database] connection says',
                           self.manage('db', 'sync', config_file=explicit))
        self.assertFalse(os.path.exists(os.path.join(CONF.pybasedir,
                                                     'x.sqlite')))


class IronicNamesTestCase(ConfigTestCase):
    """Finding 10: Ironic's names get a one-line "did you mean"."""

    def setUp(self):
        super().setUp()
        self.assertManage('db', 'sync')
        self.assertManage(*create_args(1))
        self.before = json.loads(self.assertManage('node', 'show', 'node-1',
                                                   '-f', 'json'))

    def refused(self, expected, *args):
        line = self.assertOneLine(2, expected, self.manage(*args))
        self.assertIn('--help', line)
        self.assertEqual(self.before, json.loads(self.assertManage(
            'node', 'show', 'node-1', '-f', 'json')))
        return line

    def test_ironic_commands(self):
        self.refused(['"node set node-1" is not a command',
                      'did you mean "node update"?',
                      '"--property cpus=8" is "--cpus 8" here'],
                     'node', 'set', 'node-1', '--property', 'cpus=8')
        self.refused(['is not a command', 'did you mean "node update"?'],
                     'node', 'unset', 'node-1', '--property', 'cpus')
        self.refused('did you mean "node update NODE --maintenance"?',
                     'node', 'maintenance', 'set', 'node-1')
        self.refused('did you mean "interface add NODE MAC"?',
                     'port', 'create', '--node', 'node-1', '--address',
                     '52:54:00:00:00:09')
        self.refused('did you mean "node list" (without "baremetal")?',
                     'baremetal', 'node', 'list')
        self.refused('did you mean "node list"?', 'node', 'lsit')
        self.refused('the node commands are: clean, create, delete,', 'node',
                     'frob')
        # "node power on" is a command: it runs (and finds no such node).
        code, out, err = self.manage('node', 'power', 'on', 'nope')
        self.assertEqual(1, code)
        self.assertIn('Node nope could not be found', err)

    def test_ironic_options(self):
        update = ('node', 'update', 'node-1')
        for args, expected in (
                (('--property', 'cpus=8'),
                 '"--property cpus=8" is "--cpus 8" here'),
                (('--property=memory_mb=1024',),
                 '"--property memory_mb=1024" is "--memory-mb 1024" here'),
                (('--property', 'local_gb=50', '--property', 'cpu_arch=arm'),
                 ['"--local-gb 50"', '"--cpu-arch arm"']),
                (('--property', 'capabilities=boot_mode:uefi'),
                 '"--property capabilities=...boot_mode:uefi..." is '
                 '"--boot-mode uefi" here'),
                (('--property', 'capabilities=secure_boot:true'),
                 '--property is --cpus, --memory-mb, --local-gb, --cpu-arch'),
                (('--driver-info', 'ipmi_address=10.0.0.9'),
                 '"--driver-info ipmi_address=10.0.0.9" is '
                 '"--ipmi-address 10.0.0.9" here'),
                (('--driver-info', 'ipmi_username=root'),
                 '"--ipmi-username root"'),
                (('--driver-info', 'ipmi_password=%s' % PASSWORD),
                 '"--driver-info ipmi_password=******" is '
                 '"--ipmi-password ******" here'),
                (('--driver', 'ipmi'),
                 'nova-bm drives every node over IPMI: leave out --driver'),
                (('--provision-state', 'manageable'),
                 'provision states change with "node manage", not with '
                 '--provision-state'),
                (('--provision-state', 'available'), '"node provide"'),
                (('--resource_class', 'gold'),
                 'did you mean --resource-class?'),
                (('--resourceclass', 'gold'),
                 'did you mean --resource-class?'),
                (('--memory_mb', '8'), 'did you mean --memory-mb?'),
                (('--maintenance-reason', 'fan'), 'did you mean --reason?'),
                (('--conductor-group', 'rack1'),
                 'did you mean --partition-key?')):
            line = self.refused(['unrecognized arguments'] + (
                [expected] if isinstance(expected, str) else expected),
                *update, *args)
            self.assertNotIn('\n', line)
        # Interfaces: Ironic's port options.
        self.refused(['did you mean --pxe or --no-pxe?',
                      '"--local-link-connection switch_id=aa:bb:cc:dd:ee:ff"'
                      ' is "--switch-id aa:bb:cc:dd:ee:ff" here'],
                     'interface', 'add', 'node-1', '52:54:00:00:00:09',
                     '--pxe-enabled', 'true', '--local-link-connection',
                     'switch_id=aa:bb:cc:dd:ee:ff')
        # Missing options are named, and what was meant for them.
        self.refused(['"--property cpus=8" is "--cpus 8" here'],
                     *create_args(2, **{'--cpus': None}), '--property',
                     'cpus=8')
