"""nova-bm-build-ramdisk's command line: one line and a status on errors.
(The build itself boots on QEMU in tests/lab/test_ramdisk.py.)"""

import io
import os

import fixtures

from nova_bm.cmd import build_ramdisk
from nova_bm.ramdisk import builder
from tests import base


class BuildRamdiskCommandTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.stderr = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', self.stderr))

    def test_output_that_is_a_file_is_a_usage_error(self):
        path = os.path.join(self.dir, 'file')
        open(path, 'w').close()
        error = self.assertRaises(SystemExit, build_ramdisk.main,
                                  ['--output', path])
        self.assertEqual(2, error.code)
        self.assertIn('--output: %r is not a directory' % path,
                      self.stderr.getvalue())

    def test_build_error_is_one_line_status_1(self):
        def broken(output, cache):
            raise builder.BuildError('apt-get download busybox-static '
                                     'failed: E: Unable to locate package')
        self.useFixture(fixtures.MonkeyPatch(
            'nova_bm.ramdisk.builder.build', broken))
        self.assertEqual(1, build_ramdisk.main(['--output', self.dir]))
        self.assertEqual(
            'nova-bm-build-ramdisk: apt-get download busybox-static failed: '
            'E: Unable to locate package\n', self.stderr.getvalue())

    def test_module_closure_follows_dependencies(self):
        lines = ['kernel/a.ko: kernel/b.ko kernel/c.ko', 'kernel/b.ko:',
                 'kernel/c.ko: kernel/b.ko', 'kernel/d.ko:',
                 'kernel/virtio-net.ko: kernel/b.ko']
        self.assertEqual(['kernel/a.ko', 'kernel/b.ko', 'kernel/c.ko'],
                         builder._closure(lines, ['a']))
        self.assertEqual(['kernel/b.ko', 'kernel/virtio-net.ko'],
                         builder._closure(lines, ['virtio_net', 'absent']))
