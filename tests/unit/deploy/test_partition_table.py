"""The config drive's place on a whole-disk image (deploy.partition_table).

Images are built here by writers of the test's own (not the module's), on
sparse files; a plan is applied as the ramdisk would (the image, then the
writes, then the drive) to a sparse file the size of the disk, and the
result is parsed again here: GPT headers and CRCs, where the backup is, the
new entry and the old ones, the MBR's entries.
"""

import os
import random
import re
import struct
import uuid
import zlib

import fixtures

from nova_bm.deploy import partition_table as pt
from tests import base

MIB = 2 ** 20
GIB = 2 ** 30
TIB = 2 ** 40
S = 512

LINUX_DATA = uuid.UUID('0fc63daf-8483-4772-8e79-3d69d8477de4')
ESP = uuid.UUID('c12a7328-f81f-11d2-ba4b-00a0c93ec93b')
DISK_GUID = uuid.UUID('11111111-2222-3333-4444-555555555555')
NEW_GUID = uuid.UUID('aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee')
GPT_HEADER = struct.Struct('<8sIIIIQQQQ16sQIII')
GPT_ENTRY = struct.Struct('<16s16sQQQ72s')
MBR_ENTRY = struct.Struct('<B3sB3sII')
BEYOND_CHS = b'\xfe\xff\xff'
# 64 MiB in sectors: the new partition's least size.
P = 64 * MIB // S


def crc(data):
    return zlib.crc32(data)


# -- Writers ------------------------------------------------------------------

class Image:
    """An image as (offset, bytes) pieces over zeros, saved sparse."""

    def __init__(self, size):
        self.size = size
        self.pieces = []

    def put(self, offset, data):
        """Bytes at offset; what lies past the image's end is dropped."""
        if offset < self.size:
            self.pieces.append((offset, bytes(data[:self.size - offset])))

    def save(self, path):
        with open(path, 'wb') as f:
            f.truncate(self.size)
            for offset, data in self.pieces:
                f.seek(offset)
                f.write(data)
        return path

    def bytes(self):
        buf = bytearray(self.size)
        for offset, data in self.pieces:
            buf[offset:offset + len(data)] = data
        return buf


def mbr_sector(entries, boot_code=None, signature=b'\xde\xad\xbe\xef'):
    """entries: {slot (1..4): (type, start, size[, boot flag])}."""
    sector = bytearray(S)
    sector[:440] = boot_code or bytes(range(220)) * 2
    sector[440:444] = signature
    for slot, entry in entries.items():
        kind, start, size = entry[:3]
        flag = entry[3] if len(entry) > 3 else 0
        sector[446 + 16 * (slot - 1):446 + 16 * slot] = MBR_ENTRY.pack(
            flag, b'\x00\x02\x00', kind, b'\xfe\xff\xff', start, size)
    sector[510:512] = b'\x55\xaa'
    return sector


def gpt_header(my_lba, alternate, entries_lba, first_usable, last_usable,
               count, entry_size, entries_crc, override=None):
    fields = dict(signature=b'EFI PART', revision=0x00010000,
                  header_size=92, crc=0, reserved=0, my_lba=my_lba,
                  alternate=alternate, first_usable=first_usable,
                  last_usable=last_usable, disk_guid=DISK_GUID.bytes_le,
                  entries_lba=entries_lba, count=count,
                  entry_size=entry_size, entries_crc=entries_crc)
    override = dict(override or {})
    fix_crc = override.pop('fix_crc', True)
    fields.update(override)
    raw = bytearray(GPT_HEADER.pack(*fields.values()).ljust(S, b'\x00'))
    if fix_crc:
        size = min(fields['header_size'], S)
        raw[16:20] = bytes(4)
        raw[16:20] = struct.pack('<I', crc(bytes(raw[:size])))
    return raw


