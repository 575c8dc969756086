r"""A whole-disk Linux image for the lab that reads its config drive.

The lab's instance image when a test needs more than a marker: a raw disk
that the machine's firmware boots into Debian's kernel and a busybox
initramfs whose ``/init`` prints, on the first serial port (ttyS0, 115200,
the machine's console)::

    nova-bm-lab: image <label> booted from disk     (images.marker(label))
    nova-bm-lab: firmware uefi   (or bios: whether /sys/firmware/efi is)
    nova-bm-lab: config-drive uuid=<meta_data.json "uuid">
    nova-bm-lab: config-drive key=<comment of the first public key>
    nova-bm-lab: config-drive user-data=<first "nova-bm-marker:" line>
    nova-bm-lab: config-drive none      (no config-2 filesystem in ~20 s)
    nova-bm-lab: config-drive done

then idles (no power off: a sleeping shell; what is typed on the console
is echoed by the tty, as a login prompt would). The config drive is the
filesystem labelled ``config-2`` (ISO 9660 as Nova's ConfigDriveBuilder
makes it, or vfat) that the deploy writes in a partition of its own after
the image: the image leaves the rest of the disk free.

Two variants, by the firmware that boots them (``build(firmware=)``):

* ``'bios'`` (SeaBIOS): the MBR (SYSLINUX's ``mbr.bin``, one partition
  entry written here), then from 1 MiB to the end one bootable FAT
  partition with SYSLINUX (``ldlinux.sys``, ``ldlinux.c32``),
  ``syslinux.cfg``, the kernel and the initramfs.
* ``'uefi'`` (OVMF): a GPT (protective MBR, 128 entries, the backup in the
  image's last 33 sectors) with one EFI System Partition from 1 MiB to 1
  MiB before the end (that last MiB holds the backup GPT), a FAT holding
  ``\EFI\BOOT\BOOTX64.EFI`` (GRUB, made by ``grub-mkstandalone`` with
  ``GRUB_CFG`` and the few modules it needs in its memdisk), the same
  kernel and the same initramfs. GRUB speaks on the serial port only.

The image is ``SIZE`` (16 MiB), or whole MiBs more when its files need
them. The FAT is made with mtools' ``mformat`` on a file: no loop device,
no root. Kernel and modules come from Debian's ``linux-image-<version>-
amd64`` and busybox from ``busybox-static``, as for the deploy ramdisk
(``nova_bm.ramdisk.builder``, its download cache shared). The same
packages, label and tools give the same bytes: fixed volume serial, disk
signature and GUIDs, file times at 1980-01-01 (``SOURCE_DATE_EPOCH``,
which mtools honours), the initramfs archived as the deploy ramdisk's
(sorted, owner 0, time 0), and GRUB's memdisk rewritten in name order
with the same time on every file (``grub-mkstandalone`` stamps the copies
it archives with the build's time, in the order readdir gives them).
"""

import gzip
import os
import re
import shutil
import tempfile
import uuid
import zlib

from nova_bm.deploy import partition_table
from nova_bm.ramdisk import builder
from nova_bm.testing import images

SECTOR = 512
MIB = 1 << 20
#: The image's size, unless its files need more (then whole MiBs more).
SIZE = 16 * MIB
#: Where the FAT partition starts (sector 2048).
PARTITION_START = MIB
#: What ``build`` can make, by the firmware that boots the image.
FIRMWARES = ('bios', 'uefi')
MBR_CODE = '/usr/lib/syslinux/mbr/mbr.bin'
GRUB_EFI = '/usr/lib/grub/x86_64-efi'
#: The EFI System Partition's GPT type.
ESP_TYPE = uuid.UUID('c12a7328-f81f-11d2-ba4b-00a0c93ec93b')
#: GPT: entries, and sectors for them (128 bytes each).
GPT_ENTRIES = 128
GPT_ENTRIES_SECTORS = GPT_ENTRIES * 128 // SECTOR
#: What the UEFI image leaves free at its end for the backup GPT (which
#: needs GPT_ENTRIES_SECTORS + 1 sectors).
GPT_TAIL = MIB
#: Loaded in this order by /init (modprobe brings what they need).
MODULES = ('virtio_pci', 'virtio_blk', 'virtio_scsi', 'sd_mod', 'nvme',
           'ahci', 'isofs', 'vfat', 'nls_cp437', 'nls_ascii', 'nls_utf8')
