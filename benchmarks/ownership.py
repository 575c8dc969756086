"""Hash-ring ownership: 10,000 nodes over 10 proxies.

Measures, in the same run:

* the time of one ownership cycle, building the ring over the live proxies
  and mapping every node to its owner (``nova_bm.proxy.ownership``, tooz's
  consistent hash ring), against the floor of any hashing scheme: an md5
  of each node UUID modulo the number of proxies;
* the share of nodes that change owner when one proxy is lost, for each of
  the proxies in turn (the worst is reported), against the ideal 1/N of
  consistent hashing; the modulo scheme's share is printed for contrast.

Goal (issue "Scale-out"): at most 0.12 of the nodes move.
"""

import hashlib
import os
import statistics
import time
import uuid

from nova_bm.proxy import ownership

NODES = int(os.environ.get('NOVA_BM_BENCH_OWNERSHIP_NODES', 10000))
PROXIES = int(os.environ.get('NOVA_BM_BENCH_OWNERSHIP_PROXIES', 10))
ROUNDS = 5
GOAL_MOVED = 0.12


def _modulo_owners(node_uuids, proxies):
    proxies = sorted(proxies)
    return {u: proxies[int.from_bytes(hashlib.md5(
        u.encode('ascii'), usedforsecurity=False).digest()[:8], 'big')
        % len(proxies)] for u in node_uuids}


def _timed(func):
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def run():
    nodes = [str(uuid.uuid4()) for _ in range(NODES)]
    proxies = ['proxy-%02d' % i for i in range(PROXIES)]
    ring_time, before = _timed(
        lambda: ownership.Ring(proxies).owners(nodes))
    modulo_time, modulo_before = _timed(
        lambda: _modulo_owners(nodes, proxies))
    moved, modulo_moved = [], []
    for lost in proxies:
        survivors = [p for p in proxies if p != lost]
        moved.append(ownership.moved_fraction(
            before, ownership.Ring(survivors).owners(nodes)))
        modulo_moved.append(ownership.moved_fraction(
            modulo_before, _modulo_owners(nodes, survivors)))
    worst, ideal = max(moved), 1.0 / PROXIES
    print('ownership, %d nodes over %d proxies: ring cycle %.3f s, md5 '
          'modulo %.3f s (median of %d); nodes moved when one proxy is '
          'lost: worst %.4f, mean %.4f, ideal %.4f (md5 modulo: %.2f)' % (
              NODES, PROXIES, ring_time, modulo_time, ROUNDS, worst,
              statistics.mean(moved), ideal, statistics.mean(modulo_moved)))
    return [
        {'work': 'ownership cycle, %d nodes over %d proxies'
                 % (NODES, PROXIES),
         'nova_bm': '%.3f s' % ring_time,
         'reference': '%.3f s md5 modulo' % modulo_time,
         'ratio': ring_time / modulo_time, 'goal': 'reported', 'met': True},
        {'work': 'nodes moved when 1 of %d proxies is lost (worst)'
                 % PROXIES,
         'nova_bm': '%.4f' % worst,
         'reference': '%.4f ideal (1/%d)' % (ideal, PROXIES),
         'ratio': worst / ideal, 'goal': '<= %.2f moved' % GOAL_MOVED,
         'met': worst <= GOAL_MOVED},
    ]