def gpt_image(size, partitions, count=128, entry_size=128, entries_lba=2,
              mbr=None, table_sectors=None, header=None):
    """A GPT image with its backup at its end.

    :param partitions: {index (0-based): (first, last, type, name)}.
    :param table_sectors: the disk the table was made for, in sectors
        (default: the image's).
    :param header: fields of the primary header to set (after the others
        are computed), and fix_crc=False to keep its CRC32 field as given.
    """
    image = Image(size)
    sectors = table_sectors or size // S
    entry_sectors = -(-count * entry_size // S)
    first_usable = entries_lba + entry_sectors
    last_usable = sectors - 2 - entry_sectors
    entries = entries_array(partitions, count, entry_size)
    image.put(0, mbr or mbr_sector({1: (0xEE, 1, min(sectors - 1,
                                                     0xFFFFFFFF))}))
    image.put(S, gpt_header(1, sectors - 1, entries_lba, first_usable,
                            last_usable, count, entry_size, crc(entries),
                            header))
    image.put(entries_lba * S, entries)
    if sectors * S <= size:
        image.put((sectors - 1 - entry_sectors) * S, entries)
        image.put((sectors - 1) * S, gpt_header(
            sectors - 1, 1, sectors - 1 - entry_sectors, first_usable,
            last_usable, count, entry_size, crc(entries)))
    return image


def entries_array(partitions, count=128, entry_size=128):
    raw = bytearray(count * entry_size)
    for index, (first, last, kind, name) in partitions.items():
        GPT_ENTRY.pack_into(raw, index * entry_size, kind.bytes_le,
                            uuid.uuid5(DISK_GUID, str(index)).bytes_le,
                            first, last, 0, name.encode('utf-16-le'))
    return raw


def iso_pvd(label='config-2'):
    """What blkid reads of an ISO 9660 volume: its primary descriptor."""
    return (b'\x01CD001\x01\x00' + b'LINUX'.ljust(32)
            + label.encode().ljust(32))


def fat_boot_sector(label='config-2', fat32=True):
    boot = bytearray(S)
    boot[0:3] = b'\xeb\x58\x90'
    boot[3:11] = b'mkfs.fat'
    struct.pack_into('<HBHB', boot, 0x0B, 512, 8, 32, 2)
    if fat32:
        struct.pack_into('<H', boot, 0x16, 0)
        struct.pack_into('<I', boot, 0x24, 1000)
        boot[0x42] = 0x29
        boot[0x47:0x52] = label.upper().encode().ljust(11)
        boot[0x52:0x5A] = b'FAT32   '
    else:
        struct.pack_into('<H', boot, 0x16, 32)
        boot[0x26] = 0x29
        boot[0x2B:0x36] = label.upper().encode().ljust(11)
        boot[0x36:0x3E] = b'FAT16   '
    boot[510:512] = b'\x55\xaa'
    return boot


def drive_bytes(size=MIB):
    """A config drive: an ISO labelled config-2, then bytes to find again."""
    data = bytearray(random.Random(size).randbytes(size))
    data[:32768] = bytes(32768)
    data[32768:32768 + 72] = iso_pvd()
    return bytes(data)


# -- Parsers ------------------------------------------------------------------

def pread(path, offset, length):
    with open(path, 'rb') as f:
        f.seek(offset)
        return f.read(length)


def parse_mbr(path):
    sector = pread(path, 0, S)
    assert sector[510:512] == b'\x55\xaa'
    return sector, [MBR_ENTRY.unpack_from(sector, 446 + 16 * i)
                    for i in range(4)]


def parse_gpt_header(path, lba):
    raw = pread(path, lba * S, S)
    fields = dict(zip(
        ('signature', 'revision', 'header_size', 'crc', 'reserved',
         'my_lba', 'alternate', 'first_usable', 'last_usable', 'disk_guid',
         'entries_lba', 'count', 'entry_size', 'entries_crc'),
        GPT_HEADER.unpack_from(raw), strict=True))
    zeroed = raw[:16] + bytes(4) + raw[20:fields['header_size']]
    fields['crc_ok'] = crc(zeroed) == fields['crc']
    entries = pread(path, fields['entries_lba'] * S,
                    fields['count'] * fields['entry_size'])
    fields['entries_ok'] = crc(entries) == fields['entries_crc']
    fields['entries'] = entries
    return fields


def gpt_entry(entries, index, entry_size=128):
    kind, unique, first, last, attributes, name = GPT_ENTRY.unpack_from(
        entries, index * entry_size)
    return dict(type=uuid.UUID(bytes_le=kind),
                unique=uuid.UUID(bytes_le=unique), first=first, last=last,
                attributes=attributes,
                name=name.decode('utf-16-le').rstrip('\x00'))


# -- Tests --------------------------------------------------------------------

class PartitionTableTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.count = 0

    def path(self, name):
        self.count += 1
        return os.path.join(self.dir, '%s-%d' % (name, self.count))

    def plan(self, image, disk_size, drive_size=MIB, **kwargs):
        path = image.save(self.path('image'))

        def read(offset, length):
            with open(path, 'rb') as f:
                return os.pread(f.fileno(), length, offset)

        kwargs.setdefault('new_guid', NEW_GUID)
        return pt.plan(read, image.size, disk_size, drive_size, **kwargs)

    def deploy(self, image, disk_size, drive=None, **kwargs):
        """Plan, then do as the ramdisk does; the disk's path and plan."""
        drive = drive or drive_bytes()
        plan = self.plan(image, disk_size, len(drive), **kwargs)
        disk_bytes = disk_size // S * S
        path = self.path('disk')
        with open(path, 'wb') as disk:
            disk.truncate(disk_bytes)
            for offset, data in image.pieces:
                disk.seek(offset)
                disk.write(data)
            for offset, data in plan.writes:
                self.assertLessEqual(offset + len(data), disk_bytes)
                disk.seek(offset)
                disk.write(data)
            self.assertLessEqual(plan.drive_offset + len(drive), disk_bytes)
            disk.seek(plan.drive_offset)
            disk.write(drive)
        self.assertEqual(drive, pread(path, plan.drive_offset, len(drive)))
        return path, plan

    def assertUnfit(self, pattern, *args, **kwargs):
        e = self.assertRaises(pt.Unfit, self.plan, *args, **kwargs)
        self.assertRegex(str(e), pattern)
        self.assertNotIn('\n', str(e))
        return e

    def assertGptValid(self, path, disk_sectors):
        """Both headers and entry arrays valid, alike, the backup at the
        disk's last LBA; the primary header's fields."""
        primary = parse_gpt_header(path, 1)
        backup = parse_gpt_header(path, disk_sectors - 1)
        entry_sectors = -(-primary['count'] * primary['entry_size'] // S)
        for header in primary, backup:
            self.assertEqual(b'EFI PART', header['signature'])
            self.assertTrue(header['crc_ok'])
            self.assertTrue(header['entries_ok'])
            self.assertEqual(disk_sectors - 2 - entry_sectors,
                             header['last_usable'])
            self.assertEqual(DISK_GUID.bytes_le, header['disk_guid'])
        self.assertEqual((1, disk_sectors - 1),
                         (primary['my_lba'], primary['alternate']))
        self.assertEqual((disk_sectors - 1, 1),
                         (backup['my_lba'], backup['alternate']))
        self.assertEqual(disk_sectors - 1 - entry_sectors,
                         backup['entries_lba'])
        self.assertEqual(primary['entries'], backup['entries'])
        for key in 'first_usable', 'count', 'entry_size', 'revision':
            self.assertEqual(primary[key], backup[key])
        return primary

    def assertNewGptPartition(self, primary, plan, index, disk_sectors):
        entry_sectors = -(-primary['count'] * primary['entry_size'] // S)
        new = gpt_entry(primary['entries'], index, primary['entry_size'])
        self.assertEqual(dict(type=LINUX_DATA, unique=NEW_GUID,
                              first=plan.drive_offset // S,
                              last=disk_sectors - 2 - entry_sectors,
                              attributes=0, name='config-2'), new)
        self.assertEqual(0, new['first'] % pt.ALIGN)
        self.assertGreaterEqual(new['last'] - new['first'] + 1, P)
        self.assertLess(new['last'] - new['first'] + 1, P + pt.ALIGN)
        self.assertEqual(index + 1, plan.partition)
        self.assertFalse(plan.reused)
        return new

    # -- GPT ------------------------------------------------------------------

    def typical_gpt(self, size=32 * MIB, **kwargs):
        """An ESP and a root filesystem to the image's last usable LBA."""
        last = size // S - 34
        return gpt_image(size, {0: (2048, 4095, ESP, 'EFI'),
                                1: (4096, last, LINUX_DATA, 'root')},
                         **kwargs)

    def test_gpt_new_partition_at_the_disk_end(self):
        image = self.typical_gpt()
        disk_size = 8 * GIB
        sectors = disk_size // S
        path, plan = self.deploy(image, disk_size)
        primary = self.assertGptValid(path, sectors)
        new = self.assertNewGptPartition(primary, plan, 2, sectors)
        self.assertEqual(sectors - 34, new['last'])
        # The old entries untouched, every other entry empty.
        old = image.bytes()[1024:1024 + 256]
        self.assertEqual(old, primary['entries'][:256])
        self.assertEqual(bytes(125 * 128), primary['entries'][384:])
        self.assertEqual(34, primary['first_usable'])
        # The protective MBR covers the disk, the boot code kept.
        sector, entries = parse_mbr(path)
        self.assertEqual((0xEE, 1, sectors - 1),
                         (entries[0][2], *entries[0][4:]))
        self.assertEqual(image.bytes()[:446], sector[:446])
        self.assertEqual([(0, b'\x00' * 3, 0, b'\x00' * 3, 0, 0)] * 3,
                         entries[1:])
        # Three writes: sector 0, primary header and entries, backup
        # entries and header.
        self.assertEqual([0, S, (sectors - 33) * S],
                         [offset for offset, _ in plan.writes])
        self.assertEqual([S, 33 * S, 33 * S],
                         [len(data) for _, data in plan.writes])

    def test_gpt_rebuild_finds_the_drive_where_it_was(self):
        image = self.typical_gpt()
        disk_size = 8 * GIB
        path, first = self.deploy(image, disk_size)
        # Planned again from the deployed disk: the config-2 partition is
        # reused, at the same place.
        deployed = Image(disk_size)
        deployed.put(0, pread(path, 0, 34 * S))
        deployed.put(first.drive_offset, pread(path, first.drive_offset,
                                               64 * 1024))
        again = self.plan(deployed, disk_size)
        self.assertEqual(pt.Plan(first.drive_offset, (), True,
                                 first.partition), again)
        # And the same image planned again gives the same place.
        self.assertEqual(first, self.plan(image, disk_size))

    def test_gpt_on_a_3_tib_disk(self):
        disk_size = 3 * TIB
        sectors = disk_size // S
        path, plan = self.deploy(self.typical_gpt(), disk_size)
        primary = self.assertGptValid(path, sectors)
        self.assertNewGptPartition(primary, plan, 2, sectors)
        self.assertGreater(plan.drive_offset, 2 * TIB)
        _, entries = parse_mbr(path)
        self.assertEqual((0xEE, 1, 0xFFFFFFFF),
                         (entries[0][2], *entries[0][4:]))

    def test_gpt_first_empty_entry_is_used(self):
        image = gpt_image(32 * MIB, {1: (2048, 4095, ESP, 'EFI'),
                                     3: (4096, 8191, LINUX_DATA, 'root')})
        sectors = 8 * GIB // S
        path, plan = self.deploy(image, 8 * GIB)
        primary = self.assertGptValid(path, sectors)
        self.assertNewGptPartition(primary, plan, 0, sectors)
        self.assertEqual(1, plan.partition)
        self.assertEqual('EFI', gpt_entry(primary['entries'], 1)['name'])
        self.assertEqual('root', gpt_entry(primary['entries'], 3)['name'])

    def test_gpt_other_entry_arrays(self):
        sectors = 8 * GIB // S
        for count, entry_size, entries_lba in ((256, 128, 2), (64, 256, 2),
                                               (16, 512, 2), (128, 128, 4),
                                               (5, 128, 2)):
            image = gpt_image(32 * MIB, {0: (2048, 8191, LINUX_DATA, 'r')},
                              count=count, entry_size=entry_size,
                              entries_lba=entries_lba)
            path, plan = self.deploy(image, 8 * GIB)
            primary = self.assertGptValid(path, sectors)
            self.assertEqual((count, entry_size, entries_lba),
                             (primary['count'], primary['entry_size'],
                              primary['entries_lba']))
            self.assertNewGptPartition(primary, plan, 1, sectors)
            self.assertEqual('r', gpt_entry(primary['entries'], 0,
                                            entry_size)['name'])

    def test_gpt_entries_away_from_the_header_are_written_apart(self):
        image = gpt_image(32 * MIB, {0: (2048, 8191, LINUX_DATA, 'r')},
                          entries_lba=4)
        plan = self.plan(image, 8 * GIB)
        self.assertEqual([0, S, 4 * S, (8 * GIB // S - 33) * S],
                         [offset for offset, _ in plan.writes])

    def test_gpt_hybrid_mbr_kept(self):
        mbr = mbr_sector({1: (0xEE, 1, 2047), 2: (0x0C, 2048, 2048, 0x80)})
        image = gpt_image(32 * MIB, {0: (2048, 4095, ESP, 'EFI')}, mbr=mbr)
        path, plan = self.deploy(image, 8 * GIB)
        self.assertEqual(bytes(mbr), pread(path, 0, S))
        self.assertGptValid(path, 8 * GIB // S)

    def test_gpt_disk_size_rounded_down_to_a_sector(self):
        image = self.typical_gpt()
        self.assertEqual(self.plan(image, 8 * GIB),
                         self.plan(image, 8 * GIB + 511))

    def test_gpt_no_empty_entry(self):
        partitions = {i: (2048 * (i + 1), 2048 * (i + 2) - 1, LINUX_DATA,
                          'p%d' % i) for i in range(4)}
        self.assertUnfit('no empty partition entry',
                         gpt_image(32 * MIB, partitions, count=4),
                         8 * GIB)

    def test_gpt_no_empty_entry_linux_sees(self):
        partitions = {i: (100 + i, 100 + i, LINUX_DATA, 'p')
                      for i in range(255)}
        self.assertUnfit('no empty partition entry',
                         gpt_image(32 * MIB, partitions, count=256),
                         8 * GIB)

    def test_gpt_corrupt(self):
        parts = {0: (2048, 8191, LINUX_DATA, 'root')}
        for why, header in (
                ("header's CRC32", dict(fix_crc=False, crc=12345)),
                ('revision 0x00020000', dict(revision=0x00020000)),
                ('header size is 91', dict(header_size=91)),
                ('header size is 600', dict(header_size=600)),
                ('100-byte partition entries', dict(entry_size=100)),
                ('1024-byte partition entries', dict(entry_size=1024)),
                ('100000 partition entries', dict(count=100000)),
                ('at LBA 2', dict(my_lba=2)),
                ('entries are at LBA 1', dict(entries_lba=1)),
                ('first usable LBA, 20, is inside', dict(first_usable=20)),
                ('after its last', dict(last_usable=33)),
                ("ends inside its GPT partition entries",
                 dict(entries_lba=2 ** 40, first_usable=2 ** 41,
                      last_usable=2 ** 42)),
                ("entries' CRC32", dict(entries_crc=1))):
            self.assertUnfit("the image.*" + why,
                             gpt_image(32 * MIB, parts, header=header),
                             8 * GIB)
        self.assertUnfit('partition 1 ends before it starts', gpt_image(
            32 * MIB, {0: (4096, 2048, LINUX_DATA, 'r')}), 8 * GIB)
        self.assertUnfit('partition 2 starts before the first usable',
                         gpt_image(32 * MIB, {1: (10, 2048, LINUX_DATA,
                                                  'r')}), 8 * GIB)

    def test_gpt_header_damaged_after_its_crc(self):
        image = self.typical_gpt()
        image.put(S + 60, b'\x00')    # a byte of the disk GUID
        self.assertUnfit(r"\Athe image's GPT is corrupt: its header's CRC32 "
                         r"does not match\Z", image, 8 * GIB)
        image = self.typical_gpt()
        image.put(2 * S + 40, b'\x01')    # the first partition's start
        self.assertUnfit(r"entries' CRC32 does not match", image, 8 * GIB)

    def test_gpt_protective_mbr_without_a_gpt(self):
        image = Image(32 * MIB)
        image.put(0, mbr_sector({1: (0xEE, 1, 65535)}))
        self.assertUnfit('no partition table', image, 8 * GIB)

    def test_gpt_no_room_on_the_disk(self):
        image = self.typical_gpt()
        self.assertUnfit('no room after the image', image, 32 * MIB)
        self.assertUnfit('no room after the image', image, 96 * MIB)
        # 64 MiB, a MiB of alignment and the backup table: room enough.
        self.plan(image, 98 * MIB)

    def test_gpt_partition_past_the_image_refused_where_it_overlaps(self):
        # The table was made for a 1 GiB disk and its last partition ends
        # there, past the image's end: the disk's last 64 MiB are in use.
        image = gpt_image(32 * MIB, {0: (2048, GIB // S - 34, LINUX_DATA,
                                         'root')},
                          table_sectors=GIB // S)
        self.assertUnfit(r'no room.*image uses sectors up to %d'
                         % (GIB // S - 34), image, GIB + 32 * MIB)
        plan = self.plan(image, GIB + 70 * MIB)
        self.assertGreater(plan.drive_offset, GIB)

    def test_gpt_reuses_a_partition_named_config_2(self):
        image = gpt_image(32 * MIB, {0: (2048, 8191, LINUX_DATA, 'root'),
                                     1: (8192, 8192 + P - 1, LINUX_DATA,
                                         'config-2')})
        self.assertEqual(pt.Plan(8192 * S, (), True, 2),
                         self.plan(image, 8 * GIB))

    def test_gpt_reuses_an_iso_labelled_partition(self):
        image = gpt_image(128 * MIB, {0: (2048, 8191, LINUX_DATA, 'root'),
                                      2: (8192, 8192 + P - 1, LINUX_DATA,
                                          'whatever')})
        image.put(8192 * S + 32768, iso_pvd())
        path, plan = self.deploy(image, 8 * GIB)
        self.assertEqual(pt.Plan(8192 * S, (), True, 3), plan)
        # Nothing else written: the image's own table as it was.
        self.assertEqual(image.bytes()[:34 * S], pread(path, 0, 34 * S))

    def test_gpt_reused_partition_too_small(self):
        image = gpt_image(32 * MIB, {0: (2048, 4095, LINUX_DATA,
                                         'config-2')})
        self.assertUnfit(r"config drive is 1048577 bytes; the image's "
                         r"config-2 partition 1 holds 1048576",
                         image, 8 * GIB, MIB + 1)

    def test_gpt_two_config_2_partitions(self):
        image = gpt_image(32 * MIB, {0: (2048, 4095, LINUX_DATA, 'config-2'),
                                     1: (4096, 8191, LINUX_DATA, 'x')})
        image.put(4096 * S, fat_boot_sector())
        self.assertUnfit(r'2 partitions labelled config-2 \(1, 2\)',
                         image, 8 * GIB)

    # -- MBR ------------------------------------------------------------------

    def test_mbr_new_partition_at_the_disk_end(self):
        image = Image(16 * MIB)
        image.put(0, mbr_sector({1: (0x83, 2048, 16 * MIB // S - 2048,
                                     0x80)}))
        disk_size = 8 * GIB
        sectors = disk_size // S
        path, plan = self.deploy(image, disk_size)
        self.assertEqual((2, False, ((0, pread(path, 0, S)),)),
                         (plan.partition, plan.reused, plan.writes))
        sector, entries = parse_mbr(path)
        # Boot code, disk signature and the image's entry kept.
        self.assertEqual(image.bytes()[:446], sector[:446])
        self.assertEqual(image.bytes()[446:462], sector[446:462])
        flag, chs_start, kind, chs_end, start, size = entries[1]
        self.assertEqual((0, BEYOND_CHS, 0x83, BEYOND_CHS),
                         (flag, chs_start, kind, chs_end))
        self.assertEqual(plan.drive_offset, start * S)
        self.assertEqual(0, start % pt.ALIGN)
        self.assertEqual(sectors, start + size)
        self.assertGreaterEqual(size, P)
        self.assertEqual(bytes(32), sector[478:510])

    def test_mbr_rebuild_finds_the_drive_where_it_was(self):
        image = Image(16 * MIB)
        image.put(0, mbr_sector({1: (0x83, 2048, 8192)}))
        path, first = self.deploy(image, 8 * GIB)
        deployed = Image(8 * GIB)
        deployed.put(0, pread(path, 0, S))
        deployed.put(first.drive_offset, pread(path, first.drive_offset,
                                               64 * 1024))
        self.assertEqual(pt.Plan(first.drive_offset, (), True, 2),
                         self.plan(deployed, 8 * GIB))

    def test_mbr_below_2_tib_on_a_3_tib_disk(self):
        image = Image(16 * MIB)
        image.put(0, mbr_sector({1: (0x83, 2048, 8192)}))
        path, plan = self.deploy(image, 3 * TIB)
        _, entries = parse_mbr(path)
        start, size = entries[1][4:]
        self.assertEqual((2 ** 32 - P, P), (start, size))
        self.assertLessEqual(start + size, 2 ** 32)
        self.assertEqual(start * S, plan.drive_offset)

    def test_mbr_first_free_slot_and_extended_partitions(self):
        image = Image(16 * MIB)
        # An extended partition counts as a primary; its extent bounds the
        # logical partitions inside it.
        image.put(0, mbr_sector({1: (0x83, 2048, 2048),
                                 3: (0x05, 4096, GIB // S)}))
        path, plan = self.deploy(image, 8 * GIB)
        self.assertEqual(2, plan.partition)
        _, entries = parse_mbr(path)
        self.assertEqual((0x05, 4096, GIB // S), (entries[2][2],
                                                  *entries[2][4:]))
        self.assertEqual(0x83, entries[1][2])
        self.assertEqual((0, 0), entries[3][4:])
        # Reaching into the disk's last 64 MiB: no room.
        self.assertUnfit('no room after the image', image, GIB + 64 * MIB)

    def test_mbr_four_primaries(self):
        for last_kind in (0x83, 0x0F):
            image = Image(16 * MIB)
            image.put(0, mbr_sector({slot: (0x83, 2048 * slot, 2048)
                                     for slot in (1, 2, 3)}
                                    | {4: (last_kind, 8192, 2048)}))
            self.assertUnfit('four primary partitions; none is left',
                             image, 8 * GIB)

    def test_mbr_no_room(self):
        image = Image(16 * MIB)
        image.put(0, mbr_sector({1: (0x83, 2048, 16 * MIB // S - 2048)}))
        self.assertUnfit('no room after the image', image, 16 * MIB)
        self.assertUnfit('no room after the image', image, 79 * MIB)
        # The image's partition ends at 16 MiB: 64 MiB more are enough.
        self.assertEqual(16 * MIB, self.plan(image, 80 * MIB).drive_offset)

    def test_mbr_corrupt_entry(self):
        image = Image(16 * MIB)
        image.put(0, mbr_sector({2: (0x83, 0, 2048)}))
        self.assertUnfit('partition 2 starts at sector 0', image, 8 * GIB)

    def test_mbr_reuses_labelled_partitions(self):
        for slot, content, offset in ((1, iso_pvd(), 32768),
                                      (2, fat_boot_sector(), 0),
                                      (3, fat_boot_sector(fat32=False), 0)):
            image = Image(256 * MIB)
            start = 2048 * 64 * slot
            image.put(0, mbr_sector({1: (0x83, 2048 * 64, P),
                                     2: (0x0C, 2048 * 128, P),
                                     3: (0x0C, 2048 * 192, P)}))
            image.put(start * S + offset, content)
            self.assertEqual(pt.Plan(start * S, (), True, slot),
                             self.plan(image, 8 * GIB))

    def test_mbr_other_labels_not_reused(self):
        image = Image(128 * MIB)
        image.put(0, mbr_sector({1: (0x0C, 2048, P)}))
        image.put(2048 * S, fat_boot_sector('config-3'))
        image.put(2048 * S + 32768, iso_pvd('CONFIG'))
        plan = self.plan(image, 8 * GIB)
        self.assertEqual((False, 2), (plan.reused, plan.partition))
        # Without the extended boot signature there is no label.
        boot = fat_boot_sector()
        boot[0x42] = 0
        image.put(2048 * S, boot)
        self.assertFalse(self.plan(image, 8 * GIB).reused)

    def test_mbr_reused_partition_past_the_disk(self):
        # The image says its config-2 partition runs past the disk's end:
        # only what is on the disk counts.
        image = Image(2 * MIB)
        image.put(0, mbr_sector({1: (0x0C, 2048, GIB // S)}))
        image.put(2048 * S, fat_boot_sector())
        self.assertUnfit(r'config-2 partition 1 holds %d\Z' % MIB,
                         image, 2 * MIB, MIB + 1)

    # -- Neither --------------------------------------------------------------

    def test_no_partition_table(self):
        zeros = Image(16 * MIB)
        # A filesystem on the whole image: 0x55AA but no entries.
        superfloppy = Image(16 * MIB)
        superfloppy.put(0, fat_boot_sector())
        # 0x55AA and garbage where the entries would be.
        garbage = Image(16 * MIB)
        sector = bytearray(random.Random(7).randbytes(S))
        sector[446] = 0x37
        sector[510:512] = b'\x55\xaa'
        garbage.put(0, sector)
        tiny = Image(100)
        for image in zeros, superfloppy, garbage, tiny:
            self.assertUnfit(r'\Athe image has no partition table \(MBR or '
                             r'GPT\); a config drive needs one\Z',
                             image, 8 * GIB)

    def test_drive_size(self):
        image = self.typical_gpt()
        for size in pt.MAX_DRIVE + 1, 0, -1:
            self.assertUnfit(r'\Athe config drive is %d bytes; at most 64 '
                             r'MiB fit\Z' % size, image, 8 * GIB, size)
        self.plan(image, 8 * GIB, pt.MAX_DRIVE)

    def test_image_larger_than_the_disk(self):
        self.assertUnfit(r'the image is 33554432 bytes, larger than the '
                         r'33553920-byte disk',
                         self.typical_gpt(), 32 * MIB - 1)

    def test_absurd_disk_size(self):
        self.assertUnfit('more than a partition table can address',
                         self.typical_gpt(), 2 ** 80)

    # -- Bounded, and only Unfit ----------------------------------------------

    def counting_reader(self, buf):
        self.read_bytes = 0
        self.read_calls = 0

        def read(offset, length):
            self.read_calls += 1
            self.read_bytes += length
            return bytes(buf[offset:offset + length])

        return read

    def test_hostile_gpt_work_is_bounded(self):
        # The most entries and the largest ones taken, all in use.
        size = 4 * MIB
        first_usable = 2 + 1024
        partitions = {i: (first_usable + i, first_usable + i, LINUX_DATA,
                          'p') for i in range(1024)}
        image = gpt_image(size, partitions, count=1024, entry_size=512)
        read = self.counting_reader(image.bytes())
        self.assertRaises(pt.Unfit, pt.plan, read, size, 8 * GIB, MIB)
        # Sector 0, the header, the entries, two label checks per entry.
        self.assertLessEqual(self.read_bytes,
                             2 * S + 8 + 1024 * 512 + 1024 * (512 + 72))
        self.assertLessEqual(self.read_calls, 4 + 2 * 1024)
        # Beyond the bounds: refused after reading the header only.
        for header in dict(count=2 ** 32 - 1), dict(entry_size=2 ** 31):
            image = gpt_image(size, {}, header=header)
            read = self.counting_reader(image.bytes())
            self.assertRaises(pt.Unfit, pt.plan, read, size, 8 * GIB, MIB)
            self.assertLessEqual(self.read_bytes, 2 * S + 8)

    def test_random_tables_give_a_plan_or_unfit(self):
        rng = random.Random(20240607)
        interesting = [0, 1, 2, 33, 34, 2047, 2048, 2 ** 31, 2 ** 32 - 1,
                       2 ** 32, 2 ** 63, 2 ** 64 - 1]

        def value(bits):
            if rng.random() < 0.5:
                return rng.choice(interesting) % 2 ** bits
            return rng.getrandbits(bits)

        size = 4 * MIB
        header_fields = dict(header_size=32, my_lba=64, first_usable=64,
                             last_usable=64, entries_lba=64, count=32,
                             entry_size=32)
        outcomes = set()
        for _ in range(400):
            if rng.random() < 0.5:
                override = {name: value(bits)
                            for name, bits in header_fields.items()
                            if rng.random() < 0.1}
                parts = {rng.randrange(8): (value(64), value(64),
                                            rng.choice([LINUX_DATA, ESP]),
                                            rng.choice(['config-2', 'x']))
                         for _ in range(rng.randrange(4))}
                image = gpt_image(size, parts, count=8, header=override)
            else:
                image = Image(size)
                image.put(0, mbr_sector({
                    slot: (rng.choice([0, 0x83, 0x05, 0xEE, 0x0C]),
                           value(32), value(32), rng.choice([0, 0x80, 1]))
                    for slot in range(1, 5) if rng.random() < 0.6}))
            for offset in rng.sample(range(0, size, 32768), 4):
                image.put(offset, rng.choice([iso_pvd(), fat_boot_sector(),
                                              fat_boot_sector(fat32=False)]))
            disk = rng.choice([size, 8 * GIB, 3 * TIB, 2 ** 64 * S - 1,
                               rng.randrange(size, 2 ** 50)])
            drive = rng.choice([1, MIB, pt.MAX_DRIVE])
            read = self.counting_reader(image.bytes())
            try:
                plan = pt.plan(read, size, disk, drive, new_guid=NEW_GUID)
            except pt.Unfit as e:
                self.assertNotIn('\n', str(e))
                outcomes.add(re.sub(r'-?[0-9]+', 'N', str(e)).split(':')[0])
                continue
            disk_bytes = disk // S * S
            for offset, data in plan.writes:
                self.assertLessEqual(offset + len(data), disk_bytes)
            self.assertLessEqual(plan.drive_offset + drive, disk_bytes)
            self.assertGreater(plan.drive_offset, 0)
            outcomes.add('reused' if plan.reused else 'new')
        # The random tables reached the planning, not only refusals.
        self.assertLessEqual({'new', 'reused', "the image's GPT is corrupt",
                              "the image's MBR is corrupt",
                              'the disk has no room after the image for a '
                              'config drive'}, outcomes)
