"""Where a config drive goes on a whole-disk image, and the bytes that make
the image's partition table say so.

Why: the deploy ramdisk writes a tenant's raw whole-disk image to the root
disk with ``dd`` and is busybox only (no sgdisk, no parted). A config drive
(an ISO 9660 image labelled ``config-2``, at most 64 MiB) must then go into a
partition of its own at the END of the disk, as ironic-python-agent does
(``partition_utils.create_config_drive_partition``): the proxy computes here
every byte of the partition-table edit, and the ramdisk only writes them
with ``dd ... seek=``.

Same semantics as ironic-python-agent:

* a partition of the image already holding a filesystem labelled config-2
  (or, on GPT, named config-2) receives the drive, nothing else changes;
* otherwise a new partition of ``PARTITION_BYTES`` (aligned down to 1 MiB,
  running to the end of the usable space) is added after everything the
  image's partitions use: on GPT in the first empty entry, with the backup
  header and entries moved to the disk's end (``sgdisk -e``) and the
  protective MBR grown to the disk; on MBR in a free primary slot (an
  extended partition counts as one), below 2 TiB (32-bit sectors).

Unlike ironic-python-agent: a reused partition's GPT is left as the image
has it (IPA also moves its backup to the disk's end); the new MBR
partition's type is 0x83 (parted's ``mkpart primary fat32`` gives 0x0C);
a pure protective MBR is grown to the disk, a hybrid one kept as it is.

What a caller may rely on:

* ``plan`` reads the image only through ``read`` and never more than about
  1.1 MiB in all, whatever the image says (at most 1024 GPT entries of at
  most 512 bytes, and at most 584 bytes per partition for the label checks);
  it runs no command and writes nothing.
* It returns a ``Plan`` or raises ``Unfit``, whose ``str`` is one line fit
  for the operator and the tenant. The image is the tenant's: no content of
  it makes ``plan`` raise anything else (wrong argument types are a
  caller's bug and raise what Python raises).
* Applied after the image (the table edits may land on bytes of the image,
  its old GPT backup, and the drive on bytes of the image that no partition
  uses): the drive's bytes at ``Plan.drive_offset`` and each of
  ``Plan.writes`` in turn. The drive and the table edits never overlap;
  nova-bm's ramdisk writes the drive first, so no table ever names a
  half-written drive. Every write and the drive lie inside the disk (its
  size rounded down to a sector).
* The same image on a disk of the same size gives the same place: a rebuild
  finds the config drive where it was.
"""

import dataclasses
import struct
import uuid
import zlib

SECTOR = 512
MAX_DRIVE = 64 * 1024 * 1024      # bytes: largest config drive
# The new partition is always 64 MiB, like IPA, so a rebuild finds it at the
# same place whatever the size of the drive.
PARTITION_BYTES = MAX_DRIVE
ALIGN = 2048                       # sectors (1 MiB)

_LABEL = 'config-2'

_PARTITION_SECTORS = PARTITION_BYTES // SECTOR

_NO_TABLE = ('the image has no partition table (MBR or GPT); a config drive '
             'needs one')

# MBR: four 16-byte entries at byte 446, then 0x55AA.
_MBR_ENTRIES = 446
_MBR_SIGNATURE = b'\x55\xaa'
_MBR_ENTRY = struct.Struct('<B3sB3sII')
_MBR_PROTECTIVE = 0xEE
_MBR_EXTENDED = (0x05, 0x0F, 0x85)
_MBR_LINUX = 0x83
_MBR_LIMIT = 2 ** 32          # sectors an MBR entry can address
_MBR_MAX_SIZE = 0xFFFFFFFF
# "Beyond what CHS can say" (cylinder 1023, head 254, sector 63): what
# fdisk and parted write past 8 GiB.
_CHS_BEYOND = b'\xfe\xff\xff'

