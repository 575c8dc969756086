"""The lab's Linux instance image (nova_bm.testing.linux_image) on a QEMU
machine: SeaBIOS boots it from its disk, and it prints what it read on the
config drive that a deploy writes in a partition after the image (an ISO
9660 file system labelled config-2, made as Nova's ConfigDriveBuilder
makes it), or that there is none."""

import atexit
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid

from nova_bm.testing import images
from nova_bm.testing import linux_image
from tests import base
from tests import lab
from tests import utils

MIB = 1 << 20
DISK = 96 * MIB
ALIGN = 64 * MIB
SECTOR = 512
LABEL = 'linux-lab'
# A boot to 'config-drive done' takes seconds under TCG (about 25 without
# a config drive: the image waits 20 s for one); the machine is shared
# with other tests.
BOOT_TIMEOUT = 180
KEY = ('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN0YW5kLWluLWtleS1mb3ItbGFi'
       ' lab-key-comment')

_lock = threading.Lock()
_built = {}


def image():
    """``(path, size)`` of the image, built once per test process (its
    downloads shared with the deploy ramdisk's, one process at a time)."""
    with _lock:
        if not _built:
            # Not under the test's temporary directory: removed after it.
            directory = tempfile.mkdtemp(prefix='nbm-linux-image-',
                                         dir=lab._TEMP_ROOT)
            atexit.register(shutil.rmtree, directory, True)
            path = os.path.join(directory, 'linux.img')
            os.makedirs(lab.CACHE, exist_ok=True)
            with open(os.path.join(lab.CACHE, '.lock'), 'w') as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                size = linux_image.build(path, LABEL,
                                         os.path.join(lab.CACHE, 'debs'))
            _built.update(path=path, size=size)
        return _built['path'], _built['size']


class LinuxImageTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        lab.require(self)
        missing = linux_image.missing_packages()
        if shutil.which('genisoimage') is None:
            missing.append('genisoimage')
        if missing:
            utils.missing(self, "the lab's Linux image needs Debian's %s"
                          % ', '.join(missing))
        self.root = lab.machine_root(self)
        self.image, self.image_size = image()

    def config_drive(self, meta_data, user_data):
        """An ISO 9660 config drive, as Nova's ConfigDriveBuilder makes."""
        tree = os.path.join(self.root, 'configdrive')
        latest = os.path.join(tree, 'openstack', 'latest')
        os.makedirs(latest)
        with open(os.path.join(latest, 'meta_data.json'), 'w') as f:
            json.dump(meta_data, f)
        with open(os.path.join(latest, 'user_data'), 'w') as f:
            f.write(user_data)
        iso = os.path.join(self.root, 'configdrive.iso')
        subprocess.run(
            ['genisoimage', '-o', iso, '-ldots', '-allow-lowercase',
             '-allow-multidot', '-l', '-publisher', 'nova-bm lab', '-quiet',
             '-J', '-r', '-V', 'config-2', tree],
            check=True, capture_output=True)
        return iso

    def disk(self, iso=None):
        """A sparse disk holding the image, and ``iso`` (if any) in a new
        MBR partition 2 at the last 64 MiB boundary it fits after."""
        path = os.path.join(self.root, 'disk.img')
        with open(self.image, 'rb') as source, open(path, 'wb') as disk:
            # The image has one partition: entry 2 is free.
            self.assertEqual(bytes(16), source.read(SECTOR)[462:478])
            source.seek(0)
            shutil.copyfileobj(source, disk, MIB)
            disk.truncate(DISK)
            if iso is not None:
                size = os.path.getsize(iso)
                start = (DISK - size) // ALIGN * ALIGN
                self.assertGreaterEqual(start, self.image_size)
                disk.seek(start)
                with open(iso, 'rb') as f:
                    shutil.copyfileobj(f, disk, MIB)
                disk.seek(462)
                # Not bootable, Linux, CHS "beyond", LBA start and length.
                disk.write(bytes([0, 0xfe, 0xff, 0xff, 0x83, 0xfe, 0xff,
                                  0xff])
                           + (start // SECTOR).to_bytes(4, 'little')
                           + ((DISK - start) // SECTOR).to_bytes(4, 'little'))
        return path

    def boot(self, disk):
        """Boot ``disk`` (SeaBIOS, virtio) until the image says it is done
        with the config drive. :returns: (its lines, the console)."""
        serial = os.path.join(self.root, 'serial.log')
        with open(os.path.join(self.root, 'qemu.log'), 'wb') as log:
            process = subprocess.Popen(
                [lab.QEMU, '-accel', 'tcg', '-m', '256', '-nographic',
                 '-monitor', 'none', '-no-reboot', '-serial', 'file:' + serial,
                 '-drive', 'file=%s,format=raw,if=virtio' % disk,
                 '-net', 'none', '-boot', 'c'],
                stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT)
        self.addCleanup(self.stop, process)
        deadline = time.monotonic() + BOOT_TIMEOUT
        while True:
            console = self.console(serial)
            found = linux_image.lines(console)
            if found['done']:
                return found, console
            if process.poll() is not None:
                with open(os.path.join(self.root, 'qemu.log'),
                          errors='replace') as f:
                    self.fail('QEMU ended (%s): %s\n%s' % (
                        process.returncode, f.read()[-2000:],
                        console[-3000:]))
            if time.monotonic() > deadline:
                self.fail('no "config-drive done" after %d s:\n%s'
                          % (BOOT_TIMEOUT, console[-3000:]))
            time.sleep(0.5)

    @staticmethod
    def console(serial):
        try:
            with open(serial, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except FileNotFoundError:  # QEMU has not opened it yet
            return ''

    @staticmethod
    def stop(process):
        if process.poll() is None:
            process.kill()
        process.wait()

    def assert_marker(self, console):
        # The marker, on a line of its own, after the firmware's boot.
        lines = [line.strip() for line in console.splitlines()]
        self.assertIn(images.marker(LABEL), lines, console[-3000:])
        self.assertLess(console.index('Booting from Hard Disk'),
                        console.index(images.marker(LABEL)))

    def test_reads_the_config_drive_after_the_image(self):
        instance = str(uuid.uuid4())
        # As Nova writes it: the key ends with a newline; keys come too.
        meta_data = {'uuid': instance, 'name': 'lab-server',
                     'hostname': 'lab-server',
                     'keys': [{'name': 'k1', 'type': 'ssh',
                               'data': KEY + '\n'}],
                     'public_keys': {'k1': KEY + '\n'},
                     'launch_index': 0, 'devices': []}
        iso = self.config_drive(meta_data,
                                '#!/bin/sh\nnova-bm-marker: hello-123\n')
        found, console = self.boot(self.disk(iso))
        self.assert_marker(console)
        self.assertEqual({'uuid': instance, 'key': 'lab-key-comment',
                          'user-data': 'hello-123', 'none': False,
                          'done': True}, found, console[-3000:])

    def test_says_none_without_a_config_drive(self):
        found, console = self.boot(self.disk())
        self.assert_marker(console)
        self.assertEqual({'uuid': None, 'key': None, 'user-data': None,
                          'none': True, 'done': True}, found,
                         console[-3000:])


class LinesTestCase(base.TestCase):
    """linux_image.lines on console logs holding several boots."""

    BOOT = ('SeaBIOS (version 1.16.2)\r\nBooting from Hard Disk...\r\n'
            '\x1bc\x1b[?7l\x1b[2J\r\n%s\r\n' % images.marker('x'))

    def test_last_boot_values(self):
        first = self.BOOT + (
            'nova-bm-lab: config-drive uuid=u-1\r\n'
            'nova-bm-lab: config-drive key=c-1\r\n'
            'nova-bm-lab: config-drive user-data=d-1\r\n'
            'nova-bm-lab: config-drive done\r\n')
        second = self.BOOT + ('nova-bm-lab: config-drive none\r\n'
                              'nova-bm-lab: config-drive done\r\n')
        self.assertEqual({'uuid': 'u-1', 'key': 'c-1', 'user-data': 'd-1',
                          'none': False, 'done': True},
                         linux_image.lines('noise\r\n' + first))
        self.assertEqual({'uuid': None, 'key': None, 'user-data': None,
                          'none': True, 'done': True},
                         linux_image.lines(first + second))
        # A boot under way: not the previous boot's values.
        self.assertEqual({'uuid': None, 'key': None, 'user-data': None,
                          'none': False, 'done': False},
                         linux_image.lines(first + 'SeaBIOS (version 1'))

    def test_empty_values_and_nothing(self):
        self.assertEqual({'uuid': '', 'key': '', 'user-data': '',
                          'none': False, 'done': True},
                         linux_image.lines(
                             self.BOOT
                             + 'nova-bm-lab: config-drive uuid=\n'
                             'nova-bm-lab: config-drive key=\n'
                             'nova-bm-lab: config-drive user-data=\n'
                             'nova-bm-lab: config-drive done\n'))
        self.assertEqual({'uuid': None, 'key': None, 'user-data': None,
                          'none': False, 'done': False},
                         linux_image.lines(''))
