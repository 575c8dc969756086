"""Inspection of N nodes enrolled by their BMC alone, against its floor.

N fake BMCs (default 1,000; ``NOVA_BM_BENCH_INSPECT_NODES`` under
``run.py``, which passes no options, or ``--nodes`` when run as ``python
-m benchmarks.inspection``) on loopback,
each with a simulated machine behind it (``nova_bm.testing.fakebmc``'s
``simulate``: powered on to boot from the network, it fetches its script
from the proxy, looks itself up by its system UUID, posts its inventory
and powers itself off, after 1 s of firmware self test, or what
``NOVA_BM_BENCH_INSPECT_DELAY`` / ``--delay`` says). Per
concurrency (``[baremetal] max_concurrent_inspections``: its default,
then N), in the same run and against the same fleet, one process each
(``inspection_case`` says what each does):

* the floor: the same IPMI requests (system GUID, power off, boot device,
  power on, power state until off) through the same IPMI loop, and the
  same HTTP exchanges answered by a bare stdlib server that keeps the
  parsed inventories in a dict, with the same bound on how many run at
  once;
* nova-bm: a proxy inspecting every node, from ``inspecting`` (as
  ``nova-bm-manage node inspect`` leaves them) to ``manageable``: its
  queue, jobs and tokens in SQLite, the ramdisk API, the flow; it
  reconciles as Nova's resource cycle has it do, once a minute, until no
  node is ``inspecting``.

Reported per row: the wall time of each (ratio goal: at most 1.2x the
floor), the proxy's CPU seconds, its peak thread count, its node-database
statements per node, the nodes it failed and the reconciliations it took;
then the CPU seconds of each side by kind of thread and the proxy's
transactions per node by the code that opened them. The floor must
inspect every node, or the benchmark fails; a node the proxy failed fails
its row's goal.
"""

import argparse
import collections
import os
import socket
import sys

from benchmarks import nova_harness

NODES = int(os.environ.get('NOVA_BM_BENCH_INSPECT_NODES', 1000))
#: Seconds from power on to iPXE of every simulated machine: a stand-in
#: for the firmware's self test (tens of seconds to minutes on real
#: servers), kept short; not 0, with which a machine can be inspected and
#: off again before its power on is read back (the power on then times
#: out, in the floor and the proxy alike).
DELAY = float(os.environ.get('NOVA_BM_BENCH_INSPECT_DELAY', 1.0))
GOAL_RATIO = 1.2
USERNAME, PASSWORD = 'admin', 'bench-pw'


def default_concurrency():
    """``[baremetal] max_concurrent_inspections``'s default."""
    from nova_bm.conf import baremetal
    for opt in baremetal.deploy_opts:
        if opt.name == 'max_concurrent_inspections':
            return opt.default
    raise AssertionError('no max_concurrent_inspections option')


def _free_tcp_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def _outcomes(fleet):
    """Tally of the last simulated boot's outcome of every BMC, and how
    many are still on."""
    tally, on = collections.Counter(), 0
    for port in fleet.ports:
        state = fleet.state(port)
        outcomes = state['simulation']['outcomes']
        tally[outcomes[-1] if outcomes else 'no boot'] += 1
        on += state['power'] == 'on'
    return tally, on


def _side(side, nodes, concurrency, fleet, http_port, profile):
    """One side's result; the floor must have inspected every node (the
    proxy's failures are reported, in its row). :raises AssertionError:"""
    args = [side, nodes, concurrency, fleet.base_port, http_port]
    result = nova_harness.measure('inspection_case',
                                  *(args + (['--profile'] if profile
                                            else [])))
    tally, on = _outcomes(fleet)
    result['machines'] = dict(tally)
    result['left_on'] = on
    if side == 'floor' and (result['failed'] or result['inspected'] != nodes
                            or tally['inspected'] != nodes or on):
        raise AssertionError(
            'the floor, %d at once: %d of %d inspected, %d failed (%s); the '
            'machines: %s, %d still on' % (
                concurrency, result['inspected'], nodes, result['failed'],
                '; '.join(map(str, result['errors'])), dict(tally), on))
    return result


def measure(nodes=NODES, concurrencies=None, delay=DELAY, profile=False):
    """Both sides at each concurrency (default: the option's default,
    then ``nodes``), over one fleet. :returns: a list of ``{'nodes',
    'concurrency', 'floor', 'proxy'}``, each side ``inspection_case``'s
    result. :raises AssertionError: a node the floor did not inspect."""
    from nova_bm.testing import fakebmc

    if concurrencies is None:
        concurrencies = sorted({min(default_concurrency(), nodes), nodes})
    http_port = _free_tcp_port()
    base = fakebmc.free_port_range(nodes)
    results = []
    with fakebmc.Fleet(nodes, base, username=USERNAME, password=PASSWORD,
                       simulate={'base_url': 'http://127.0.0.1:%d'
                                 % http_port, 'delay': delay}) as fleet:
        for concurrency in concurrencies:
            results.append({
                'nodes': nodes, 'concurrency': concurrency,
                'floor': _side('floor', nodes, concurrency, fleet, http_port,
                               profile),
                'proxy': _side('proxy', nodes, concurrency, fleet, http_port,
                               profile)})
    return results


