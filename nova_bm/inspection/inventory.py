"""The hardware an inspecting ramdisk reports, read as hostile input.

The ramdisk (``nova_bm/ramdisk/init``, told ``mode=inspect``) posts it to
``/api/v1/inventory``, ``text/plain``: ASCII, a fact line per line, each
a kind word then ``key=value`` words, every value percent-encoded where
it holds anything but ``[A-Za-z0-9._:/-]``, a fact not known left out::

    cpu count=2 architecture=x86_64 model=QEMU%20Virtual%20CPU
    memory total_bytes=503316480 physical_mb=512
    system vendor=QEMU product=Standard%20PC serial=S1
        uuid=1c2d3e4f-0000-4000-8000-0123456789ab
    boot mode=bios pxe_mac=52:54:00:4c:27:11
    disk name=/dev/vda size=104857600 rotational=1
    nic name=eth0 mac=52:54:00:4c:27:11 speed_mbps=1000 carrier=1
    nic name=eth1 mac=52:54:00:4d:27:11 carrier=0 lldp=0207046c3b...

(one line each, wrapped here). The kinds come in the order of
:data:`KINDS`: ``cpu``, ``memory`` and ``boot`` once, ``system`` at most
once, up to :data:`MAX_DISKS` ``disk`` lines (the words of a
:mod:`nova_bm.deploy.disk_facts` line), 1 to :data:`MAX_NICS` ``nic``
lines, the ``lldp`` of a NIC the LLDPDU it received as hex
(:mod:`nova_bm.inspection.lldp`).

What a caller may rely on: :func:`parse` returns a JSON-serialisable
dict (see there) whose every value is typed and bounded, every string
printable, disk names, NIC names and MACs unique, ``pxe_mac`` one of the
NICs' MACs; anything else is :class:`Malformed`, one line quoting none of
the input's unprintable characters.
"""

import re
import urllib.parse

from nova_bm.common import safe_text
from nova_bm.common import system_uuid
from nova_bm.deploy import disk_facts
from nova_bm.inspection import lldp

#: Largest report read.
MAX_BODY = 128 * 1024
MAX_DISKS = disk_facts.MAX_DISKS
MAX_NICS = 32
#: The kinds, in the order a report gives them.
KINDS = ('cpu', 'memory', 'system', 'boot', 'disk', 'nic')
#: The kinds given once, and those of them a report must give.
SINGLE = frozenset(('cpu', 'memory', 'system', 'boot'))
REQUIRED = ('cpu', 'memory', 'boot')
#: Most fact lines: each single kind, every disk and NIC.
MAX_LINES = len(SINGLE) + MAX_DISKS + MAX_NICS
#: Longest text value (a model, a vendor...), once decoded.
MAX_VALUE = disk_facts.MAX_VALUE
MAX_CPUS = 16384
#: Most memory believed, in bytes (an exabyte).
MAX_MEMORY_BYTES = 1 << 60
#: Fastest NIC believed, in Mbit/s (10 Tbit/s).
MAX_SPEED_MBPS = 10 ** 7
BOOT_MODES = ('uefi', 'bios')

#: The facts of each kind.
FACTS = {
    'cpu': ('count', 'architecture', 'model'),
    'memory': ('total_bytes', 'physical_mb'),
    'system': ('vendor', 'product', 'serial', 'uuid'),
    'boot': ('mode', 'pxe_mac'),
    'disk': disk_facts.FIELDS,
    'nic': ('name', 'mac', 'speed_mbps', 'carrier', 'lldp'),
}

_DIGITS_RE = re.compile(r'[0-9]{1,19}\Z')
_ARCHITECTURE_RE = re.compile(r'[a-z0-9_]{1,32}\Z')
_MAC_RE = re.compile(r'[0-9a-f]{2}(?::[0-9a-f]{2}){5}\Z')
_NIC_NAME_RE = re.compile(r'[A-Za-z0-9_.:-]{1,15}\Z')
_UUID_RE = re.compile(r'[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\Z')


class Malformed(ValueError):
    """The report is not what a ramdisk sends; ``str()`` says why."""