#: Seconds /init waits for the config drive to appear.
CONFIG_DRIVE_WAIT = 20

_PREFIX = 'nova-bm-lab: config-drive '
_KERNEL = 'vmlinuz'
_INITRAMFS = 'initrd.gz'
# Fixed, so the same inputs give the same bytes.
_VOLUME_SERIAL = '4e42494d'
_DISK_SIGNATURE = 0x4e42494d
_DISK_GUID = uuid.UUID('7c15dbb1-71df-43f2-a565-87cfbb854e8d')
_ESP_GUID = uuid.UUID('d24dcaf3-91a6-4884-b89b-5dc8c63e0f66')
_ESP_NAME = 'EFI System Partition'
_EFI_BOOT = ('EFI', 'BOOT', 'BOOTX64.EFI')
_EPOCH = '315532800'  # 1980-01-01, FAT's first day
_MTOOLS_ENV = ('MTOOLS_SKIP_CHECK=1', 'MTOOLSRC=/dev/null',
               'SOURCE_DATE_EPOCH=' + _EPOCH, 'TZ=UTC')
#: What a build runs or reads, and the Debian package that has it.
TOOLS = (('mformat', 'mtools'), ('mcopy', 'mtools'), ('mmd', 'mtools'),
         ('syslinux', 'syslinux'), (MBR_CODE, 'syslinux-common'),
         ('grub-mkstandalone', 'grub-common'),
         # grub-mkstandalone --compress=xz runs xz.
         ('xz', 'xz-utils'),
         (os.path.join(GRUB_EFI, 'kernel.img'), 'grub-efi-amd64-bin'),
         ('dpkg-deb', 'dpkg'), ('apt-get', 'apt'), ('apt-cache', 'apt'))
#: GRUB's modules in the UEFI image (with what they depend on): GPT and
#: FAT, finding the ESP, the serial console, booting Linux.
GRUB_MODULES = ('part_gpt', 'fat', 'search', 'serial', 'terminal',
                'normal', 'echo', 'test', 'linux', 'boot', 'efi_gop')
#: Loaded before grub.cfg runs. efi_gop: the firmware's framebuffer, for
#: the kernel (without a video driver GRUB's ``linux`` on UEFI prints
#: "error: no suitable video mode found" and boots "in blind mode").
GRUB_PRELOAD = ('part_gpt', 'fat', 'efi_gop')

SYSLINUX_CFG = """\
SERIAL 0 115200
PROMPT 0
TIMEOUT 0
DEFAULT linux
LABEL linux
  KERNEL /%s
  INITRD /%s
  APPEND console=ttyS0,115200 quiet
""" % (_KERNEL, _INITRAMFS)

#: The UEFI image's GRUB configuration (in its memdisk): the serial port
#: only (OVMF already copies its own console there: GRUB's would be
#: printed twice), no menu, the kernel and initramfs from the ESP.
GRUB_CFG = """\
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=0
set timeout_style=hidden
search --no-floppy --set=root --file /%(kernel)s
menuentry 'nova-bm-lab' {
    linux /%(kernel)s console=ttyS0,115200 quiet
    initrd /%(initramfs)s
}
""" % {'kernel': _KERNEL, 'initramfs': _INITRAMFS}

