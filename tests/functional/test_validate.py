"""``nova-bm-manage node validate`` as installed, a subprocess: a fake BMC,
deploy ramdisk files and a deploy HTTP server on the loopback."""

import json
import os
import subprocess
import time

import fixtures
import testtools

from tests.functional import test_manage
from tests import fleet as fleet_fixture
from tests.unit.cli import test_validate as unit

PASSWORD = 'Fn-validate-pw-2'


class ValidateScriptTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.script = test_manage._script()
        self.assertIsNotNone(self.script, 'nova-bm-manage is not installed')
        self.state = self.useFixture(fixtures.TempDir()).path
        self.config = os.path.join(self.state, 'nova.conf')
        self.configure('http://127.0.0.1:1')
        self.run_ok('db', 'sync')
        self.fleet = self.useFixture(fleet_fixture.FleetFixture(
            2, password=PASSWORD))
        root = unit.deploy_root(self)
        self.base_url = 'http://127.0.0.1:%d' % unit.serve_directory(
            self, root)
        unit.write_boot_script(root, self.base_url)
        for name in ('deploy.kernel', 'deploy.initramfs'):
            with open(os.path.join(self.state, name), 'w') as f:
                f.write(name)

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

    def configure(self, deploy_http_url):
        with open(self.config, 'w') as f:
            f.write('[DEFAULT]\nstate_path = %(state)s\nhost = proxy-1\n'
                    '[baremetal]\nipmi_timeout = 2.0\n'
                    'deploy_kernel = %(state)s/deploy.kernel\n'
                    'deploy_ramdisk = %(state)s/deploy.initramfs\n'
                    'deploy_http_url = %(url)s\n'
                    % {'state': self.state, 'url': deploy_http_url})

    def create(self, name, *args, bmc=0):
        self.run_ok('node', 'create', '--name', name, '--host', 'proxy-1',
                    '--cpus', '4', '--memory-mb', '8192', '--local-gb', '50',
                    '--ipmi-address', '127.0.0.1',
                    '--ipmi-port', str(self.fleet.ports[bmc]),
                    '--ipmi-username', 'admin', '--ipmi-password', PASSWORD,
                    '--deploy-interface', 'image', *args)

    def validate(self, *args):
        result = self.run_manage('node', 'validate', *args, '-f', 'json')
        rows = {(r['Name'], r['Interface']): (r['Result'], r['Reason'])
                for r in json.loads(result.stdout)}
        return result, rows

    def test_ready_node_and_node_without_nics(self):
        self.configure(self.base_url)
        self.create('ready', '--mac', '52:54:00:00:20:01')
        self.create('bare', bmc=1)
        result, rows = self.validate('ready')
        self.assertEqual(0, result.returncode, result.stdout + result.stderr)
        self.assertEqual({True}, {r for r, _ in rows.values()})
        self.assertIn('%s serves boot.ipxe' % self.base_url,
                      rows[('ready', 'deploy')][1])
        result, rows = self.validate('--all')
        self.assertEqual(1, result.returncode)
        self.assertIn('1 of the nodes failed.', result.stderr)
        self.assertIs(False, rows[('bare', 'deploy')][0])
        self.assertIs(False, rows[('bare', 'network')][0])
        self.assertIs(True, rows[('bare', 'power')][0])
        self.assertEqual(8, len(rows))

    def test_silent_deploy_server_ends_the_command_in_time(self):
        port = unit.silent_port(self)
        self.configure('http://127.0.0.1:%d' % port)
        self.create('ready', '--mac', '52:54:00:00:20:01')
        start = time.monotonic()
        result, rows = self.validate('ready')
        elapsed = time.monotonic() - start
        self.assertEqual(1, result.returncode)
        self.assertIn('no answer within', rows[('ready', 'deploy')][1])
        # Start-up (seconds on a loaded machine), one HTTP timeout (3 s);
        # the BMC answers meanwhile.
        self.assertLess(elapsed, 30)

