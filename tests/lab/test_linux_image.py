"""The lab's Linux instance image (nova_bm.testing.linux_image) on a QEMU
machine: SeaBIOS boots its BIOS variant from its disk, OVMF its UEFI one,
and it prints which firmware booted it and what it read on the config
drive that a deploy writes in a partition after the image (an ISO 9660
file system labelled config-2, made as Nova's ConfigDriveBuilder makes
it), or that there is none."""

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

from nova_bm.deploy import partition_table
from nova_bm.testing import images
from nova_bm.testing import linux_image
from nova_bm.testing import machine
from tests import base
from tests import lab
from tests import utils

MIB = 1 << 20
DISK = 96 * MIB
ALIGN = 64 * MIB
SECTOR = 512
LABEL = 'linux-lab'
# A boot to 'config-drive done' takes seconds under TCG (about 25 without
# a config drive: the image waits 20 s for one; OVMF adds 10 to 20 s
# before it starts GRUB); the machine is shared with other tests.
BOOT_TIMEOUT = 180
UEFI_BOOT_TIMEOUT = 300
KEY = ('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN0YW5kLWluLWtleS1mb3ItbGFi'
       ' lab-key-comment')

_lock = threading.Lock()
_built = {}


def image(firmware='bios'):
    """``(path, size)`` of the image for ``firmware``, built once per test
    process (its downloads shared with the deploy ramdisk's, one process
    at a time)."""
    with _lock:
        if firmware not in _built:
            # Not under the test's temporary directory: removed after it.
            directory = tempfile.mkdtemp(prefix='nbm-linux-image-',
                                         dir=lab._TEMP_ROOT)
            atexit.register(shutil.rmtree, directory, True)
            path = os.path.join(directory, 'linux-%s.img' % firmware)
            os.makedirs(lab.CACHE, exist_ok=True)
            with open(os.path.join(lab.CACHE, '.lock'), 'w') as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                size = linux_image.build(path, LABEL,
                                         os.path.join(lab.CACHE, 'debs'),
                                         firmware=firmware)
            _built[firmware] = path, size
        return _built[firmware]


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

    def uefi_disk(self, path, iso=None):
        """A sparse disk at ``path`` holding the UEFI image, and ``iso``
        (if any) in the GPT partition partition_table.plan adds after it,
        as the deploy writes it. :returns: the plan (None without iso)."""
        source_path, image_size = image('uefi')
        with open(source_path, 'rb') as source, open(path, 'wb') as disk:
            shutil.copyfileobj(source, disk, MIB)
            disk.truncate(DISK)
        if iso is None:
            return None
        plan = partition_table.plan(
            partition_table.file_reader(source_path), image_size, DISK,
            os.path.getsize(iso),
            new_guid=uuid.UUID('3f6c1c1e-0d47-4c1a-9a59-7f0b7e0c2d11'))
        with open(path, 'r+b') as disk:
            disk.seek(plan.drive_offset)
            with open(iso, 'rb') as f:
                shutil.copyfileobj(f, disk, MIB)
            for offset, data in plan.writes:
                disk.seek(offset)
                disk.write(data)
        return plan

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

    def boot_uefi(self, directory, disk_writer):
        """Power on a UEFI (OVMF) lab machine whose disk ``disk_writer``
        (given its path) writes, until the image says it is done with the
        config drive. :returns: (its lines, the console, seconds from
        power on to done)."""
        for path in (machine.OVMF_CODE, machine.OVMF_VARS):
            if not os.path.exists(path):
                utils.missing(self, 'a UEFI machine needs %s (Debian: '
                              'ovmf)' % path)
        uefi = machine.Machine(
            directory, machine.mac_for_port(6230),
            'http://%s:9/none' % lab.HOST_FROM_MACHINE, DISK,
            boot_mode='uefi')
        os.makedirs(directory)
        disk_writer(uefi.disk)
        self.addCleanup(uefi.power_off)
        started = time.monotonic()
        self.assertTrue(uefi.power_on('disk', True))
        deadline = started + UEFI_BOOT_TIMEOUT
        while True:
            console = uefi.serial_text()
            found = linux_image.lines(console)
            if found['done']:
                return found, console, time.monotonic() - started
            if not uefi.is_on():
                with open(os.path.join(directory, 'qemu.log'),
                          errors='replace') as f:
                    self.fail('QEMU ended: %s\n%s' % (f.read()[-2000:],
                                                      console[-3000:]))
            if time.monotonic() > deadline:
                self.fail('no "config-drive done" after %d s:\n%s'
                          % (UEFI_BOOT_TIMEOUT, console[-3000:]))
            time.sleep(0.5)

    def assert_marker(self, console, after='Booting from Hard Disk'):
        # The marker, on a line of its own, after the firmware's boot.
        lines = [line.strip() for line in console.splitlines()]
        self.assertIn(images.marker(LABEL), lines, console[-3000:])
        self.assertLess(console.index(after),
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
        self.assertEqual({'firmware': 'bios', 'uuid': instance,
                          'key': 'lab-key-comment',
                          'user-data': 'hello-123', 'none': False,
                          'done': True}, found, console[-3000:])

    def test_says_none_without_a_config_drive(self):
        found, console = self.boot(self.disk())
        self.assert_marker(console)
        self.assertEqual({'firmware': 'bios', 'uuid': None, 'key': None,
                          'user-data': None, 'none': True, 'done': True},
                         found, console[-3000:])

    def test_uefi_image_boots_under_ovmf_and_reads_the_config_drive(self):
        instance = str(uuid.uuid4())
        meta_data = {'uuid': instance, 'name': 'lab-server',
                     'public_keys': {'k1': KEY + '\n'}}
        iso = self.config_drive(meta_data,
                                '#!/bin/sh\nnova-bm-marker: uefi-42\n')
        plans = []
        found, console, _ = self.boot_uefi(
            os.path.join(self.root, 'uefi'),
            lambda path: plans.append(self.uefi_disk(path, iso)))
        # The drive in a new GPT partition after the image's ESP.
        self.assertEqual((2, False), (plans[0].partition, plans[0].reused))
        self.assert_marker(console, after='BdsDxe: starting Boot')
        self.assertEqual({'firmware': 'uefi', 'uuid': instance,
                          'key': 'lab-key-comment',
                          'user-data': 'uefi-42', 'none': False,
                          'done': True}, found, console[-3000:])
        # GRUB on the serial port, with nothing to complain about.
        self.assertIn("Booting `nova-bm-lab'", console)
        self.assertNotIn('error:', console)


class GrubTestCase(base.TestCase):
    """The UEFI image's GRUB, as grub-mkstandalone makes it here."""

    def test_same_bytes(self):
        # grub-mkstandalone stamps its memdisk with the build's time: the
        # image rewrites it, so two builds a second apart are the same.
        missing = linux_image.missing_packages()
        if missing:
            utils.missing(self, "the lab's Linux image needs Debian's %s"
                          % ', '.join(missing))
        root = lab.machine_root(self)
        made = []
        for name in ('a', 'b'):
            work = os.path.join(root, name)
            os.makedirs(work)
            made.append(linux_image._grub(work))
            time.sleep(1.1)
        self.assertEqual(made[0], made[1])
        # Small: the few modules it needs, compressed.
        self.assertLess(len(made[0]), 1 * MIB)


class LinesTestCase(base.TestCase):
    """linux_image.lines on console logs holding several boots."""

    BOOT = ('SeaBIOS (version 1.16.2)\r\nBooting from Hard Disk...\r\n'
            '\x1bc\x1b[?7l\x1b[2J\r\n%s\r\n'
            'nova-bm-lab: firmware bios\r\n' % images.marker('x'))

    def test_last_boot_values(self):
        first = self.BOOT + (
            'nova-bm-lab: config-drive uuid=u-1\r\n'
            'nova-bm-lab: config-drive key=c-1\r\n'
            'nova-bm-lab: config-drive user-data=d-1\r\n'
            'nova-bm-lab: config-drive done\r\n')
        second = self.BOOT + ('nova-bm-lab: config-drive none\r\n'
                              'nova-bm-lab: config-drive done\r\n')
        self.assertEqual({'firmware': 'bios', 'uuid': 'u-1', 'key': 'c-1',
                          'user-data': 'd-1', 'none': False, 'done': True},
                         linux_image.lines('noise\r\n' + first))
        self.assertEqual({'firmware': 'bios', 'uuid': None, 'key': None,
                          'user-data': None, 'none': True, 'done': True},
                         linux_image.lines(first + second))
        # A boot under way: not the previous boot's values.
        self.assertEqual({'firmware': None, 'uuid': None, 'key': None,
                          'user-data': None, 'none': False, 'done': False},
                         linux_image.lines(first + 'SeaBIOS (version 1'))

    def test_empty_values_and_nothing(self):
        self.assertEqual({'firmware': 'bios', 'uuid': '', 'key': '',
                          'user-data': '', 'none': False, 'done': True},
                         linux_image.lines(
                             self.BOOT
                             + 'nova-bm-lab: config-drive uuid=\n'
                             'nova-bm-lab: config-drive key=\n'
                             'nova-bm-lab: config-drive user-data=\n'
                             'nova-bm-lab: config-drive done\n'))
        self.assertEqual({'firmware': None, 'uuid': None, 'key': None,
                          'user-data': None, 'none': False, 'done': False},
                         linux_image.lines(''))