INIT = r"""#!/bin/sh
# nova-bm lab instance image: /init, PID 1 (busybox sh). Says which image
# booted, reads the config drive (a filesystem labelled config-2), prints
# what it found, then idles.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp /mnt/config

say() { printf 'nova-bm-lab: %s\n' "$*" > /dev/console; }

# The marker on a line of its own (the firmware's and the kernel's last
# words may be escape sequences without a newline).
printf '\n' > /dev/console
cat /etc/nbm-marker > /dev/console
if [ -d /sys/firmware/efi ]; then
    say "firmware uefi"
else
    say "firmware bios"
fi
for module in $(cat /etc/nbm-modules); do
    modprobe -q "$module" 2>/dev/null
done

device=
tries=0
while [ "$tries" -lt "$(cat /etc/nbm-wait)" ]; do
    device=$(findfs LABEL=config-2 2>/dev/null) && [ -n "$device" ] && break
    device=
    tries=$((tries + 1))
    sleep 1
done

if [ -z "$device" ]; then
    say "config-drive none"
elif mount -r -t iso9660 "$device" /mnt/config 2>/dev/null ||
        mount -r -t vfat "$device" /mnt/config 2>/dev/null; then
    latest=/mnt/config/openstack/latest
    json=$(tr -d '\r\n' < "$latest/meta_data.json" 2>/dev/null)
    uuid=$(printf '%s\n' "$json" |
        sed -n 's/.*"uuid" *: *"\([^"]*\)".*/\1/p')
    # The first public key's value; its comment is what follows the key
    # type and the key (Nova's values may end with an escaped newline).
    key=$(printf '%s\n' "$json" |
        sed -n 's/.*"public_keys" *: *{ *"[^"]*" *: *"\([^"]*\)".*/\1/p' |
        sed 's/\\n$//; s/^ *//')
    comment=$(printf '%s\n' "$key" | sed -n 's/^[^ ]* *[^ ]* *//p')
    user_data=$(tr -d '\r' < "$latest/user_data" 2>/dev/null |
        grep -m 1 '^nova-bm-marker:' |
        sed 's/^nova-bm-marker: *//; s/ *$//')
    say "config-drive uuid=$uuid"
    say "config-drive key=$comment"
    say "config-drive user-data=$user_data"
    umount /mnt/config
else
    say "config-drive unreadable: $device (neither ISO 9660 nor vfat)"
fi
say "config-drive done"
while :; do sleep 3600; done
"""


def missing_packages():
    """The Debian packages whose tools a build needs and cannot find."""
    missing = []
    for tool, package in TOOLS:
        found = (os.path.exists(tool) if os.path.isabs(tool)
                 else shutil.which(tool))
        if not found and package not in missing:
            missing.append(package)
    return missing


def _stage(debs, root, work, label):
    """Kernel, modules and busybox from the packages into ``root``;
    :returns: the kernel's path."""
    # The deploy ramdisk's packages: the kernel and busybox come first.
    kernel_deb, busybox_deb = debs[:2]
    unpacked = os.path.join(work, 'kernel')
    builder._run('dpkg-deb', '-x', kernel_deb, unpacked)
    builder._run('dpkg-deb', '-x', busybox_deb, os.path.join(work, 'busybox'))
    (version,) = os.listdir(os.path.join(unpacked, 'lib', 'modules'))
    busybox = os.path.join(work, 'busybox', 'bin', 'busybox')
    modules = os.path.join(unpacked, 'lib', 'modules', version)
    builder._run(busybox, 'depmod', '-b', unpacked, version)
    with open(os.path.join(modules, 'modules.dep')) as f:
        needed = builder._closure(f.read().splitlines(), MODULES)
    for relative in needed:
        target = os.path.join(root, 'lib', 'modules', version, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(modules, relative), target)
    builder._run(busybox, 'depmod', '-b', root, version)
    for name in ('bin', 'proc', 'sys', 'dev', 'etc', 'tmp', 'mnt'):
        os.makedirs(os.path.join(root, name), exist_ok=True)
    shutil.copyfile(busybox, os.path.join(root, 'bin', 'busybox'))
    os.symlink('busybox', os.path.join(root, 'bin', 'sh'))
    for name, text in (('init', INIT),
                       ('etc/nbm-marker', images.marker(label) + '\n'),
                       ('etc/nbm-modules', '\n'.join(MODULES) + '\n'),
                       ('etc/nbm-wait', '%d\n' % CONFIG_DRIVE_WAIT)):
        with open(os.path.join(root, name), 'w') as f:
            f.write(text)
    # Executable in the staging tree; the archive gives 0755.
    for name in ('init', 'bin/busybox'):
        os.chmod(os.path.join(root, name), 0o700)
    return os.path.join(unpacked, 'boot', 'vmlinuz-%s' % version)


def _mtools(*command):
    """``command`` (mtools, or syslinux which runs them) with mtools'
    settings: no checks of the image's geometry, fixed file times."""
    try:
        return builder._run('env', *_MTOOLS_ENV, *command)
    except builder.BuildError as e:
        why = str(e).partition(' failed: ')[2] or str(e)
        raise builder.BuildError('%s failed: %s' % (' '.join(command[:3]),
                                                    why)) from None


