"""nova-bm-manage as installed, run as an operator runs it: a subprocess.

These tests run the console script that pip installed, with a real nova.conf,
against a real database file, and read only its exit status and output.
"""

import json
import os
import shutil
import subprocess
import sys

import fixtures
import testtools

from tests import fleet as fleet_fixture
from tests import utils

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PASSWORD = 'Fn-secret-pw-1'


def _script():
    found = shutil.which('nova-bm-manage', path=os.path.dirname(
        sys.executable))
    return found or shutil.which('nova-bm-manage')


class ManageScriptTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.script = _script()
        self.assertIsNotNone(self.script, 'nova-bm-manage is not installed')
        self.state = self.useFixture(fixtures.TempDir()).path
        self.config = os.path.join(self.state, 'nova.conf')
        with open(self.config, 'w') as f:
            f.write('[DEFAULT]\nstate_path = %s\nhost = proxy-1\n'
                    % self.state)
        self.run_ok('db', 'sync')

    def run_manage(self, *args):
        result = subprocess.run(
            [self.script, '--config-file', self.config] + list(args),
            capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL)
        self.assertNotIn('Traceback', result.stdout + result.stderr)
        self.assertNotIn(PASSWORD, result.stdout + result.stderr)
        return result

    def run_ok(self, *args):
        result = self.run_manage(*args)
        self.assertEqual(0, result.returncode, result.stderr)
        return result.stdout

    def test_enrol_list_show_delete(self):
        self.run_ok('node', 'create', '--name', 'n1', '--host', 'proxy-1',
                    '--cpus', '4', '--memory-mb', '8192', '--local-gb', '50',
                    '--ipmi-address', '127.0.0.1', '--ipmi-port', '6300',
                    '--ipmi-username', 'admin', '--ipmi-password', PASSWORD,
                    '--mac', '52:54:00:00:10:01')
        listed = json.loads(self.run_ok('node', 'list', '-f', 'json'))
        self.assertEqual(['n1'], [n['Name'] for n in listed])
        shown = json.loads(self.run_ok('node', 'show', 'n1', '-f', 'json'))
        self.assertEqual('******', shown['ipmi_password'])
        refused = self.run_manage('node', 'create', '--name', 'n2',
                                  '--host', 'proxy-1', '--cpus', '4',
                                  '--memory-mb', '8192', '--local-gb', '50',
                                  '--ipmi-address', '127.0.0.1',
                                  '--ipmi-port', '70000',
                                  '--ipmi-username', 'admin',
                                  '--ipmi-password', PASSWORD)
        self.assertEqual(2, refused.returncode)
        self.assertEqual(
            "ERROR: ipmi_port: must be a port number from 1 to 65535, got "
            "'70000'\n", refused.stderr)
        self.run_ok('node', 'delete', 'n1')
        self.assertEqual([], json.loads(self.run_ok('node', 'list', '-f',
                                                    'json')))

    def test_import_sample_and_generated_files(self):
        out = self.run_ok('node', 'import',
                          os.path.join(ROOT, 'etc/nova-bm/nodes-sample.yaml'),
                          '--host', 'proxy-1')
        self.assertIn('Created 2 nodes and 2 ports', out)
        path = os.path.join(self.state, 'nodes.json')
        with open(path, 'w') as f:
            json.dump({'nodes': [utils.ironic_node(i, driver_info={
                'ipmi_address': '10.9.0.%d' % i, 'ipmi_username': 'admin',
                'ipmi_password': PASSWORD}) for i in range(1, 101)]}, f)
        out = self.run_ok('node', 'import', path, '--host', 'proxy-3')
        self.assertIn('Created 100 nodes and 100 ports', out)
        hosts = json.loads(self.run_ok('node', 'list', '--host', 'proxy-3',
                                       '-f', 'json'))
        self.assertEqual(100, len(hosts))

    def test_power_commands_against_fake_bmcs(self):
        fleet = self.useFixture(fleet_fixture.FleetFixture(
            5, password=PASSWORD))
        path = os.path.join(self.state, 'nodes.json')
        ports = fleet.ports + [fleet_fixture.unused_port()]
        with open(path, 'w') as f:
            json.dump({'nodes': [utils.ironic_node(i, driver_info={
                'ipmi_address': '127.0.0.1', 'ipmi_port': port,
                'ipmi_username': 'admin', 'ipmi_password': PASSWORD})
                for i, port in enumerate(ports)]}, f)
        self.run_ok('node', 'import', path, '--host', 'proxy-1')
        self.run_ok('node', 'power', 'on', 'node-2')
        self.assertEqual('on', fleet.fleet.state(fleet.ports[2])['power'])
        result = self.run_manage('node', 'power', 'status', '--all',
                                 '-f', 'json')
        self.assertEqual(1, result.returncode)
        states = {r['Name']: r['Power State']
                  for r in json.loads(result.stdout)}
        self.assertEqual(['off', 'off', 'on', 'off', 'off'],
                         [states['node-%d' % i] for i in range(5)])
        self.assertIn('unreachable', states['node-5'])
        self.assertIn('1 of the nodes failed.', result.stderr)
