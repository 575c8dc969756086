"""nova-bm installed the ways operators and developers install it.

An editable install (``pip install -e``, how devstack installs a plugin)
must load the driver through Nova's own ``load_compute_driver``, and a
built wheel must ship the migrations as packages and nothing under
``nova/`` but the shim. Both run on a copy of the source tree in a new
virtualenv, with the versions of upper-constraints.txt.
"""

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile

import fixtures

from tests import base

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_NOT_SOURCE = shutil.ignore_patterns(
    '.git', '.tox', '.venv*', '.stestr', '__pycache__', '*.pyc', 'build',
    'dist', '*.egg-info', 'cover')

# Loads the driver as nova-compute does, with a nova.conf of its own.
_LOAD_DRIVER = textwrap.dedent('''
    import sys
    import nova.conf
    from nova.virt import driver
    nova.conf.CONF(['--config-file', sys.argv[1]], project='nova')
    loaded = driver.load_compute_driver(None, 'nova_bm.BareMetalDriver')
    import nova.virt.nova_bm as shim
    print(type(loaded).__module__, type(loaded).__name__, shim.__file__)
''')


class PackagingTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.work = self.useFixture(fixtures.TempDir()).path
        self.source = os.path.join(self.work, 'nova-bm')
        shutil.copytree(ROOT, self.source, ignore=_NOT_SOURCE)
        # pbr takes the version from git; the copy has no history.
        self.env = dict(os.environ, PBR_VERSION='1.0.0',
                        PIP_DISABLE_PIP_VERSION_CHECK='1')

    def run_checked(self, *args, cwd=None):
        result = subprocess.run(
            list(args), capture_output=True, text=True, env=self.env,
            cwd=cwd or self.work, stdin=subprocess.DEVNULL, timeout=1200)
        self.assertEqual(0, result.returncode,
                         '%s\n%s\n%s' % (args, result.stdout[-3000:],
                                         result.stderr[-3000:]))
        return result

    def test_editable_install_loads_the_driver_through_nova(self):
        venv = os.path.join(self.work, 'venv')
        self.run_checked(sys.executable, '-m', 'venv', venv)
        python = os.path.join(venv, 'bin', 'python')
        self.run_checked(python, '-m', 'pip', 'install', '-q', '-c',
                         os.path.join(self.source, 'upper-constraints.txt'),
                         '-e', self.source)
        state = os.path.join(self.work, 'state')
        os.mkdir(state)
        conf = os.path.join(self.work, 'nova.conf')
        with open(conf, 'w') as f:
            f.write('[DEFAULT]\nstate_path = %s\nhost = proxy-1\n' % state)
        result = self.run_checked(python, '-c', _LOAD_DRIVER, conf,
                                  cwd=state)
        module, name, shim = result.stdout.split()
        self.assertEqual(('nova_bm.driver', 'BareMetalDriver'),
                         (module, name))
        # The shim came from the checkout, not from a copy in site-packages.
        self.assertEqual(
            os.path.join(self.source, 'nova', 'virt', 'nova_bm',
                         '__init__.py'), shim)

    def test_wheel_ships_migrations_as_packages_and_only_the_shim(self):
        wheels = os.path.join(self.work, 'wheels')
        result = self.run_checked(
            sys.executable, '-m', 'pip', 'wheel', '-v', '--no-deps', '-c',
            os.path.join(self.source, 'upper-constraints.txt'), '-w', wheels,
            self.source)
        self.assertNotIn('absent from the `packages` configuration',
                         result.stdout + result.stderr)
        [wheel] = os.listdir(wheels)
        with zipfile.ZipFile(os.path.join(wheels, wheel)) as archive:
            names = archive.namelist()
        self.assertEqual(['nova/virt/nova_bm/__init__.py'],
                         [n for n in names if n.startswith('nova/')])
        for package in ('nova_bm/db/migrations', 'nova_bm/db/migrations/'
                        'versions'):
            self.assertIn(package + '/__init__.py', names)
        self.assertIn('nova_bm/db/migrations/versions/'
                      '2f1a9c0e4b7d_initial_schema.py', names)
        # The deploy ramdisk's own files, which nova-bm-build-ramdisk reads.
        self.assertIn('nova_bm/ramdisk/init', names)
        self.assertIn('nova_bm/ramdisk/udhcpc.script', names)