# GPT (UEFI 2.x, chapter 5.3), all little-endian.
_GPT_SIGNATURE = b'EFI PART'
_GPT_REVISION = 0x00010000
_GPT_HEADER = struct.Struct('<8sIIIIQQQQ16sQIII')   # the 92 defined bytes
_GPT_ENTRY = struct.Struct('<16s16sQQQ72s')          # the 128 defined bytes
_GPT_MAX_ENTRIES = 1024       # bounds the work on a hostile header
_GPT_MAX_ENTRY_SIZE = 512
_GPT_EMPTY = bytes(16)
# Linux sees at most DISK_MAX_PARTS (256) partitions of a disk, and
# block/partitions/efi.c reads entries while i < state->limit - 1: a
# partition in entry 256 or later would not appear.
_LINUX_MAX_PARTITIONS = 255
_LINUX_DATA = uuid.UUID('0fc63daf-8483-4772-8e79-3d69d8477de4')
_MAX_LBA = 2 ** 64 - 1

# Filesystem labels, read at bounded offsets from a partition's start.
_ISO_PVD = 16 * 2048          # the first volume descriptor
_ISO_PVD_START = b'\x01CD001'  # type 1 (primary) and the standard id
_ISO_LABEL = slice(40, 72)    # volume identifier, space-padded
_ISO_READ = 72


def file_reader(path):
    """A ``read(offset, length)`` over the raw image at ``path``, for
    :func:`plan` (each call opens it: plan reads a few times, bounded)."""
    def read(offset, length):
        with open(path, 'rb') as f:
            f.seek(offset)
            return f.read(length)
    return read


class Unfit(Exception):
    """One line saying why the config drive cannot be written (str(e) is
    shown to the operator/tenant)."""


@dataclasses.dataclass(frozen=True)
class Plan:
    # byte offset on the disk where the drive's bytes go
    drive_offset: int
    # ((byte_offset, bytes), ...) table edits, in the order to write them;
    # empty when reused
    writes: tuple
    # True: an existing config-2 partition of the image receives the drive
    reused: bool
    # 1-based partition number the drive is in (what the kernel will call it)
    partition: int


@dataclasses.dataclass(frozen=True)
class _Partition:
    number: int       # 1-based, as the kernel numbers it
    first: int        # first sector
    last: int         # last sector, inclusive
    named: bool = False   # a GPT partition named config-2


def plan(read, image_size, disk_size, drive_size, new_guid=None):
    """Where the config drive goes, and the table edits that make it so.

    :param read: read(offset, length) -> bytes of the raw image (may return
        fewer bytes at its end).
    :param image_size: bytes of the raw image.
    :param disk_size: bytes of the target disk (from the ramdisk: untrusted
        but an int); rounded down to a sector.
    :param drive_size: bytes of the config drive.
    :param new_guid: uuid.UUID for a new GPT partition (default: uuid4).
    :returns: a Plan.
    :raises: Unfit
    """
    disk_sectors = _check_sizes(image_size, disk_size, drive_size)
    image = _Image(read, image_size)
    sector0 = image.read(0, SECTOR)
    entries = _mbr_entries(sector0)
    if any(entry[2] == _MBR_PROTECTIVE for entry in entries):
        if image.read(SECTOR, len(_GPT_SIGNATURE)) != _GPT_SIGNATURE:
            raise Unfit(_NO_TABLE)
        if new_guid is None:
            new_guid = uuid.uuid4()
        return _plan_gpt(image, sector0, entries, disk_sectors, drive_size,
                         new_guid)
    return _plan_mbr(image, sector0, entries, disk_sectors, drive_size)


def _check_sizes(image_size, disk_size, drive_size):
    """The disk's size in sectors, once the sizes are known to fit."""
    if not 0 < drive_size <= MAX_DRIVE:
        raise Unfit('the config drive is %d bytes; at most 64 MiB fit'
                    % drive_size)
    disk_sectors = disk_size // SECTOR
    if disk_sectors > _MAX_LBA:
        raise Unfit('the disk reports %d bytes, more than a partition table '
                    'can address' % disk_size)
    if image_size > disk_sectors * SECTOR:
        raise Unfit('the image is %d bytes, larger than the %d-byte disk'
                    % (image_size, disk_sectors * SECTOR))
    return disk_sectors


class _Image:
    """Reads of the image that never go past its end."""

    def __init__(self, read, size):
        self._read = read
        self.size = size

    def read(self, offset, length):
        """Up to ``length`` bytes at ``offset``: fewer at the image's end."""
        length = min(length, self.size - offset)
        if offset < 0 or length <= 0:
            return b''
        return bytes(self._read(offset, length))[:length]

    def read_exact(self, offset, length, what):
        data = self.read(offset, length)
        if len(data) != length:
            raise Unfit('the image ends inside its %s' % what)
        return data


