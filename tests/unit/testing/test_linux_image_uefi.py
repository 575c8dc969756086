"""The lab's Linux image, UEFI variant: the GPT it writes, GRUB's memdisk
made reproducible, and its lines read back from an OVMF console.

Pure Python: the lab (tests/lab/test_linux_image.py) builds the image with
the real tools and boots it under OVMF.
"""

import io
import os
import struct
import tarfile
import uuid
import zlib
from unittest import mock

from nova_bm.deploy import partition_table
from nova_bm.ramdisk import builder
from nova_bm.testing import images
from nova_bm.testing import linux_image
from tests import base

SECTOR = 512
MIB = 1 << 20
# The image as build() lays it out at its usual size.
DISK = 16 * MIB // SECTOR
FIRST = 2048
LAST = (16 * MIB - linux_image.GPT_TAIL) // SECTOR - 1
HEADER = struct.Struct('<8sIIIIQQQQ16sQIII')
ENTRY = struct.Struct('<16s16sQQQ72s')
ESP = uuid.UUID('C12A7328-F81F-11D2-BA4B-00A0C93EC93B')


def header(sector):
    """The defined fields of a GPT header sector, as a dict."""
    names = ('signature', 'revision', 'size', 'crc', 'reserved', 'my_lba',
             'alternate_lba', 'first_usable', 'last_usable', 'disk_guid',
             'entries_lba', 'count', 'entry_size', 'entries_crc')
    return dict(zip(names, HEADER.unpack_from(sector), strict=True))


class GptTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.head, self.tail = linux_image.gpt(DISK, FIRST, LAST)

    def test_sizes(self):
        # Protective MBR, header, 128 entries of 128 bytes; the backup's
        # entries and header in the disk's last 33 sectors.
        self.assertEqual(34 * SECTOR, len(self.head))
        self.assertEqual(33 * SECTOR, len(self.tail))
        self.assertLessEqual(len(self.tail), linux_image.GPT_TAIL)

    def test_protective_mbr(self):
        mbr = self.head[:SECTOR]
        self.assertEqual(bytes(446), mbr[:446])  # no boot code
        # Not bootable, CHS 0/0/2, type 0xEE, from LBA 1 over the disk.
        self.assertEqual(bytes([0x00, 0x00, 0x02, 0x00, 0xee]), mbr[446:451])
        self.assertEqual((1, DISK - 1), struct.unpack('<II', mbr[454:462]))
        self.assertEqual(bytes(48), mbr[462:510])
        self.assertEqual(b'\x55\xaa', mbr[510:])

    def test_protective_mbr_of_a_disk_beyond_2_tib(self):
        huge = 2 ** 33
        head, _ = linux_image.gpt(huge, FIRST, LAST)
        entry = head[446:462]
        self.assertEqual(b'\xfe\xff\xff', entry[5:8])  # CHS: beyond
        self.assertEqual((1, 0xFFFFFFFF), struct.unpack('<II', entry[8:]))

    def test_primary_header(self):
        sector = self.head[SECTOR:2 * SECTOR]
        fields = header(sector)
        entries = self.head[2 * SECTOR:]
        self.assertEqual({
            'signature': b'EFI PART', 'revision': 0x00010000, 'size': 92,
            'crc': fields['crc'], 'reserved': 0, 'my_lba': 1,
            'alternate_lba': DISK - 1, 'first_usable': 34,
            'last_usable': DISK - 34,
            'disk_guid': uuid.UUID('7c15dbb1-71df-43f2-a565-87cfbb854e8d'
                                   ).bytes_le,
            'entries_lba': 2, 'count': 128, 'entry_size': 128,
            'entries_crc': zlib.crc32(entries)}, fields)
        self.assertEqual(zlib.crc32(sector[:16] + bytes(4) + sector[20:92]),
                         fields['crc'])
        self.assertEqual(bytes(SECTOR - 92), sector[92:])

    def test_backup_header_and_entries(self):
        primary = header(self.head[SECTOR:2 * SECTOR])
        sector = self.tail[-SECTOR:]
        backup = header(sector)
        self.assertEqual(self.head[2 * SECTOR:], self.tail[:-SECTOR])
        self.assertEqual((DISK - 1, 1, DISK - 33),
                         (backup['my_lba'], backup['alternate_lba'],
                          backup['entries_lba']))
        self.assertEqual(zlib.crc32(sector[:16] + bytes(4) + sector[20:92]),
                         backup['crc'])
        for same in ('signature', 'revision', 'size', 'first_usable',
                     'last_usable', 'disk_guid', 'count', 'entry_size',
                     'entries_crc'):
            self.assertEqual(primary[same], backup[same], same)

    def test_one_esp_entry(self):
        entries = self.head[2 * SECTOR:]
        type_guid, unique, first, last, attributes, name = (
            ENTRY.unpack_from(entries))
        self.assertEqual(ESP, uuid.UUID(bytes_le=type_guid))
        self.assertEqual(
            uuid.UUID('d24dcaf3-91a6-4884-b89b-5dc8c63e0f66'),
            uuid.UUID(bytes_le=unique))
        self.assertEqual((FIRST, LAST, 0), (first, last, attributes))
        self.assertEqual('EFI System Partition',
                         name.decode('utf-16-le').rstrip('\x00'))
        self.assertEqual(bytes(127 * 128), entries[128:])
        # The last MiB free but for the backup.
        self.assertLess(LAST, DISK - 33)

    def test_same_inputs_same_bytes(self):
        self.assertEqual((self.head, self.tail),
                         linux_image.gpt(DISK, FIRST, LAST))

    def test_partition_outside_the_usable_sectors(self):
        for first, last in ((33, LAST), (FIRST, DISK - 34 + 1),
                            (FIRST, FIRST - 1)):
            self.assertRaises(ValueError, linux_image.gpt, DISK, first,
                              last)

    def image(self):
        image = bytearray(DISK * SECTOR)
        image[:len(self.head)] = self.head
        image[-len(self.tail):] = self.tail
        return image

    def test_the_deploy_adds_a_config_drive_partition(self):
        # What the deploy does with the image on a 96 MiB disk: a config-2
        # partition in entry 2 after the ESP, the backup at the disk's end.
        image = self.image()
        disk_size = 96 * MIB
        plan = partition_table.plan(
            lambda offset, length: image[offset:offset + length],
            len(image), disk_size, 2 * MIB, new_guid=uuid.uuid4())
        self.assertEqual((2, False), (plan.partition, plan.reused))
        self.assertGreater(plan.drive_offset, LAST * SECTOR)

        disk = image + bytearray(disk_size - len(image))
        for offset, data in plan.writes:
            disk[offset:offset + len(data)] = data
        entries = disk[2 * SECTOR:34 * SECTOR]
        _, _, first, last, _, name = ENTRY.unpack_from(entries, 128)
        self.assertEqual(plan.drive_offset // SECTOR, first)
        self.assertEqual('config-2', name.decode('utf-16-le').rstrip('\x00'))
        # The ESP kept; the edited GPT is one plan() reads again.
        self.assertEqual(self.head[2 * SECTOR:2 * SECTOR + 128],
                         bytes(entries[:128]))
        again = partition_table.plan(
            lambda offset, length: disk[offset:offset + length],
            len(disk), disk_size, 2 * MIB)
        self.assertEqual((2, True, plan.drive_offset),
                         (again.partition, again.reused, again.drive_offset))


def tar_members(*members):
    """A ustar archive of (name, bytes, mtime) members."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode='w', format=tarfile.USTAR_FORMAT) as t:
        for name, data, mtime in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = mtime
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


class SameMemdiskTestCase(base.TestCase):
    """grub-mkstandalone's memdisk, rewritten in name order with fixed
    times (tests/lab checks it on real builds)."""

    # Code before the memdisk that happens to hold "ustar", and what
    # follows it (the image's next module), kept as they are.
    BEFORE = b'MZ' + bytes(300) + b'ustar' + bytes(700)
    AFTER = b'\x03\x00\x00\x00 \x00\x00\x00(memdisk)/boot/grub\x00'

    def efi(self, mtime, order):
        members = [('boot/grub/x86_64-efi/%s' % name, data, mtime)
                   for name, data in (('normal.mod', b'N' * 1000),
                                      ('fat.mod', b'F' * 600),
                                      ('grub.cfg', b'linux /vmlinuz\n'))]
        archive = tar_members(*[members[i] for i in order])
        return self.BEFORE + archive + self.AFTER

    def test_name_order_and_fixed_times(self):
        efi = self.efi(1700000000, (0, 2, 1))
        same = linux_image._same_memdisk(efi)
        self.assertEqual(len(efi), len(same))
        self.assertTrue(same.startswith(self.BEFORE))
        self.assertTrue(same.endswith(self.AFTER))
        archive = same[len(self.BEFORE):-len(self.AFTER)]
        with tarfile.open(fileobj=io.BytesIO(archive)) as t:
            found = [(m.name, m.mtime, t.extractfile(m).read()[:1])
                     for m in t.getmembers()]
        self.assertEqual([('boot/grub/x86_64-efi/fat.mod', 315532800, b'F'),
                          ('boot/grub/x86_64-efi/grub.cfg', 315532800, b'l'),
                          ('boot/grub/x86_64-efi/normal.mod', 315532800,
                           b'N')], found)

    def test_other_times_and_orders_same_bytes(self):
        self.assertEqual(
            linux_image._same_memdisk(self.efi(1700000000, (0, 1, 2))),
            linux_image._same_memdisk(self.efi(1800000000, (2, 0, 1))))

    def test_no_memdisk(self):
        self.assertRaises(builder.BuildError, linux_image._same_memdisk,
                          self.BEFORE + self.AFTER)


# What Debian 12's OVMF (OVMF_CODE_4M.fd) and the image print on -serial,
# as seen: OVMF's console escapes, a line per boot option it tries, GRUB.
OVMF_BOOT = (
    '\x1b[2J\x1b[01;01H\x1b[=3h\x1b[2J\x1b[01;01HBdsDxe: failed to load '
    'Boot0001 "UEFI QEMU DVD-ROM QM00003 " from PciRoot(0x0)/Pci(0x1,0x1)/'
    'Ata(Secondary,Master,0x0): Not Found\r\n'
    'BdsDxe: loading Boot0002 "UEFI Misc Device" from '
    'PciRoot(0x0)/Pci(0x3,0x0)\r\n'
    'BdsDxe: starting Boot0002 "UEFI Misc Device" from '
    'PciRoot(0x0)/Pci(0x3,0x0)\r\n'
    '\x1b[0m\x1b[30m\x1b[47mWelcome to GRUB!\r\n\r\n'
    "\x1b[0m\x1b[37m\x1b[40m\x1b[H\x1b[J\x1b[1;1H  Booting `nova-bm-lab'\r\n"
    '\r\n\r\n%s\r\nnova-bm-lab: firmware uefi\r\n' % images.marker('x'))


class OvmfLinesTestCase(base.TestCase):

    def test_an_ovmf_boot(self):
        console = OVMF_BOOT + ('nova-bm-lab: config-drive uuid=u-1\r\n'
                               'nova-bm-lab: config-drive key=c-1\r\n'
                               'nova-bm-lab: config-drive user-data=d-1\r\n'
                               'nova-bm-lab: config-drive done\r\n')
        self.assertEqual({'firmware': 'uefi', 'uuid': 'u-1', 'key': 'c-1',
                          'user-data': 'd-1', 'none': False, 'done': True},
                         linux_image.lines(console))

    def test_a_new_boot_starts_at_ovmf_first_boot_option(self):
        first = OVMF_BOOT + ('nova-bm-lab: config-drive uuid=u-1\r\n'
                             'nova-bm-lab: config-drive done\r\n')
        nothing = {'firmware': None, 'uuid': None, 'key': None,
                   'user-data': None, 'none': False, 'done': False}
        # OVMF's escapes alone say nothing; its first boot option does,
        # whether it failed to load or loads.
        self.assertTrue(linux_image.lines(first + '\x1b[2J\x1b[01;01H')[
            'done'])
        self.assertEqual(nothing, linux_image.lines(
            first + OVMF_BOOT[:OVMF_BOOT.index('Not Found')]))
        self.assertEqual(nothing, linux_image.lines(
            first + 'BdsDxe: loading Boot0002 "UEFI Misc Device"'))
        # After SeaBIOS (a machine switched to BIOS), or a BIOS boot.
        self.assertEqual(
            dict(nothing, firmware='bios', none=True, done=True),
            linux_image.lines(
                first + 'SeaBIOS (version 1.16.2)\r\n%s\r\n'
                'nova-bm-lab: firmware bios\r\n'
                'nova-bm-lab: config-drive none\r\n'
                'nova-bm-lab: config-drive done\r\n' % images.marker('x')))


class InitTestCase(base.TestCase):

    def test_firmware_line_right_after_the_marker(self):
        init = linux_image.INIT
        marker = init.index('cat /etc/nbm-marker')
        self.assertLess(marker, init.index('[ -d /sys/firmware/efi ]'))
        self.assertLess(init.index('say "firmware bios"'),
                        init.index('modprobe'))
        self.assertIn('say "firmware uefi"', init)


class MissingPackagesTestCase(base.TestCase):

    def test_names_grub(self):
        grub = ('grub-mkstandalone',
                os.path.join(linux_image.GRUB_EFI, 'kernel.img'))
        with mock.patch('shutil.which',
                        side_effect=lambda t: None if t in grub else t), \
                mock.patch('os.path.exists',
                           side_effect=lambda p: p not in grub):
            self.assertEqual(['grub-common', 'grub-efi-amd64-bin'],
                             linux_image.missing_packages())

    def test_unknown_firmware(self):
        self.assertRaises(ValueError, linux_image.build, '/nowhere', 'x',
                          '/nowhere', firmware='coreboot')