def _fat_type(partition):
    """The MBR partition type for the FAT mformat chose."""
    with open(partition, 'rb') as f:
        boot = f.read(SECTOR)
    if boot[82:90] == b'FAT32   ':
        return 0x0c
    if boot[54:62] == b'FAT16   ':
        return 0x0e
    if boot[54:62] == b'FAT12   ':
        return 0x01
    raise builder.BuildError('mformat made no FAT12/16/32 file system')


def _chs(lba):
    """CHS of ``lba`` for a 255-head, 63-sector geometry (MBR bytes)."""
    cylinder, rest = divmod(lba, 255 * 63)
    if cylinder > 1023:
        return bytes([0xfe, 0xff, 0xff])
    head, sector = divmod(rest, 63)
    return bytes([head, ((cylinder >> 2) & 0xc0) | (sector + 1),
                  cylinder & 0xff])


def _mbr(partition_type, start, sectors):
    with open(MBR_CODE, 'rb') as f:
        code = f.read()
    if len(code) > 440:
        raise builder.BuildError('%s is longer than 440 bytes' % MBR_CODE)
    mbr = bytearray(SECTOR)
    mbr[:len(code)] = code
    mbr[440:444] = _DISK_SIGNATURE.to_bytes(4, 'little')
    mbr[446:462] = (bytes([0x80]) + _chs(start) + bytes([partition_type])
                    + _chs(start + sectors - 1)
                    + start.to_bytes(4, 'little')
                    + sectors.to_bytes(4, 'little'))
    mbr[510:512] = b'\x55\xaa'
    return bytes(mbr)


def gpt(disk_sectors, first, last):
    """The UEFI image's GPT: one EFI System Partition, sectors ``first`` to
    ``last`` (inclusive) of a ``disk_sectors``-sector disk.

    :returns: ``(head, tail)``: the protective MBR, the primary header and
        the entries (sectors 0 to 33); the backup entries and header (the
        disk's last 33 sectors).
    """
    entries_lba = 2
    backup_lba = disk_sectors - 1
    backup_entries_lba = backup_lba - GPT_ENTRIES_SECTORS
    header = partition_table._GptHeader(
        revision=partition_table._GPT_REVISION,
        first_usable=entries_lba + GPT_ENTRIES_SECTORS,
        last_usable=backup_entries_lba - 1, disk_guid=_DISK_GUID.bytes_le,
        entries_lba=entries_lba, count=GPT_ENTRIES, entry_size=128)
    if not header.first_usable <= first <= last <= header.last_usable:
        raise ValueError('the partition (%d to %d) is outside the usable '
                         'sectors of a %d-sector disk'
                         % (first, last, disk_sectors))
    entry = partition_table._GPT_ENTRY.pack(
        ESP_TYPE.bytes_le, _ESP_GUID.bytes_le, first, last, 0,
        _ESP_NAME.encode('utf-16-le').ljust(72, b'\x00'))
    entries = entry.ljust(GPT_ENTRIES * 128, b'\x00')
    crc = zlib.crc32(entries)
    primary = partition_table._gpt_header_sector(
        header, 1, backup_lba, entries_lba, header.last_usable, crc)
    backup = partition_table._gpt_header_sector(
        header, backup_lba, 1, backup_entries_lba, header.last_usable, crc)
    return (_protective_mbr(disk_sectors) + primary + entries,
            entries + backup)


def _protective_mbr(disk_sectors):
    """Sector 0 of a GPT disk: one entry of type 0xEE over the disk (from
    LBA 1, at most 2^32 - 1 sectors), no boot code."""
    mbr = bytearray(SECTOR)
    mbr[446:462] = partition_table._MBR_ENTRY.pack(
        0x00, _chs(1), partition_table._MBR_PROTECTIVE,
        _chs(disk_sectors - 1), 1,
        min(disk_sectors - 1, partition_table._MBR_MAX_SIZE))
    mbr[510:512] = b'\x55\xaa'
    return bytes(mbr)


