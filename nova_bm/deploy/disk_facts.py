"""The disks a deploy ramdisk reports, read as hostile input.

The ramdisk (``nova_bm/ramdisk/init``, ``disk_facts``) reads each disk's
facts from sysfs and posts them to ``/api/v1/disks``, ``text/plain``: one
disk a line, ``key=value`` words separated by spaces, each value
percent-encoded where it holds anything but ``[A-Za-z0-9._:/-]``::

    name=/dev/sda size=480103981056 rotational=0 model=SAMSUNG%20MZ7LH480
    vendor=ATA serial=S45PNA0M123456 wwn=0x5002538e40a1b2c3 hctl=0:0:0:0
    by_path=/dev/disk/by-path/pci-0000:00:1f.2-ata-1

What a caller may rely on: :func:`parse` returns dicts with every key of
:data:`FIELDS` (None when not reported), ``name`` a ``/dev`` path given
once, ``size`` an int, ``rotational`` a bool or None, every string
printable and at most :data:`MAX_VALUE` characters; anything else is
:class:`Malformed` with one line. The matcher is
:mod:`nova_bm.common.root_device_hints`.
"""

import re
import urllib.parse

from nova_bm.common import safe_text

#: Largest report read (a machine has a few disks, not hundreds).
MAX_BODY = 64 * 1024
MAX_DISKS = 64
MAX_VALUE = 255
#: Largest disk size believed (2**60 bytes: an exabyte).
MAX_SIZE = 1 << 60

FIELDS = ('name', 'size', 'rotational', 'model', 'vendor', 'serial', 'wwn',
          'wwn_with_extension', 'wwn_vendor_extension', 'hctl', 'by_path')

_NAME_RE = re.compile(r'/dev/[A-Za-z0-9][A-Za-z0-9/_.:-]{0,120}\Z')
#: The hidden per-path node of a multipath NVMe namespace: no /dev node.
_NVME_PATH_RE = re.compile(r'/dev/nvme[0-9]+c[0-9]+n[0-9]+\Z')
_DIGITS_RE = re.compile(r'[0-9]{1,19}\Z')
_GIB = 1024 ** 3


class Malformed(ValueError):
    """The report is not what a ramdisk sends; ``str()`` says why."""


def is_name(name):
    """Whether ``name`` is a disk's /dev path as a ramdisk reports it."""
    return bool(_NAME_RE.match(name)) and not _NVME_PATH_RE.match(name)


def _text(key, raw):
    value = urllib.parse.unquote(raw, errors='replace').strip()
    if len(value) > MAX_VALUE:
        raise Malformed('%s is longer than %d characters' % (key, MAX_VALUE))
    if not value.isprintable():
        raise Malformed('%s holds unprintable characters' % key)
    return value or None


def disk_line(line):
    """One disk of a report: its line's ``key=value`` words, as
    :func:`parse` returns each disk.

    :raises: Malformed
    """
    disk = dict.fromkeys(FIELDS)
    for word in line.split():
        key, sep, raw = word.partition('=')
        if not sep or key not in FIELDS:
            raise Malformed('unknown disk fact %s'
                            % safe_text.quote(key[:32]))
        value = _text(key, raw)
        if key == 'size':
            if (value is None or not _DIGITS_RE.match(value)
                    or int(value) > MAX_SIZE):
                raise Malformed('size must be a number of bytes')
            value = int(value)
        elif key == 'rotational':
            if value not in (None, '0', '1'):
                raise Malformed('rotational must be 0 or 1')
            value = None if value is None else value == '1'
        disk[key] = value
    if disk['name'] is None or not _NAME_RE.match(disk['name']):
        raise Malformed('a disk has no /dev name')
    if _NVME_PATH_RE.match(disk['name']):
        raise Malformed('%s is a path of a multipath NVMe namespace, not a '
                        'disk' % disk['name'])
    if disk['size'] is None:
        raise Malformed('disk %s has no size' % disk['name'])
    return disk


def report_lines(body, limit, malformed=Malformed):
    """The non-blank lines of a ramdisk's text report of at most
    ``limit`` bytes of ASCII, stripped.

    :raises: ``malformed``
    """
    if len(body) > limit:
        raise malformed('the report is larger than %d bytes' % limit)
    try:
        text = body.decode('ascii')
    except UnicodeDecodeError:
        raise malformed('the report is not ASCII') from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def parse(body, allow_none=False):
    """The disks of a report, in the order reported (a machine without
    disks reports none: ``allow_none`` when that is no error).

    :raises: Malformed
    """
    lines = report_lines(body, MAX_BODY)
    if not lines and not allow_none:
        raise Malformed('no disk reported')
    if len(lines) > MAX_DISKS:
        raise Malformed('more than %d disks reported' % MAX_DISKS)
    disks = [disk_line(line) for line in lines]
    names = [disk['name'] for disk in disks]
    if len(set(names)) != len(names):
        raise Malformed('a disk is reported twice')
    return disks


def describe(disks, facts=()):
    """One line naming each disk by its size, serial and the ``facts``
    asked about (the names of the hints that chose among them), escaped,
    for an operator: ``/dev/vda (64 GiB, serial AAA), ...``. Short, as
    Nova keeps 255 characters of a server's fault."""
    parts = []
    for disk in disks:
        said = ['%d GiB' % (disk['size'] // _GIB) if disk['size'] >= _GIB
                else '%d MiB' % (disk['size'] >> 20)]
        for key in ('serial',) + tuple(
                f for f in facts if f not in ('size', 'serial', 'name')):
            if key == 'rotational' and disk.get(key) is not None:
                said.append('rotational' if disk[key] else 'SSD')
            elif key != 'rotational' and disk.get(key):
                said.append('%s %s' % (key, disk[key]))
        parts.append('%s (%s)' % (disk['name'], ', '.join(said)))
    return safe_text.escape(', '.join(parts) or 'none')
