"""What a cleaning ramdisk says it erased, read as hostile input, and
whether that is the erase the node's clean mode requires.

The ramdisk (``nova_bm/ramdisk/init``, clean mode) first reports the
machine's disks (:mod:`nova_bm.deploy.disk_facts`, ``/api/v1/disks``),
erases each one, then posts ``/api/v1/done``, ``text/plain``: a status
line, then one line per disk, ``key=value`` words, each value
percent-encoded where it holds anything but ``[A-Za-z0-9._:/-]``::

    status=ok
    disk name=/dev/nvme0n1 method=nvme-format bytes=268435456
        seconds=0.41 verified=17
    disk name=/dev/vda method=metadata bytes=92274688 seconds=1.20
        verified=8 note=no%20hardware%20secure%20erase:%20not%20NVMe

(one line each, wrapped here).
``status=failed error=…`` says the erase failed; the disk lines then say
what was done. The methods (:data:`METHODS`):

``metadata``
    The partition tables at both ends, every GPT backup header, the
    signatures at each partition's start and end (what ``wipefs -a``
    removes), any config drive; read back zero.
``overwrite``
    Every byte written with zeros; samples read back zero.
``nvme-format``
    NVMe Format NVM with Secure Erase Settings 1 (user data erase): the
    device erases every block of the namespace. A canary written first at
    sampled offsets must be gone after it (a device that acknowledges the
    command and does nothing is caught).
``failed``
    Not erased; ``note`` says why.

What a caller may rely on: :func:`parse` returns ``(status, error,
entries)`` with every entry's keys of :data:`FIELDS` typed (anything else
is :class:`Malformed`); :func:`judge` returns the per-disk proof to keep
with the node (identity from the disk report, never from the erase
report) and the reasons the erase falls short of the mode, empty when
it does not.
"""

import re
import urllib.parse

from nova_bm.common import safe_text
from nova_bm.common import states
from nova_bm.deploy import disk_facts

#: Largest report read: a status line and a line per disk.
MAX_BODY = 64 * 1024
MAX_NOTE = 200
#: Longest erase believed (a week), in seconds.
MAX_SECONDS = 7 * 24 * 3600

METADATA = 'metadata'
OVERWRITE = 'overwrite'
NVME_FORMAT = 'nvme-format'
FAILED = 'failed'
METHODS = (METADATA, OVERWRITE, NVME_FORMAT, FAILED)
#: The hardware secure erase methods.
SECURE_ERASE = frozenset((NVME_FORMAT,))

#: What each clean mode accepts of a disk. ``express`` takes metadata
#: only with a note saying why the device could not erase itself.
ACCEPTED = {
    states.CLEAN_METADATA: frozenset((METADATA, OVERWRITE, NVME_FORMAT)),
    states.CLEAN_EXPRESS: frozenset((METADATA, OVERWRITE, NVME_FORMAT)),
    states.CLEAN_FULL: frozenset((OVERWRITE, NVME_FORMAT)),
}

FIELDS = ('name', 'method', 'bytes', 'seconds', 'verified', 'note')

_NUMBER_RE = re.compile(r'[0-9]{1,19}\Z')
_SECONDS_RE = re.compile(r'[0-9]{1,7}(\.[0-9]{1,6})?\Z')


class Malformed(ValueError):
    """The report is not what a ramdisk sends; ``str()`` says why."""


def _value(key, raw):
    value = urllib.parse.unquote(raw, errors='replace').strip()
    if key == 'error' and len(value) > MAX_NOTE:
        # The ramdisk's failure names every disk it could not erase: cut,
        # never refused (the per-disk lines say it all).
        value = value[:MAX_NOTE] + '…'
    limit = MAX_NOTE + 1 if key == 'error' else (
        MAX_NOTE if key == 'note' else disk_facts.MAX_VALUE)
    if len(value) > limit:
        raise Malformed('%s is longer than %d characters' % (key, limit))
    if not value.isprintable():
        if key in ('note', 'error'):
            # Words of the ramdisk's tools: escaped (and cut again: an
            # escape is longer), never the reason a whole report (and
            # its proof) is lost.
            value = safe_text.escape(value)
            return value if len(value) <= limit else value[:MAX_NOTE] + '…'

        raise Malformed('%s holds unprintable characters' % key)
    return value


def _words(line, allowed):
    fields = {}
    for word in line.split():
        key, sep, raw = word.partition('=')
        if not sep or key not in allowed:
            raise Malformed('unknown field %s' % safe_text.quote(key[:32]))
        if key in fields:
            raise Malformed('%s is given twice' % key)
        fields[key] = _value(key, raw)
    return fields


def _entry(line):
    fields = _words(line, FIELDS)
    entry = dict.fromkeys(FIELDS)
    entry.update(fields)
    if not disk_facts.is_name(entry['name'] or ''):
        raise Malformed('a disk line has no /dev name')
    if entry['method'] not in METHODS:
        raise Malformed('method must be one of %s' % ', '.join(METHODS))
    for key in ('bytes', 'verified'):
        raw = entry[key]
        if raw is None or not _NUMBER_RE.match(raw):
            raise Malformed('%s of %s must be a number' % (key,
                                                           entry['name']))
        entry[key] = int(raw)
    seconds = entry['seconds']
    if (seconds is None or not _SECONDS_RE.match(seconds)
            or float(seconds) > MAX_SECONDS):
        raise Malformed('seconds of %s must be a duration' % entry['name'])
    entry['seconds'] = float(seconds)
    entry['note'] = safe_text.escape(entry['note']) if entry['note'] else None
    return entry