def _table(results):
    headers = ('N', 'at once', 'floor s', 'proxy s', 'ratio', 'proxy CPU s',
               'floor CPU s', 'peak threads', 'queries/node',
               'per node s (floor/proxy)', 'failed', 'cycles')
    rows = []
    for r in results:
        floor, proxy = r['floor'], r['proxy']
        rows.append((
            str(r['nodes']), str(r['concurrency']),
            '%.2f' % floor['seconds'], '%.2f' % proxy['seconds'],
            '%.2fx' % (proxy['seconds'] / floor['seconds']),
            '%.2f' % proxy['cpu'], '%.2f' % floor['cpu'],
            '%d (floor %d)' % (proxy['peak_threads'],
                               floor['peak_threads']),
            '%.1f' % (proxy['statements'] / r['nodes']),
            '%.2f / %.2f' % (floor['per_node'], proxy['per_node']),
            str(proxy['failed']), str(proxy['cycles'])))
    widths = [max(len(h), *(len(row[i]) for row in rows))
              for i, h in enumerate(headers)]
    lines = ['  '.join(h.rjust(w) for h, w in zip(headers, widths,
                                                   strict=True))]
    lines += ['  '.join(c.rjust(w) for c, w in zip(row, widths, strict=True))
              for row in rows]
    return '\n'.join(lines)


def _pairs(pairs):
    return ', '.join('%s %s' % (name, value) for name, value in pairs)


def rows(results, delay=DELAY):
    """The summary table's rows of :func:`measure`'s results."""
    print('inspection of nodes enrolled by BMC alone (simulated machines, '
          '%s s firmware delay):' % delay)
    print(_table(results))
    for r in results:
        print('%d at once: CPU seconds by thread: proxy %s; floor %s; the '
              'proxy\'s transactions per node, by who opened them: %s' % (
                  r['concurrency'], _pairs(r['proxy']['threads_cpu']),
                  _pairs(r['floor']['threads_cpu']),
                  _pairs((site, '%.2f' % (count / r['nodes'])) for
                         site, count in r['proxy']['transactions'])))
        for side in ('proxy', 'floor'):
            profile = r[side].get('profile')
            if profile:
                for key in ('self', 'total'):
                    print('%s, %d at once, CPU seconds by function (%s; '
                          'own, with callees, calls):\n  %s' % (
                              side, r['concurrency'], key,
                              '\n  '.join(profile[key])))
    for r in results:
        proxy = r['proxy']
        if proxy['failed'] or proxy['errors_logged']:
            print('%d at once: the proxy left %s; the machines: %s; '
                  'errors logged: %s; e.g. %s' % (
                      r['concurrency'], proxy['states'], proxy['machines'],
                      proxy['errors_logged'], proxy['errors'][:1]))
    out = []
    for r in results:
        floor, proxy = r['floor'], r['proxy']
        ratio = proxy['seconds'] / floor['seconds']
        failed = ', %d FAILED' % proxy['failed'] if proxy['failed'] else ''
        out.append({
            'work': 'inspection of %d nodes enrolled by BMC, %d at once'
                    % (r['nodes'], r['concurrency']),
            'nova_bm': '%.2f s (CPU %.1f s, %d threads, %.1f queries/node%s)'
                       % (proxy['seconds'], proxy['cpu'],
                          proxy['peak_threads'],
                          proxy['statements'] / r['nodes'], failed),
            'reference': '%.2f s floor (same IPMI + HTTP)'
                         % floor['seconds'],
            'ratio': ratio, 'goal': '<= %.2fx' % GOAL_RATIO,
            'met': ratio <= GOAL_RATIO and not proxy['failed']})
    return out


def run():
    return rows(measure())


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m benchmarks.inspection',
        description='Inspection of N nodes enrolled by BMC alone by one '
                    'proxy, against the floor of the same exchanges.')
    parser.add_argument('--nodes', type=int, default=NODES,
                        help='Nodes, fake BMCs and simulated machines '
                             '(default %(default)s).')
    parser.add_argument('--concurrency', type=int, action='append',
                        help='max_concurrent_inspections (repeat for more '
                             'rows; default: the option\'s default, then '
                             'the number of nodes).')
    parser.add_argument('--delay', type=float, default=DELAY,
                        help='Seconds of firmware self test per boot '
                             '(default %(default)s).')
    parser.add_argument('--profile', action='store_true',
                        help='Run both sides under cProfile (every thread, '
                             'on its CPU clock; several times slower) and '
                             'print the functions of most CPU seconds.')
    args = parser.parse_args(argv)
    if args.nodes < 1:
        parser.error('--nodes must be at least 1')
    results = rows(measure(args.nodes, args.concurrency, args.delay,
                           args.profile), args.delay)
    return 0 if all(r['met'] for r in results) else 1


if __name__ == '__main__':
    sys.exit(main())