def _align_down(sector):
    return sector // ALIGN * ALIGN


def _no_room(start, used_end):
    return Unfit('the disk has no room after the image for a config drive: '
                 'a %d MiB partition at its end would start at sector %d, '
                 'the image uses sectors up to %d'
                 % (PARTITION_BYTES // 2 ** 20, start, used_end))


# -- MBR ----------------------------------------------------------------------

def _mbr_entries(sector0):
    """The four primary entries, (boot, chs, type, chs, start, size) each.

    Refuses what is not an MBR: no 0x55AA, or a boot flag other than 0x00
    and 0x80 (as Linux does: a bare FAT or NTFS boot sector also ends in
    0x55AA, with boot code where the entries would be).
    """
    if len(sector0) < SECTOR or sector0[510:512] != _MBR_SIGNATURE:
        raise Unfit(_NO_TABLE)
    entries = [_MBR_ENTRY.unpack_from(sector0, _MBR_ENTRIES + 16 * i)
               for i in range(4)]
    if any(entry[0] not in (0x00, 0x80) for entry in entries):
        raise Unfit(_NO_TABLE)
    return entries


def _plan_mbr(image, sector0, entries, disk_sectors, drive_size):
    used = [(slot, entry) for slot, entry in enumerate(entries, 1)
            if entry[2]]
    if not used:
        # 0x55AA and four empty entries: as likely a bare filesystem's boot
        # sector as a table, and nothing a tenant could boot either way.
        raise Unfit(_NO_TABLE)
    for slot, entry in used:
        if entry[4] == 0:
            raise Unfit("the image's MBR is corrupt: partition %d starts at "
                        "sector 0" % slot)
    # Logical partitions lie inside their extended partition: its extent
    # bounds them, so the chain of EBRs is not walked.
    partitions = [_Partition(slot, entry[4], entry[4] + entry[5] - 1)
                  for slot, entry in used
                  if entry[5] and entry[2] not in _MBR_EXTENDED]
    reused = _reuse(image, partitions, disk_sectors, drive_size)
    if reused:
        return reused
    free = [slot for slot, entry in enumerate(entries, 1) if not entry[2]]
    if not free:
        raise Unfit("the image's MBR has four primary partitions; none is "
                    "left for a config drive")
    limit = min(disk_sectors, _MBR_LIMIT)
    start = _align_down(limit - _PARTITION_SECTORS)
    used_end = max(entry[4] + entry[5] - 1 for _, entry in used)
    if start <= used_end:
        raise _no_room(start, used_end)
    slot = free[0]
    entry = _MBR_ENTRY.pack(0x00, _CHS_BEYOND, _MBR_LINUX, _CHS_BEYOND,
                            start, limit - start)
    at = _MBR_ENTRIES + 16 * (slot - 1)
    new_sector0 = sector0[:at] + entry + sector0[at + 16:]
    return Plan(drive_offset=start * SECTOR, writes=((0, new_sector0),),
                reused=False, partition=slot)


# -- GPT ----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _GptHeader:
    revision: int
    first_usable: int
    last_usable: int
    disk_guid: bytes
    entries_lba: int
    count: int
    entry_size: int

    @property
    def entries_bytes(self):
        return self.count * self.entry_size

    @property
    def entries_sectors(self):
        return -(-self.entries_bytes // SECTOR)


def _gpt_corrupt(why):
    return Unfit("the image's GPT is corrupt: %s" % why)


def _read_gpt_header(image):
    """The primary header at LBA 1, checked."""
    raw = image.read_exact(SECTOR, SECTOR, 'GPT header')
    (signature, revision, header_size, header_crc, _reserved, my_lba,
     _alternate, first_usable, last_usable, disk_guid, entries_lba, count,
     entry_size, entries_crc) = _GPT_HEADER.unpack_from(raw)
    if revision != _GPT_REVISION:
        raise Unfit("the image's GPT has revision 0x%08x; nova-bm knows "
                    "1.0 only" % revision)
    if not _GPT_HEADER.size <= header_size <= SECTOR:
        raise _gpt_corrupt('its header size is %d bytes' % header_size)
    # The CRC covers header_size bytes with the CRC field itself zeroed.
    zeroed = raw[:16] + bytes(4) + raw[20:header_size]
    if zlib.crc32(zeroed) != header_crc:
        raise _gpt_corrupt("its header's CRC32 does not match")
    if my_lba != 1:
        raise _gpt_corrupt('its primary header says it is at LBA %d'
                           % my_lba)
    if (entry_size % 128 or not 128 <= entry_size <= _GPT_MAX_ENTRY_SIZE):
        raise Unfit("the image's GPT has %d-byte partition entries; nova-bm "
                    "handles 128 to %d in steps of 128"
                    % (entry_size, _GPT_MAX_ENTRY_SIZE))
    if count > _GPT_MAX_ENTRIES:
        raise Unfit("the image's GPT has %d partition entries; nova-bm "
                    "handles at most %d" % (count, _GPT_MAX_ENTRIES))
    header = _GptHeader(revision, first_usable, last_usable, disk_guid,
                        entries_lba, count, entry_size)
    if entries_lba < 2:
        raise _gpt_corrupt('its partition entries are at LBA %d'
                           % entries_lba)
    if entries_lba + header.entries_sectors > first_usable:
        raise _gpt_corrupt('its first usable LBA, %d, is inside its '
                           'partition entries' % first_usable)
    if first_usable > last_usable:
        raise _gpt_corrupt('its first usable LBA, %d, is after its last, %d'
                           % (first_usable, last_usable))
    return header, entries_crc


def _read_gpt_entries(image, header, entries_crc):
    raw = image.read_exact(header.entries_lba * SECTOR, header.entries_bytes,
                           'GPT partition entries')
    if zlib.crc32(raw) != entries_crc:
        raise _gpt_corrupt("its partition entries' CRC32 does not match")
    return raw


def _gpt_partitions(header, raw):
    """The used entries as _Partition, checked."""
    partitions = []
    for index in range(header.count):
        type_guid, _unique, first, last, _attributes, name = (
            _GPT_ENTRY.unpack_from(raw, index * header.entry_size))
        if type_guid == _GPT_EMPTY:
            continue
        if first > last:
            raise _gpt_corrupt('partition %d ends before it starts'
                               % (index + 1))
        if first < header.first_usable:
            raise _gpt_corrupt('partition %d starts before the first usable '
                               'LBA' % (index + 1))
        name = name.decode('utf-16-le', 'replace').split('\x00', 1)[0]
        partitions.append(_Partition(index + 1, first, last,
                                     named=name.lower() == _LABEL))
    return partitions


def _first_empty_entry(header, raw):
    """The 0-based index of the first empty entry Linux will see."""
    for index in range(min(header.count, _LINUX_MAX_PARTITIONS)):
        at = index * header.entry_size
        if raw[at:at + 16] == _GPT_EMPTY:
            return index
    raise Unfit("the image's GPT has no empty partition entry left for a "
                "config drive")


def _plan_gpt(image, sector0, mbr_entries, disk_sectors, drive_size,
              new_guid):
    header, entries_crc = _read_gpt_header(image)
    raw = _read_gpt_entries(image, header, entries_crc)
    partitions = _gpt_partitions(header, raw)
    reused = _reuse(image, partitions, disk_sectors, drive_size)
    if reused:
        return reused
    index = _first_empty_entry(header, raw)

    # The new layout: backup entries then backup header in the disk's last
    # sectors, the usable space up to just before them, the new partition
    # at its end.
    backup_lba = disk_sectors - 1
    backup_entries_lba = backup_lba - header.entries_sectors
    last_usable = backup_entries_lba - 1
    start = _align_down(last_usable + 1 - _PARTITION_SECTORS)
    used_end = max([p.last for p in partitions] + [header.first_usable - 1])
    if start <= used_end:
        raise _no_room(start, used_end)

    entry = _GPT_ENTRY.pack(_LINUX_DATA.bytes_le, new_guid.bytes_le, start,
                            last_usable, 0,
                            _LABEL.encode('utf-16-le').ljust(72, b'\x00'))
    at = index * header.entry_size
    entries = (raw[:at] + entry.ljust(header.entry_size, b'\x00')
               + raw[at + header.entry_size:])
    padded = entries.ljust(header.entries_sectors * SECTOR, b'\x00')
    crc = zlib.crc32(entries)
    primary = _gpt_header_sector(header, 1, backup_lba, header.entries_lba,
                                 last_usable, crc)
    backup = _gpt_header_sector(header, backup_lba, 1, backup_entries_lba,
                                last_usable, crc)
    writes = [(0, _protective_mbr(sector0, mbr_entries, disk_sectors))]
    if header.entries_lba == 2:
        # The usual layout: one write for the header and its entries.
        writes.append((SECTOR, primary + padded))
    else:
        writes += [(SECTOR, primary), (header.entries_lba * SECTOR, padded)]
    writes.append((backup_entries_lba * SECTOR, padded + backup))
    return Plan(drive_offset=start * SECTOR, writes=tuple(writes),
                reused=False, partition=index + 1)


def _gpt_header_sector(header, my_lba, alternate_lba, entries_lba,
                       last_usable, entries_crc):
    """A header sector: the 92 defined bytes (header size 92), then zeros."""
    fields = [_GPT_SIGNATURE, header.revision, _GPT_HEADER.size, 0, 0,
              my_lba, alternate_lba, header.first_usable, last_usable,
              header.disk_guid, entries_lba, header.count, header.entry_size,
              entries_crc]
    fields[3] = zlib.crc32(_GPT_HEADER.pack(*fields))
    return _GPT_HEADER.pack(*fields).ljust(SECTOR, b'\x00')


def _protective_mbr(sector0, entries, disk_sectors):
    """Sector 0 with its protective entry grown to the disk.

    Only a pure protective MBR (one entry, type 0xEE, from LBA 1) is
    changed; a hybrid MBR's entries describe the image's layout on purpose
    and are kept as they are.
    """
    used = [(slot, entry) for slot, entry in enumerate(entries)
            if entry[2]]
    if len(used) != 1 or used[0][1][4] != 1:
        return sector0
    slot = used[0][0]
    size_at = _MBR_ENTRIES + 16 * slot + 12
    size = min(disk_sectors - 1, _MBR_MAX_SIZE)
    return sector0[:size_at] + struct.pack('<I', size) + sector0[size_at + 4:]


# -- An existing config-2 partition ------------------------------------------

def _reuse(image, partitions, disk_sectors, drive_size):
    """The plan writing the drive into the image's config-2 partition, or
    None when it has none."""
    found = [p for p in partitions
             if p.named or _has_config_label(image, p.first * SECTOR)]
    if not found:
        return None
    if len(found) > 1:
        raise Unfit('the image has %d partitions labelled %s (%s); the '
                    'config drive can go in one only'
                    % (len(found), _LABEL,
                       ', '.join(str(p.number) for p in found)))
    partition = found[0]
    room = (min(partition.last + 1, disk_sectors) - partition.first) * SECTOR
    if drive_size > room:
        raise Unfit("the config drive is %d bytes; the image's %s partition "
                    "%d holds %d" % (drive_size, _LABEL, partition.number,
                                     max(room, 0)))
    return Plan(drive_offset=partition.first * SECTOR, writes=(),
                reused=True, partition=partition.number)


def _has_config_label(image, offset):
    label = _iso_label(image.read(offset + _ISO_PVD, _ISO_READ))
    if label is None:
        label = _fat_label(image.read(offset, SECTOR))
    if label is None:
        return False
    text = label.decode('ascii', 'replace').rstrip(' \x00')
    return text.lower() == _LABEL


def _iso_label(pvd):
    if len(pvd) < _ISO_READ or not pvd.startswith(_ISO_PVD_START):
        return None
    return pvd[_ISO_LABEL]


def _fat_label(boot):
    """The volume label of a FAT boot sector, or None.

    FAT12/16 and FAT32 keep it at different offsets; FAT32 is the one whose
    16-bit sectors-per-FAT (0x16) is zero. The label is there only with the
    extended boot signature 0x29.
    """
    if len(boot) < SECTOR or boot[510:512] != _MBR_SIGNATURE:
        return None
    if int.from_bytes(boot[0x16:0x18], 'little'):
        signature, label, fs_type = 0x26, 0x2B, 0x36
    else:
        signature, label, fs_type = 0x42, 0x47, 0x52
    if boot[signature] != 0x29 or boot[fs_type:fs_type + 3] != b'FAT':
        return None
    return boot[label:label + 11]
