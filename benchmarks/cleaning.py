"""Cleanings of a 256 MiB disk per clean mode, against the host's dd.

One lab machine (QEMU under TCG, the real deploy ramdisk) with a 256 MiB
virtio disk and a 256 MiB NVMe disk, cleaned once in each mode
(metadata, express, full) through ``nova-bm-manage node clean --mode``
(``cleaning_case`` says what each step does). Per mode and disk: the
seconds the ramdisk itself measured for that disk's erase (the node's
``last_cleaning``), and its rate in seconds per GiB erased (the bytes it
reports: the regions a metadata erase zeroes, the whole disk for an
overwrite or an NVMe format), against the floor: ``dd if=/dev/zero
bs=1M count=256 conv=notrunc,fsync`` onto the same disk file on the host,
timed in the same run just before; the ratio is of the two rates (the
ramdisk writes through an emulated disk under TCG, the host does not).
Per mode also the whole cleaning, power on to ``available`` (both disks,
the machine's boot, the proxy's polls at the product's intervals),
against the host's dd of both disks. Reported, no goal: the floor is
the host's disk, not a deploy without nova-bm.
"""

from benchmarks import nova_harness

GIB = 1 << 30
MIB = 1 << 20
DISK_MIB = 256
PHASES = ('request', 'boot', 'erase', 'notice', 'wall', 'total')


def measure():
    # Nova 34's nova-compute runs in native threads by default.
    return nova_harness.measure(
        'cleaning_case', env={'OS_NOVA_DISABLE_EVENTLET_PATCHING': '1'})


def _per_gib(seconds, size):
    return seconds * GIB / size


def rows(result):
    """The rows of ``cleaning_case``'s result: per mode, one per disk
    and one for the whole cleaning."""
    out = []
    floor_per_gib = _per_gib(1, DISK_MIB * MIB)
    for mode, run in result.items():
        print('cleaning, %s: %s; host dd (256 MiB): %s' % (
            mode, ', '.join('%s %.2f s' % (p, run[p]) for p in PHASES),
            ', '.join('%s %.3f s' % (bus, seconds)
                      for bus, seconds in sorted(run['floor'].items()))))
        for disk in run['disks']:
            floor = run['floor'][disk['bus']]
            rate = _per_gib(disk['seconds'], disk['bytes'])
            reference = floor * floor_per_gib
            print('cleaning, %s, %s %s: %s, %d bytes in %.2f s (%.2f s/GiB '
                  'erased), %s read back%s; host dd %.3f s (%.2f s/GiB)'
                  % (mode, disk['bus'], disk['name'], disk['method'],
                     disk['bytes'], disk['seconds'], rate,
                     disk['verified'],
                     ' (%s)' % disk['note'] if disk.get('note') else '',
                     floor, reference))
            out.append({
                'work': 'cleaning, %s, 256 MiB %s disk: ramdisk erase (%s, '
                        '%d MiB)' % (mode, disk['bus'], disk['method'],
                                     round(disk['bytes'] / MIB)),
                'nova_bm': '%.2f s, %.1f s/GiB' % (disk['seconds'], rate),
                'reference': 'host dd %.2f s, %.1f s/GiB' % (floor,
                                                             reference),
                'ratio': rate / reference, 'goal': 'reported',
                'met': True})
        floor = sum(run['floor'].values())
        size = DISK_MIB * MIB * len(run['floor'])
        out.append({
            'work': 'cleaning, %s, %d x 256 MiB disks: power on -> '
                    'available' % (mode, len(run['floor'])),
            'nova_bm': '%.1f s, %.1f s/GiB' % (run['wall'], _per_gib(
                run['wall'], size)),
            'reference': 'host dd %.2f s, %.1f s/GiB' % (
                floor, _per_gib(floor, size)),
            'ratio': run['wall'] / floor, 'goal': 'reported', 'met': True})
    return out


def run():
    return rows(measure())
