"""Deploys onto QEMU machines: nova-bm through Nova against the floor.

One server, and ``NOVA_BM_BENCH_DEPLOY_SERVERS`` (4) servers at once, each
``NOVA_BM_BENCH_DEPLOY_ROUNDS`` (5) times, from the create request to the
image's marker on each machine's console, against the same machines put
through the same steps by a script without Nova (``deploy_case`` says
what each side does), alternating; medians compared. Goal (issue "ramdisk
and lab"): at most 1.10x the floor. Also: Glance downloads for the first
round of concurrent deploys of one image (goal 1), and the time to ACTIVE.
And the config drive's cost: one server with a config drive (a key pair,
user-data) against one without, alternating, the same rounds, from the
create request to the image's marker; medians compared. Goal: a generous
1.25x (building the drive in the proxy and writing its 64 MiB partition
after the image should cost seconds, not a second deploy).
And UEFI against BIOS (``boot_mode_case``): one server on an OVMF machine
with the lab's UEFI Linux image against one on a SeaBIOS machine with its
BIOS Linux image, one after the other, alternating, the same rounds, from
the create request to the image's marker, phase by phase; medians
compared, reported (no goal: the difference is the firmware's own time,
not nova-bm's).
Needs the lab (QEMU, apt for the deploy ramdisk), as the lab tests do.
"""

import os
import statistics

from benchmarks import nova_harness

ROUNDS = int(os.environ.get('NOVA_BM_BENCH_DEPLOY_ROUNDS', 5))
SERVERS = int(os.environ.get('NOVA_BM_BENCH_DEPLOY_SERVERS', 4))
GOAL_RATIO = 1.10
CONFIG_DRIVE_GOAL_RATIO = 1.25
PHASES = ('before', 'ramdisk', 'write', 'switch', 'boot')


def measure(rounds=ROUNDS, servers=SERVERS):
    # Nova 34's nova-compute runs in native threads by default.
    return nova_harness.measure(
        'deploy_case', rounds, servers,
        env={'OS_NOVA_DISABLE_EVENTLET_PATCHING': '1'})


def measure_boot_modes(rounds=ROUNDS):
    return nova_harness.measure(
        'boot_mode_case', rounds,
        env={'OS_NOVA_DISABLE_EVENTLET_PATCHING': '1'})


def _median(runs, key):
    return statistics.median(run[key] for run in runs)


def run():
    result = measure()
    rows = []
    for size in sorted(result['nova_bm'], key=int):
        ours, floor = result['nova_bm'][size], result['floor'][size]
        for name, runs in (('nova-bm', ours), ('floor', floor)):
            print('deploy, %s server(s), %s: total %s s; median phases: %s'
                  % (size, name,
                     ', '.join('%.1f' % r['total'] for r in runs),
                     ', '.join('%s %.2f s' % (p, _median(runs, p))
                               for p in PHASES)))
        total, reference = _median(ours, 'total'), _median(floor, 'total')
        ratio = total / reference
        what = ('1 server' if size == '1'
                else '%s servers at once' % size)
        rows.append({
            'work': 'deploy, %s: request -> booted from disk' % what,
            'nova_bm': '%.1f s' % total,
            'reference': '%.1f s floor (no Nova)' % reference,
            'ratio': ratio, 'goal': '<= %.2fx' % GOAL_RATIO,
            'met': ratio <= GOAL_RATIO})
        active = _median(ours, 'active')
        rows.append({
            'work': 'deploy, %s: request -> ACTIVE' % what,
            'nova_bm': '%.1f s' % active,
            'reference': '%.1f s floor, to booted' % reference,
            'ratio': active / reference, 'goal': 'reported', 'met': True})
    rows.append(config_drive_row(result['config_drive']))
    downloads = result['glance_downloads']
    rows.append({
        'work': 'Glance downloads, %d deploys of one image at once'
                % SERVERS,
        'nova_bm': str(downloads), 'reference': '%d deploys' % SERVERS,
        'ratio': downloads / SERVERS, 'goal': '1 download',
        'met': downloads == 1})
    rows.extend(boot_mode_rows(measure_boot_modes()))
    return rows


def config_drive_row(result):
    """The row of the config drive's cost (``result``: the case's
    ``config_drive``, runs ``with`` and ``without``)."""
    for name in ('with', 'without'):
        runs = result[name]
        print('deploy, 1 server, %s a config drive: total %s s; median '
              'phases: %s' % (name, ', '.join('%.1f' % r['total']
                                              for r in runs),
                              ', '.join('%s %.2f s' % (p, _median(runs, p))
                                        for p in PHASES)))
    drive = _median(result['with'], 'total')
    plain = _median(result['without'], 'total')
    ratio = drive / plain
    print('deploy with a config drive: %.1f s vs %.1f s without (ratio %.2f)'
          % (drive, plain, ratio))
    return {
        'work': 'deploy, 1 server with a config drive: request -> '
                'booted from disk',
        'nova_bm': '%.1f s' % drive,
        'reference': '%.1f s without a config drive' % plain,
        'ratio': ratio, 'goal': '<= %.2fx' % CONFIG_DRIVE_GOAL_RATIO,
        'met': ratio <= CONFIG_DRIVE_GOAL_RATIO}


def boot_mode_rows(result):
    """The rows of UEFI deploys against BIOS deploys in the same run
    (``result``: ``boot_mode_case``'s, runs ``uefi`` and ``bios``)."""
    for mode, firmware in (('bios', 'BIOS (SeaBIOS)'),
                           ('uefi', 'UEFI (OVMF)')):
        runs = result[mode]
        print('deploy, 1 server, %s: total %s s; median phases: %s'
              % (firmware, ', '.join('%.1f' % r['total'] for r in runs),
                 ', '.join('%s %.2f s' % (p, _median(runs, p))
                           for p in PHASES + ('active',))))
    uefi = _median(result['uefi'], 'total')
    bios = _median(result['bios'], 'total')
    ratio = uefi / bios
    print('deploy, UEFI vs BIOS: %.1f s vs %.1f s (ratio %.2f)'
          % (uefi, bios, ratio))
    return [{
        'work': 'deploy, 1 server, UEFI (OVMF) vs BIOS (SeaBIOS): '
                'request -> booted from disk',
        'nova_bm': '%.1f s' % uefi,
        'reference': '%.1f s BIOS, same run' % bios,
        'ratio': ratio, 'goal': 'reported', 'met': True}]
