"""The ramdisk builder's ELF reader and shared-library closure (what
``nvme`` needs in the ramdisk, read from the files, not from the host's
``ldd``)."""

import os
import shutil

import fixtures

from nova_bm.ramdisk import builder
from tests import base


class ElfDynamicTestCase(base.TestCase):

    def test_a_host_binary_needs_libc_and_names_its_loader(self):
        path = shutil.which('ls') or '/bin/ls'
        interp, needed = builder._elf_dynamic(path)
        self.assertIn('libc.so.6', needed)
        self.assertEqual('/lib64/ld-linux-x86-64.so.2', interp)

    def test_a_library_has_no_interpreter(self):
        # Through its link, as the builder reads a package's library.
        interp, needed = builder._elf_dynamic(
            '/lib/x86_64-linux-gnu/libz.so.1')
        self.assertIsNone(interp)
        self.assertEqual(['libc.so.6'], needed)

    def test_not_elf_is_a_one_line_build_error(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'libfoo.so.1')
        with open(path, 'w') as f:
            f.write('INPUT(libfoo.so.1.2)\n')
        error = self.assertRaises(builder.BuildError,
                                  builder._elf_dynamic, path)
        self.assertEqual('libfoo.so.1 is not a 64-bit little-endian ELF '
                         'file', str(error))

    def test_truncated_elf_is_a_build_error(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path, 'x')
        with open(shutil.which('ls') or '/bin/ls', 'rb') as f:
            head = f.read(0x40)
        with open(path, 'wb') as f:
            f.write(head)
        self.assertRaises(builder.BuildError, builder._elf_dynamic, path)


class LibraryClosureTestCase(base.TestCase):

    NEEDS = {'libnvme.so.1': ['libjson-c.so.5', 'libc.so.6'],
             'libjson-c.so.5': ['libc.so.6', 'ld-linux-x86-64.so.2'],
             'libc.so.6': ['ld-linux-x86-64.so.2'],
             'ld-linux-x86-64.so.2': [],
             'libz.so.1': ['libc.so.6'],
             'libunused.so.1': ['libc.so.6']}

    def test_follows_dependencies_sorted_without_the_rest(self):
        self.assertEqual(
            ['ld-linux-x86-64.so.2', 'libc.so.6', 'libjson-c.so.5',
             'libnvme.so.1', 'libz.so.1'],
            builder._library_closure(self.NEEDS.get,
                                     ['libz.so.1', 'libnvme.so.1']))

    def test_cycles_end(self):
        needs = {'liba.so.1': ['libb.so.1'], 'libb.so.1': ['liba.so.1']}
        self.assertEqual(['liba.so.1', 'libb.so.1'],
                         builder._library_closure(needs.get, ['liba.so.1']))

    def test_missing_soname_is_named_with_what_needs_it(self):
        needs = dict(self.NEEDS, **{'libjson-c.so.5': ['libgone.so.3']})
        error = self.assertRaises(builder.BuildError,
                                  builder._library_closure, needs.get,
                                  ['libnvme.so.1'])
        self.assertTrue(str(error).startswith(
            'nvme needs libgone.so.3 (for libjson-c.so.5), in none of the '
            'packages fetched (nvme-cli, '), error)
        self.assertNotIn('\n', str(error))

    def test_missing_direct_soname(self):
        error = self.assertRaises(builder.BuildError,
                                  builder._library_closure, {}.get,
                                  ['libnvme.so.1'])
        self.assertIn('nvme needs libnvme.so.1, in none', str(error))


class InsideTestCase(base.TestCase):
    """Links in an unpacked package resolve inside it, as on the target."""

    def test_relative_and_absolute_links(self):
        tree = self.useFixture(fixtures.TempDir()).path
        lib = os.path.join(tree, 'lib', 'x86_64-linux-gnu')
        os.makedirs(lib)
        os.makedirs(os.path.join(tree, 'lib64'))
        for name in ('libz.so.1.2.13', 'ld-linux-x86-64.so.2'):
            open(os.path.join(lib, name), 'w').close()
        os.symlink('libz.so.1.2.13', os.path.join(lib, 'libz.so.1'))
        os.symlink('/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
                   os.path.join(tree, 'lib64', 'ld-linux-x86-64.so.2'))
        os.symlink('/etc/passwd', os.path.join(lib, 'libescape.so.1'))
        self.assertEqual(os.path.join(lib, 'libz.so.1.2.13'),
                         builder._inside(tree,
                                         'lib/x86_64-linux-gnu/libz.so.1'))
        self.assertEqual(os.path.join(lib, 'ld-linux-x86-64.so.2'),
                         builder._inside(tree, '/lib64/ld-linux-x86-64.so.2'))
        self.assertIsNone(builder._inside(
            tree, 'lib/x86_64-linux-gnu/libescape.so.1'))
        self.assertIsNone(builder._inside(tree, 'usr/lib/libz.so.1'))


class FetchTestCase(base.TestCase):
    """The kernel's and busybox's .debs first (``_stage`` relies on it),
    then nvme's, one ``apt-get download`` for those not in the cache."""

    def test_order_and_one_download(self):
        cache = self.useFixture(fixtures.TempDir()).path
        open(os.path.join(cache, 'busybox-static_1_amd64.deb'), 'w').close()
        calls = []

        def run(*command, cwd=None):
            calls.append(command)
            for package in command[2:]:
                open(os.path.join(cwd, package + '_1_amd64.deb'),
                     'w').close()
        self.useFixture(fixtures.MonkeyPatch(
            'nova_bm.ramdisk.builder._kernel_package',
            lambda: 'linux-image-6.1.0-9-amd64'))
        self.useFixture(fixtures.MonkeyPatch(
            'nova_bm.ramdisk.builder._run', run))
        debs = builder.fetch(cache)
        self.assertEqual(
            ['linux-image-6.1.0-9-amd64', 'busybox-static']
            + list(builder.NVME_PACKAGES),
            [os.path.basename(d).split('_')[0] for d in debs])
        self.assertEqual(
            [('apt-get', 'download', 'linux-image-6.1.0-9-amd64')
             + builder.NVME_PACKAGES], calls)
        builder.fetch(cache)
        self.assertEqual(1, len(calls))
