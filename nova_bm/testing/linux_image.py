"""A whole-disk Linux image for the lab that reads its config drive.

The lab's instance image when a test needs more than a marker: a raw disk
(MBR, SYSLINUX) that SeaBIOS boots into Debian's kernel and a busybox
initramfs whose ``/init`` prints, on the first serial port (ttyS0, 115200,
the machine's console)::

    nova-bm-lab: image <label> booted from disk     (images.marker(label))
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

Layout (``SIZE``, 16 MiB): the MBR (SYSLINUX's ``mbr.bin``, one partition
entry written here), then from 1 MiB to the end one bootable FAT partition
(made with mtools' ``mformat`` on a file, no loop device, no root) with
SYSLINUX (``ldlinux.sys``, ``ldlinux.c32``), ``syslinux.cfg``, the kernel
and the initramfs. Kernel and modules come from Debian's
``linux-image-<version>-amd64`` and busybox from ``busybox-static``, as for
the deploy ramdisk (``nova_bm.ramdisk.builder``, its download cache
shared). The same packages, label and tools give the same bytes: fixed
volume serial and disk signature, file times at 1980-01-01
(``SOURCE_DATE_EPOCH``, which mtools honours), the initramfs archived as
the deploy ramdisk's (sorted, owner 0, time 0).
"""

import gzip
import os
import re
import shutil
import tempfile

from nova_bm.ramdisk import builder
from nova_bm.testing import images

SECTOR = 512
MIB = 1 << 20
#: The image's size, unless its files need more (then whole MiBs more).
SIZE = 16 * MIB
#: Where the FAT partition starts (sector 2048).
PARTITION_START = MIB
MBR_CODE = '/usr/lib/syslinux/mbr/mbr.bin'
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
_EPOCH = '315532800'  # 1980-01-01, FAT's first day
_MTOOLS_ENV = ('MTOOLS_SKIP_CHECK=1', 'MTOOLSRC=/dev/null',
               'SOURCE_DATE_EPOCH=' + _EPOCH, 'TZ=UTC')
#: What a build runs or reads, and the Debian package that has it.
TOOLS = (('mformat', 'mtools'), ('mcopy', 'mtools'),
         ('syslinux', 'syslinux'), (MBR_CODE, 'syslinux-common'),
         ('dpkg-deb', 'dpkg'), ('apt-get', 'apt'), ('apt-cache', 'apt'))

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
    kernel_deb, busybox_deb = debs
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


def _check_label(label):
    if not label or len(label) > 64 or not all(
            ' ' <= c <= '~' for c in label):
        raise ValueError('label must be 1 to 64 printable ASCII characters')


def build(path, label, cache):
    """Write the raw image to ``path`` (prints marker(label) at boot, then
    the config-drive lines). ``cache``: the .deb download cache dir (shared
    with the deploy ramdisk's). Returns the image size in bytes. Raises
    nova_bm.ramdisk.builder.BuildError (one line) when a tool or package is
    missing."""
    _check_label(label)
    missing = missing_packages()
    if missing:
        raise builder.BuildError('the lab\'s Linux image needs Debian\'s %s'
                                 % ', '.join(missing))
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
        with open(os.path.join(files, 'syslinux.cfg'), 'w') as f:
            f.write(SYSLINUX_CFG)
        names = sorted(os.listdir(files))
        for name in names:
            os.utime(os.path.join(files, name), (int(_EPOCH),) * 2)

        # Room for the files, FAT's own sectors and SYSLINUX.
        payload = sum(os.path.getsize(os.path.join(files, n))
                      for n in names)
        size = max(SIZE, -(-(PARTITION_START + payload * 9 // 8 + 2 * MIB)
                           // MIB) * MIB)
        start = PARTITION_START // SECTOR
        sectors = (size - PARTITION_START) // SECTOR
        partition = os.path.join(work, 'partition.img')
        with open(partition, 'wb') as f:
            f.truncate(sectors * SECTOR)
        _mtools('mformat', '-i', partition, '-T', str(sectors),
                '-h', '255', '-s', '63', '-H', str(start),
                # 2 KiB clusters: FAT16 (4085 to 65524 clusters) from 8
                # to 128 MiB, as common as FAT gets.
                '-c', '4',
                '-N', _VOLUME_SERIAL, '-v', 'NOVA-BM', '::')
        _mtools('mcopy', '-i', partition, '-m', '-o',
                *[os.path.join(files, n) for n in names], '::')
        _mtools('syslinux', '--install', partition)

        tmp = '%s.%d.tmp' % (path, os.getpid())
        try:
            with open(tmp, 'wb') as out:
                out.write(_mbr(_fat_type(partition), start, sectors))
                out.truncate(PARTITION_START)
                out.seek(PARTITION_START)
                with open(partition, 'rb') as f:
                    shutil.copyfileobj(f, out, MIB)
                size = out.tell()
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return size


_BOOT = re.compile(r'SeaBIOS \(version|nova-bm-lab: image ')
_LINE = re.compile(re.escape(_PREFIX) + r'(uuid|key|user-data)=(.*)')


def lines(serial_text):
    """Parse the config-drive lines from a console log: {'uuid':...,
    'key':..., 'user-data':..., 'none': bool, 'done': bool} (the LAST boot's
    values: the log may hold several boots).

    A boot starts at its firmware's banner or at the image's marker; a
    value not printed (yet) is None."""
    starts = [m.start() for m in _BOOT.finditer(serial_text)]
    text = serial_text[starts[-1]:] if starts else serial_text
    found = {'uuid': None, 'key': None, 'user-data': None,
             'none': False, 'done': False}
    for line in text.replace('\r', '\n').split('\n'):
        match = _LINE.search(line)
        if match:
            if found[match.group(1)] is None:
                found[match.group(1)] = match.group(2).rstrip()
        elif line.rstrip().endswith(_PREFIX + 'none'):
            found['none'] = True
        elif line.rstrip().endswith(_PREFIX + 'done'):
            found['done'] = True
    return found
