"""The commands ``nova-bm-demo --keep`` prints run as printed.

The demo runs in tox's virtualenv, whose ``bin`` the user's shell does not
have on its PATH: a bare ``nova-bm-manage`` was "command not found". Here
the lines are built by the code the demo prints them with
(:mod:`nova_bm.demo.commands`), read back from the printed text, and run
the way a user pastes them: ``/bin/sh -c LINE``, from another directory,
with this virtualenv's ``bin`` taken off PATH, against a node database
and a fake BMC set up as the demo sets them up.
"""

import os
import shlex
import shutil
import subprocess
from unittest import mock

import fixtures
import yaml

from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm.db import migration
from nova_bm.demo import commands
from nova_bm.enrolment import node_file
from tests import base
from tests import fleet as fleet_fixture

HOST = 'bm-proxy'
NODE = 'bm-00'
# The help option of each program the demo may print (ipmitool's --help
# is an error; -h prints its usage).
HELP = {'ipmitool': '-h'}


def user_environment():
    """os.environ as the user's shell has it: without the virtualenv's
    ``bin`` that tox (or stestr's caller) put on PATH."""
    env = dict(os.environ)
    env.pop('VIRTUAL_ENV', None)
    env['PATH'] = os.pathsep.join(
        entry for entry in env.get('PATH', '').split(os.pathsep)
        if entry and os.path.abspath(entry) != commands.bin_dir())
    return env


def resolve(program, env):
    """The file ``program`` (argv[0] of a printed line) runs, or None."""
    if os.path.isabs(program):
        return program if os.access(program, os.X_OK) else None
    if os.sep in program:
        return None  # relative to a directory the user is not in
    return shutil.which(program, path=env['PATH'])


class PrintedCommandsTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        # The demo's state directory (a space in it, to check quoting)
        # and a directory the user runs the commands from.
        root = self.useFixture(fixtures.TempDir()).path
        self.state = os.path.join(root, 'demo state')
        os.mkdir(self.state)
        self.elsewhere = os.path.join(root, 'elsewhere')
        os.mkdir(self.elsewhere)
        self.env = user_environment()
        # A password unlike any word of the printed lines, as the demo's.
        self.fleet = self.useFixture(fleet_fixture.FleetFixture(
            1, password='Zq7-demo-secret'))
        self.port = self.fleet.ports[0]
        self.serial_log = os.path.join(self.state, 'serial.log')
        with open(self.serial_log, 'w') as f:
            f.write('nova-bm-lab: image demo-1 booted from disk\n')

    def enrol(self):
        """A synced node database holding one node for the fake BMC,
        enrolled as the demo enrols it (a node file)."""
        connection = 'sqlite:///%s' % os.path.join(self.state,
                                                   'nova_bm.sqlite')
        self.conf.config(connection=connection, group='baremetal_database')
        db_api.dispose()
        migration.upgrade()
        path = os.path.join(self.state, 'nodes.yaml')
        with open(path, 'w') as f:
            yaml.safe_dump({'nodes': [{
                'name': NODE, 'driver': 'ipmi',
                'driver_info': {'ipmi_address': '127.0.0.1',
                                'ipmi_port': self.port,
                                'ipmi_username': self.fleet.username,
                                'ipmi_password': self.fleet.password},
                'properties': {'cpus': 1, 'memory_mb': 512, 'local_gb': 1},
                'ports': [{'address': '52:54:00:de:00:00'}]}]}, f)
        db_api.create_nodes(node_file.load(path, default_host=HOST))
        db_api.dispose()
        return connection

    def printed(self):
        """The text the demo prints, and the command lines in it."""
        conf, secret = commands.write_files(
            self.state, HOST, CONF.baremetal_database.connection,
            self.fleet.password)
        lines = commands.commands(conf, NODE, self.port, self.fleet.username,
                                  secret, self.serial_log)
        text = commands.message(lines)
        self.assertEqual(lines, commands.command_lines(text))
        return text, lines

    def run_line(self, line, timeout=120):
        return subprocess.run(['/bin/sh', '-c', line], cwd=self.elsewhere,
                              env=self.env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def test_every_printed_program_exists_and_answers_help(self):
        _text, lines = self.printed()
        programs = [shlex.split(line)[0] for line in lines]
        self.assertEqual(commands.manage_argv()[0], programs[0])
        for program in programs:
            path = resolve(program, self.env)
            self.assertIsNotNone(path, '%s: not found from the user\'s '
                                       'shell' % program)
            result = subprocess.run(
                [path, HELP.get(os.path.basename(path), '--help')],
                cwd=self.elsewhere, env=self.env, capture_output=True,
                timeout=120, stdin=subprocess.DEVNULL)
            self.assertEqual(0, result.returncode,
                             '%s --help: %s' % (program, result.stderr))

    def test_nova_bm_manage_lines_run_as_printed(self):
        self.enrol()
        _text, lines = self.printed()
        manage = [line for line in lines
                  if shlex.split(line)[0] == commands.manage_argv()[0]]
        self.assertEqual(2, len(manage), lines)
        for line in manage:
            result = self.run_line(line)
            self.assertEqual(0, result.returncode,
                             '%s: %s' % (line, result.stderr[-2000:]))
            self.assertIn(NODE, result.stdout)
            self.assertIn(HOST, result.stdout)
        # The node's IPMI password is masked, and not on the command line.
        self.assertNotIn(self.fleet.password, ' '.join(lines))

    def test_ipmitool_line_runs_as_printed(self):
        # As every test that looks at the fake BMCs with ipmitool: missing,
        # it fails (run_tests.sh installs it), never skips.
        self.assertIsNotNone(shutil.which('ipmitool'),
                             'ipmitool is not installed (Debian package '
                             'ipmitool; run_tests.sh installs it)')
        self.enrol()
        text, lines = self.printed()
        ipmi = [line for line in lines if 'ipmitool' in shlex.split(line)[0]]
        self.assertEqual(1, len(ipmi), lines)
        result = self.run_line(ipmi[0], timeout=60)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual('Chassis Power is off', result.stdout.strip())
        # The password is read from the file, never printed.
        self.assertNotIn(self.fleet.password, text)
        self.assertEqual(0o600, os.stat(os.path.join(
            self.state, commands.BMC_LOGIN_FILE)).st_mode & 0o777)

    def test_without_ipmitool_the_text_says_how_to_get_it(self):
        real_which = shutil.which

        def which(name, *args, **kwargs):
            return None if name == 'ipmitool' else real_which(name, *args,
                                                              **kwargs)

        with mock.patch.object(shutil, 'which', which):
            text, lines = self.printed()
        self.assertFalse([line for line in lines if 'ipmitool' in line])
        self.assertIn('Install ipmitool', text)
        # That sentence is not taken for a command.
        self.assertEqual(lines, commands.command_lines(text))

    def test_without_machines_no_console_line(self):
        conf, secret = commands.write_files(self.state, HOST, 'sqlite://',
                                            'pw')
        lines = commands.commands(conf, NODE, self.port, 'admin', secret)
        self.assertFalse([line for line in lines if 'tail' in line])
        self.assertIn('tail -f', commands.commands(
            conf, NODE, self.port, 'admin', secret, self.serial_log)[-1])


class ProgramNamesTestCase(base.TestCase):

    def test_manage_is_the_copy_next_to_this_python(self):
        argv = commands.manage_argv()
        self.assertEqual(
            [os.path.join(commands.bin_dir(), commands.MANAGE)], argv)
        self.assertTrue(os.path.isabs(argv[0]))

    def test_manage_elsewhere_is_named_by_absolute_path(self):
        with mock.patch.object(os.path, 'isfile', return_value=False), \
                mock.patch.object(shutil, 'which',
                                  return_value='bin/nova-bm-manage'):
            argv = commands.manage_argv()
        self.assertEqual([os.path.abspath('bin/nova-bm-manage')], argv)

    def test_manage_nowhere_is_this_python_running_its_module(self):
        with mock.patch.object(os.path, 'isfile', return_value=False), \
                mock.patch.object(shutil, 'which', return_value=None):
            argv = commands.manage_argv()
        self.assertEqual(['-m', 'nova_bm.cmd.manage'], argv[1:])
        self.assertTrue(os.path.isabs(argv[0]))

    def test_tool_only_in_the_virtualenv_is_named_by_path(self):
        own = os.path.join(commands.bin_dir(), 'sometool')
        with mock.patch.object(shutil, 'which', return_value=own):
            self.assertEqual(own, commands.tool('sometool'))
        with mock.patch.object(shutil, 'which',
                               return_value='/usr/bin/sometool'):
            self.assertEqual('sometool', commands.tool('sometool'))
        with mock.patch.object(shutil, 'which', return_value=None):
            self.assertIsNone(commands.tool('sometool'))

