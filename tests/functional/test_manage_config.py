"""nova-bm-manage with no nova.conf, run as an operator runs it.

Issue 33, finding 5: with no /etc/nova/nova.conf and no --config-file,
``db sync`` made ``site-packages/nova_bm.sqlite`` and reported success. Here
the real command (this source tree, in a process of its own, with oslo.config
looking where it always looks) must refuse and name where it looked, create
nothing, and work once a nova.conf is where oslo.config looks.
"""

import os
import subprocess
import sys

import fixtures
import nova
import testtools

from tests import utils

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SECRET = 'Fn-cfg-s3cret-5'
# Where the node database would go with no nova.conf: Nova's default
# state_path, the directory Nova is installed in.
DEFAULT_DB = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(nova.__file__))), 'nova_bm.sqlite')


class NoConfigurationTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        for path in ('/etc/nova/nova.conf', '/etc/nova.conf',
                     '/etc/nova/nova-bm-manage.conf',
                     '/etc/nova-bm-manage.conf', '/etc/nova/nova.conf.d',
                     '/etc/nova.conf.d'):
            if os.path.exists(path):
                # Under CI a machine that cannot run the test fails it,
                # never skips it (as for the databases).
                utils.missing(self, '%s exists on this machine: the refusal '
                                    'without configuration cannot be shown'
                              % path)
        self.home = self.useFixture(fixtures.TempDir()).path
        self.existed = os.path.exists(DEFAULT_DB)

    def run_manage(self, *args):
        env = {name: value for name, value in os.environ.items()
               if not name.startswith('OS_')}
        env.update(HOME=self.home, PYTHONPATH=ROOT)
        result = subprocess.run(
            [sys.executable, '-m', 'nova_bm.cmd.manage'] + list(args),
            capture_output=True, text=True, timeout=120, env=env,
            cwd=self.home, stdin=subprocess.DEVNULL)
        self.assertNotIn('Traceback', result.stdout + result.stderr)
        self.assertNotIn(SECRET, result.stdout + result.stderr)
        return result

    def test_refused_then_found(self):
        for args in (['db', 'sync'], ['node', 'list']):
            result = self.run_manage(*args)
            self.assertEqual(2, result.returncode, result.stderr)
            self.assertEqual('', result.stdout)
            lines = result.stderr.strip().splitlines()
            self.assertEqual(1, len(lines), result.stderr)
            for path in (os.path.join(self.home, '.nova', 'nova.conf'),
                         '/etc/nova/nova.conf', '/etc/nova.conf'):
                self.assertIn(path, lines[0])
            if not self.existed:
                self.assertFalse(os.path.exists(DEFAULT_DB), DEFAULT_DB)
        self.assertEqual(0, self.run_manage('--help').returncode)
        # A nova.conf where oslo.config looks is read.
        state = os.path.join(self.home, 'state')
        os.makedirs(os.path.join(self.home, '.nova'))
        os.mkdir(state)
        with open(os.path.join(self.home, '.nova', 'nova.conf'), 'w') as f:
            f.write('[DEFAULT]\nstate_path = %s\n' % state)
        result = self.run_manage('-v', 'db', 'sync')
        self.assertEqual(0, result.returncode, result.stderr)
        url = 'sqlite:///%s/nova_bm.sqlite' % state
        self.assertIn('Node database: %s\n' % url, result.stderr)
        self.assertIn('(%s).' % url, result.stdout)
        result = self.run_manage('node', 'update', 'n1', '--ipmi-pasword',
                                 SECRET)
        self.assertEqual(2, result.returncode, result.stderr)
        self.assertIn('did you mean --ipmi-password?', result.stderr)