def _words(kind, text):
    """``{key: raw value}`` of a line's words, each key once."""
    words = {}
    for word in text.split():
        key, sep, raw = word.partition('=')
        if not sep or key not in FACTS[kind]:
            raise Malformed('unknown %s fact %s'
                            % (kind, safe_text.quote(key[:32])))
        if key in words:
            raise Malformed('%s %s is given twice' % (kind, key))
        if not raw:
            raise Malformed('%s %s is given without a value' % (kind, key))
        words[key] = raw
    return words


def _text(kind, key, raw):
    """A percent-encoded text value: printable, bounded; None if blank."""
    value = urllib.parse.unquote(raw, errors='replace').strip()
    if len(value) > MAX_VALUE:
        raise Malformed('%s %s is longer than %d characters'
                        % (kind, key, MAX_VALUE))
    if not value.isprintable():
        raise Malformed('%s %s holds unprintable characters' % (kind, key))
    return value or None


def _number(kind, words, key, low, high, required=False):
    """A whole number from ``low`` to ``high``; None if not given."""
    if key not in words:
        if required:
            raise Malformed('%s has no %s' % (kind, key))
        return None
    value = _text(kind, key, words[key])
    if (value is None or not _DIGITS_RE.match(value)
            or not low <= int(value) <= high):
        raise Malformed('%s %s must be a whole number from %d to %d'
                        % (kind, key, low, high))
    return int(value)


def _mac(kind, key, raw):
    value = _text(kind, key, raw)
    value = value.lower() if value else ''
    if not _MAC_RE.match(value):
        raise Malformed('%s %s must be a MAC address like '
                        '52:54:00:4c:27:11' % (kind, key))
    return value


def _cpu(words):
    if 'architecture' not in words:
        raise Malformed('cpu has no architecture')
    architecture = _text('cpu', 'architecture', words['architecture'])
    if not _ARCHITECTURE_RE.match(architecture or ''):
        raise Malformed('cpu architecture must be 1 to 32 of [a-z0-9_], as '
                        'uname -m says it')
    return {'count': _number('cpu', words, 'count', 1, MAX_CPUS, True),
            'architecture': architecture,
            'model': _text('cpu', 'model', words.get('model', ''))}


def _memory(words):
    return {'total_bytes': _number('memory', words, 'total_bytes', 1,
                                   MAX_MEMORY_BYTES, True),
            'physical_mb': _number('memory', words, 'physical_mb', 1,
                                   MAX_MEMORY_BYTES >> 20)}


def _system(words):
    system = {key: _text('system', key, words[key]) if key in words else None
              for key in FACTS['system']}
    uuid = (system['uuid'] or '').lower()
    if 'uuid' in words and not _UUID_RE.match(uuid):
        raise Malformed('system uuid must be a UUID like '
                        '1c2d3e4f-0000-4000-8000-0123456789ab')
    # A placeholder (all 0s...) is no machine's: as if not reported.
    system['uuid'] = system_uuid.parse(uuid) if uuid else None
    return system


def _boot(words):
    mode = _text('boot', 'mode', words.get('mode', ''))
    if mode not in BOOT_MODES:
        raise Malformed('boot mode must be %s' % ' or '.join(BOOT_MODES))
    pxe_mac = words.get('pxe_mac')
    return {'mode': mode,
            'pxe_mac': _mac('boot', 'pxe_mac', pxe_mac) if pxe_mac else None}


def _nic(words):
    name = _text('nic', 'name', words.get('name', ''))
    if not _NIC_NAME_RE.match(name or ''):
        raise Malformed('a nic has no name of 1 to 15 of [A-Za-z0-9_.:-]')
    if 'mac' not in words:
        raise Malformed('nic %s has no mac' % name)
    carrier = words.get('carrier')
    if carrier not in (None, '0', '1'):
        raise Malformed('nic %s carrier must be 0 or 1' % name)
    advertisement = None
    if 'lldp' in words:
        try:
            advertisement = lldp.parse(words['lldp'])
        except lldp.Malformed as e:
            raise Malformed('nic %s lldp: %s' % (name, e)) from None
    return {'name': name,
            'mac': _mac('nic %s' % name, 'mac', words['mac']),
            'speed_mbps': _number('nic %s' % name, words, 'speed_mbps', 1,
                                  MAX_SPEED_MBPS),
            'carrier': None if carrier is None else carrier == '1',
            'lldp': advertisement}