def _grub(work):
    """GRUB for x86_64 UEFI with GRUB_CFG: the bytes of BOOTX64.EFI."""
    config = os.path.join(work, 'grub.cfg')
    with open(config, 'w') as f:
        f.write(GRUB_CFG)
    efi = os.path.join(work, 'grub.efi')
    builder._run('grub-mkstandalone', '--format=x86_64-efi',
                 '--directory=' + GRUB_EFI, '--output=' + efi,
                 '--install-modules=' + ' '.join(GRUB_MODULES),
                 '--modules=' + ' '.join(GRUB_PRELOAD), '--compress=xz',
                 '--fonts=', '--locales=', '--themes=',
                 'boot/grub/grub.cfg=' + config)
    with open(efi, 'rb') as f:
        return _same_memdisk(f.read())


def _tar_header(data, at):
    """Whether a ustar header with a right checksum is at ``at``."""
    header = data[at:at + SECTOR]
    if len(header) < SECTOR or header[257:262] != b'ustar':
        return False
    try:
        checksum = int(header[148:156].strip(b' \x00'), 8)
    except ValueError:
        return False
    return checksum == sum(header[:148]) + 8 * 32 + sum(header[156:])


def _same_memdisk(efi):
    """``efi`` (from grub-mkstandalone) with its memdisk's tar members in
    name order, each stamped 1980-01-01: the same modules and
    configuration give the same bytes (and always the same size)."""
    data = bytearray(efi)
    start = data.find(b'ustar')
    while start >= 0 and not _tar_header(data, start - 257):
        start = data.find(b'ustar', start + 1)
    if start < 0:
        raise builder.BuildError('grub-mkstandalone made an image with no '
                                 'memdisk')
    start = at = start - 257
    members = []
    while _tar_header(data, at):
        size = int(data[at + 124:at + 136].strip(b' \x00'), 8)
        end = at + SECTOR + -(-size // SECTOR) * SECTOR
        member = bytearray(data[at:end])
        member[136:148] = b'%011o\x00' % int(_EPOCH)
        member[148:156] = b' ' * 8
        member[148:156] = b'%06o\x00 ' % sum(member[:SECTOR])
        members.append(bytes(member))
        at = end
    data[start:at] = b''.join(sorted(members, key=lambda m: m[:100]))
    return bytes(data)


def _check_label(label):
    if not label or len(label) > 64 or not all(
            ' ' <= c <= '~' for c in label):
        raise ValueError('label must be 1 to 64 printable ASCII characters')


def build(path, label, cache, firmware='bios'):
    """Write the raw image to ``path`` (prints marker(label) at boot, then
    the firmware and config-drive lines). ``cache``: the .deb download cache
    dir (shared with the deploy ramdisk's). ``firmware``: 'bios' (MBR,
    SYSLINUX) or 'uefi' (GPT, an EFI System Partition, GRUB). Returns the
    image size in bytes. Raises nova_bm.ramdisk.builder.BuildError (one
    line) when a tool or package is missing, ValueError on a bad label or
    firmware."""
    _check_label(label)
    if firmware not in FIRMWARES:
        raise ValueError('firmware must be one of %s' % ', '.join(FIRMWARES))
    missing = missing_packages()
    if missing:
        raise builder.BuildError('the lab\'s Linux image needs Debian\'s %s'
                                 % ', '.join(missing))
    uefi = firmware == 'uefi'
    debs = builder.fetch(cache)
    with tempfile.TemporaryDirectory(prefix='nova-bm-linux-image-') as work:
        root = os.path.join(work, 'root')
        os.makedirs(root)
        vmlinuz = _stage(debs, root, work, label)
        files = os.path.join(work, 'files')
        os.makedirs(files)
        shutil.copyfile(vmlinuz, os.path.join(files, _KERNEL))
        with open(os.path.join(files, _INITRAMFS), 'wb') as f:
            with gzip.GzipFile(fileobj=f, mode='wb', mtime=0) as gz:
                gz.write(builder._cpio(root))
        # In the FAT's root, and (UEFI) GRUB in \EFI\BOOT.
        paths = []
        efi = os.path.join(work, _EFI_BOOT[-1])
        if uefi:
            with open(efi, 'wb') as f:
                f.write(_grub(work))
            os.utime(efi, (int(_EPOCH),) * 2)
        else:
            with open(os.path.join(files, 'syslinux.cfg'), 'w') as f:
                f.write(SYSLINUX_CFG)
        for name in sorted(os.listdir(files)):
            paths.append(os.path.join(files, name))
            os.utime(paths[-1], (int(_EPOCH),) * 2)

        # Room for the files, FAT's own sectors and SYSLINUX; on UEFI the
        # last MiB for the backup GPT.
        tail = GPT_TAIL if uefi else 0
        payload = sum(os.path.getsize(p) for p in paths)
        if uefi:
            payload += os.path.getsize(efi)
        size = max(SIZE, -(-(PARTITION_START + payload * 9 // 8 + 2 * MIB
                             + tail) // MIB) * MIB)
        start = PARTITION_START // SECTOR
        sectors = (size - PARTITION_START - tail) // SECTOR
        partition = os.path.join(work, 'partition.img')
        with open(partition, 'wb') as f:
            f.truncate(sectors * SECTOR)
        _mtools('mformat', '-i', partition, '-T', str(sectors),
                '-h', '255', '-s', '63', '-H', str(start),
                # 2 KiB clusters: FAT16 (4085 to 65524 clusters) from 8
                # to 128 MiB, as common as FAT gets.
                '-c', '4',
                '-N', _VOLUME_SERIAL, '-v', 'NOVA-BM', '::')
        _mtools('mcopy', '-i', partition, '-m', '-o', *paths, '::')
        if uefi:
            boot = '::/' + '/'.join(_EFI_BOOT[:-1])
            _mtools('mmd', '-i', partition, '::/' + _EFI_BOOT[0], boot)
            _mtools('mcopy', '-i', partition, '-m', '-o', efi, boot)
            head, table_tail = gpt(size // SECTOR, start,
                                   start + sectors - 1)
        else:
            _mtools('syslinux', '--install', partition)
            head = _mbr(_fat_type(partition), start, sectors)
            table_tail = b''

        tmp = '%s.%d.tmp' % (path, os.getpid())
        try:
            with open(tmp, 'wb') as out:
                out.write(head)
                out.truncate(PARTITION_START)
                out.seek(PARTITION_START)
                with open(partition, 'rb') as f:
                    shutil.copyfileobj(f, out, MIB)
                out.truncate(size)
                out.seek(size - len(table_tail))
                out.write(table_tail)
                size = out.tell()
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return size


# Where a boot starts: SeaBIOS's banner; OVMF's first words of a boot
# option (Debian 12's OVMF prints nothing else of its own on the serial
# port but escape sequences: a line per option it tries, 'BdsDxe: failed
# to load Boot0001 "UEFI QEMU DVD-ROM ..." ...' or 'BdsDxe: loading
# Boot0002 ...' then 'BdsDxe: starting Boot0002 ...', all before the
# image's lines); the image's marker.
_BOOT = re.compile(r'SeaBIOS \(version|BdsDxe: (?:loading|failed to load) '
                   r'Boot|nova-bm-lab: image ')
_LINE = re.compile(re.escape(_PREFIX) + r'(uuid|key|user-data)=(.*)')
_FIRMWARE = re.compile(r'nova-bm-lab: firmware (uefi|bios)\s*$')


def lines(serial_text):
    """Parse the image's lines from a console log: {'firmware': 'uefi' or
    'bios', 'uuid':..., 'key':..., 'user-data':..., 'none': bool, 'done':
    bool} (the LAST boot's values: the log may hold several boots).

    A boot starts at its firmware's banner (SeaBIOS) or boot option lines
    (OVMF) or at the image's marker; a value not printed (yet) is None."""
    starts = [m.start() for m in _BOOT.finditer(serial_text)]
    text = serial_text[starts[-1]:] if starts else serial_text
    found = {'firmware': None, 'uuid': None, 'key': None, 'user-data': None,
             'none': False, 'done': False}
    for line in text.replace('\r', '\n').split('\n'):
        match = _LINE.search(line)
        firmware = _FIRMWARE.search(line)
        if firmware:
            if found['firmware'] is None:
                found['firmware'] = firmware.group(1)
        elif match:
            if found[match.group(1)] is None:
                found[match.group(1)] = match.group(2).rstrip()
        elif line.rstrip().endswith(_PREFIX + 'none'):
            found['none'] = True
        elif line.rstrip().endswith(_PREFIX + 'done'):
            found['done'] = True
    return found