def parse(body):
    """``(status, error, entries)``: ``states.DONE`` or ``states.FAILED``,
    the ramdisk's error (escaped) or None, one dict per disk line.

    :raises: Malformed
    """
    lines = disk_facts.report_lines(body, MAX_BODY, Malformed)
    if not lines:
        raise Malformed('the report is empty')
    head = _words(lines[0], ('status', 'error'))
    status = {'ok': states.DONE, 'failed': states.FAILED}.get(
        head.get('status'))
    if status is None:
        raise Malformed('the first line must be status=ok or status=failed')
    error = None
    if status == states.FAILED:
        error = safe_text.escape(head.get('error') or 'no reason given')
    entries = []
    for line in lines[1:]:
        kind, _, rest = line.partition(' ')
        if kind != 'disk':
            raise Malformed('a line must start with "disk"')
        entries.append(_entry(rest))
    if len(entries) > disk_facts.MAX_DISKS:
        raise Malformed('more than %d disks reported'
                        % disk_facts.MAX_DISKS)
    names = [entry['name'] for entry in entries]
    if len(set(names)) != len(names):
        raise Malformed('a disk is reported twice')
    return status, error, entries


def identity(disk):
    """What names a physical disk across boots: its WWN or serial (its
    name and size when it has neither)."""
    if disk.get('wwn') or disk.get('serial'):
        return ('id', disk.get('wwn'), disk.get('serial'))
    return ('name', disk.get('name'), disk.get('size'))


def _shortfall(mode, disk, entry):
    """Why this disk's erase is not what ``mode`` requires, or None."""
    name = disk['name']
    method = entry['method']
    if method == FAILED:
        return '%s was not erased: %s' % (name, entry['note']
                                          or 'no reason given')
    if method not in ACCEPTED[mode]:
        return ('%s was erased by %s, which is not a %s erase'
                % (name, method, mode))
    if method in (OVERWRITE, NVME_FORMAT) and entry['bytes'] != disk['size']:
        return ('%s: %s covered %d bytes of its %d'
                % (name, method, entry['bytes'], disk['size']))
    if method == METADATA and not 0 < entry['bytes'] <= disk['size']:
        return '%s: metadata erase of %d bytes' % (name, entry['bytes'])
    if entry['verified'] < 1:
        return '%s: nothing was read back after its erase' % name
    if (mode == states.CLEAN_EXPRESS and method == METADATA
            and not entry['note']):
        return ('%s: express fell back to metadata without saying why '
                'the device could not erase itself' % name)
    return None


def judge(mode, disks, entries, previous=()):
    """The proof of an erase, and how it falls short of ``mode``.

    :param disks: the machine's disks as the same job reported them
        (:func:`disk_facts.parse`).
    :param entries: the erase report's disk lines (:func:`parse`).
    :param previous: the disks the node is known to have (by WWN or
        serial; :func:`known_disks`): one missing now was not erased.
    :returns: ``(proof, problems)``: one dict per reported disk (its
        identity and what was done) and one line per shortfall.
    """
    by_name = {entry['name']: entry for entry in entries}
    proof, problems = [], []
    if not disks:
        # An image node has at least the disk its image went to: none
        # seen is a controller the ramdisk could not drive.
        problems.append('the ramdisk found no disk to erase')
    for disk in disks:
        entry = by_name.pop(disk['name'], None)
        record = {key: disk.get(key) for key in ('name', 'size', 'serial',
                                                 'wwn', 'model')}
        if entry is None:
            record['method'] = FAILED
            problems.append('%s was not reported erased' % disk['name'])
        else:
            record.update({key: entry[key] for key in FIELDS[1:]})
            problem = _shortfall(mode, disk, entry)
            if problem:
                problems.append(problem)
        proof.append(record)
    for name in sorted(by_name):
        problems.append('%s was reported erased but not reported as a disk'
                        % name)
    present = {identity(disk) for disk in disks}
    for disk in previous or ():
        # Only disks known by WWN or serial: names may move across boots.
        if identity(disk)[0] == 'id' and identity(disk) not in present:
            problems.append('%s (%s) was seen at an earlier cleaning and '
                            'is missing now' % (disk.get('name'),
                                             disk.get('serial')
                                             or disk.get('wwn')))
    return proof, problems


def known_disks(previous, proof):
    """The disks a node is known to have after a cleaning whose proof is
    ``proof``: ``previous`` and every disk it saw, by WWN or serial (a
    disk seen once must be erased before the node is available again;
    only an operator forgets one: ``node clean --forget-disks``)."""
    known = {}
    for disk in list(previous or ()) + list(proof or ()):
        if identity(disk)[0] == 'id':
            known[identity(disk)] = {key: disk.get(key)
                                     for key in ('name', 'serial', 'wwn')}
    return [known[key] for key in sorted(known, key=str)]