def _disk(text):
    _words('disk', text)  # each known key once: disk_facts takes the last
    try:
        return disk_facts.disk_line(text)
    except disk_facts.Malformed as e:
        raise Malformed(str(e)) from None


_READERS = {'cpu': _cpu, 'memory': _memory, 'system': _system,
            'boot': _boot, 'nic': _nic}


def _lines(body):
    """``(kind, rest)`` of each fact line, kinds known and in order."""
    lines = disk_facts.report_lines(body, MAX_BODY, Malformed)
    if len(lines) > MAX_LINES:
        raise Malformed('the report has more than %d lines' % MAX_LINES)
    found, last = [], 0
    for line in lines:
        kind, rest = (line.split(None, 1) + [''])[:2]
        if kind not in KINDS:
            raise Malformed('unknown kind %s' % safe_text.quote(kind[:32]))
        if KINDS.index(kind) < last:
            raise Malformed('a %s line after a %s line: the kinds come in '
                            'the order %s' % (kind, KINDS[last],
                                              ', '.join(KINDS)))
        last = KINDS.index(kind)
        found.append((kind, rest))
    return found


def _unique(what, values):
    seen = set()
    for value in values:
        if value in seen:
            raise Malformed('%s %s is reported twice' % (what, value))
        seen.add(value)


def parse(body):
    """The hardware of an inventory report.

    :param body: the report's bytes, as posted.
    :returns: a dict of

        * ``cpu``: ``{'count': int, 'architecture': str, 'model': str or
          None}``;
        * ``memory``: ``{'total_bytes': int, 'physical_mb': int or
          None}``;
        * ``system``: ``{'vendor', 'product', 'serial', 'uuid'}``, each a
          str or None (``uuid`` lower case and dashed, None for a
          placeholder :func:`system_uuid.parse` refuses); None when not
          reported;
        * ``boot``: ``{'mode': 'uefi' or 'bios', 'pxe_mac': str or None}``;
        * ``disks``: :func:`disk_facts.disk_line`'s dicts (every key of
          :data:`disk_facts.FIELDS`), in the order reported;
        * ``interfaces``: ``{'name': str, 'mac': str, 'speed_mbps': int
          or None, 'carrier': bool or None, 'lldp': dict or None}``
          (:func:`lldp.parse`), in the order reported, at least one.

        MACs are lower case ``aa:bb:cc:dd:ee:ff``.
    :raises: Malformed
    """
    inventory = {'system': None, 'disks': [], 'interfaces': []}
    for kind, rest in _lines(body):
        if kind == 'disk':
            inventory['disks'].append(_disk(rest))
            continue
        words = _words(kind, rest)
        if kind == 'nic':
            inventory['interfaces'].append(_nic(words))
            continue
        if inventory.get(kind) is not None:
            raise Malformed('%s is reported twice' % kind)
        inventory[kind] = _READERS[kind](words)
    for kind in REQUIRED:
        if kind not in inventory:
            raise Malformed('no %s line' % kind)
    disks, nics = inventory['disks'], inventory['interfaces']
    if len(disks) > MAX_DISKS:
        raise Malformed('more than %d disks reported' % MAX_DISKS)
    if not nics:
        raise Malformed('no nic reported')
    if len(nics) > MAX_NICS:
        raise Malformed('more than %d nics reported' % MAX_NICS)
    _unique('disk', [disk['name'] for disk in disks])
    _unique('nic', [nic['name'] for nic in nics])
    _unique('MAC', [nic['mac'] for nic in nics])
    pxe_mac = inventory['boot']['pxe_mac']
    if pxe_mac and pxe_mac not in {nic['mac'] for nic in nics}:
        raise Malformed('pxe_mac %s is the MAC of no reported nic' % pxe_mac)
    return {key: inventory[key] for key in ('cpu', 'memory', 'system',
                                            'boot', 'disks', 'interfaces')}
