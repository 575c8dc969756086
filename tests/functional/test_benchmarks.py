"""The Nova-harness benchmarks still run, at a size a test can afford.

Timing is the benchmarks' business (``tox -e bench``); this only keeps
them from rotting: each runs end to end and returns a figure per side.
"""

import contextlib
import io
import re

from benchmarks import consoles
from benchmarks import image_serving
from benchmarks import inspection
from benchmarks import power_faults
from benchmarks import resource_cycle
from benchmarks import scheduler
from tests import base


class BenchmarksRunTestCase(base.TestCase):

    def test_resource_cycle_case(self):
        times = resource_cycle.measure(nodes=5, rounds=1)
        self.assertEqual({'fake', 'nova_bm', 'fake_refresh',
                          'nova_bm_refresh'}, set(times))
        self.assertEqual([1] * 4, [len(t) for t in times.values()])

    def test_scheduler_case(self):
        result = scheduler.measure(nodes=5, rounds=2)
        self.assertEqual({'synced', 'unsynced'}, set(result))
        for times in result.values():
            self.assertEqual({'stock', 'nova_bm'}, set(times))
            self.assertEqual([2, 2], [len(t) for t in times.values()])

    def test_power_faults_case(self):
        result = power_faults.measure(40)  # raises on a wrong answer
        self.assertEqual(40, sum(result['sizes'].values()))
        for side in ('cold', 'warm'):
            seconds, answered = result[side]
            self.assertLessEqual(answered[power_faults.HEALTHY],
                                 result['sizes'][power_faults.HEALTHY])
        self.assertEqual(0, result['reference']['dead'])

    def test_consoles(self):
        # Raises when a console does not open, stays open or carry data.
        result = consoles.measure(bmcs=20, idle_seconds=1)
        self.assertGreater(result['opening'], 0)
        self.assertGreaterEqual(result['received'], 20 * len(
            'nova-bm fake BMC 20000: serial console'))

    def test_image_serving(self):
        # Both servers send the whole file to every client (the benchmark
        # raises on a short download).
        times = image_serving.measure(megabytes=8, rounds=1)
        self.assertEqual(8 * 8 << 20, times['bytes'])
        self.assertEqual([1, 1], [len(times['nova_bm']),
                                  len(times['nginx'])])

    def test_inspection(self):
        # Raises unless, on both sides, every node was inspected (the
        # proxy's all manageable) and every simulated machine reported.
        # A 2 s firmware delay: a machine that powers itself off sooner
        # than its power on is read back (a busy machine's IPMI round
        # trips) leaves the power on unconfirmed, on both sides.
        results = inspection.measure(nodes=20, concurrencies=[5, 20],
                                     delay=2.0)
        self.assertEqual([5, 20], [r['concurrency'] for r in results])
        for result in results:
            for side in ('floor', 'proxy'):
                self.assertEqual((20, 0), (result[side]['inspected'],
                                           result[side]['failed']), side)
            self.assertGreater(result['proxy']['statements'], 0)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            rows = inspection.rows(results, delay=2.0)
        for concurrency in (5, 20):
            self.assertRegex(printed.getvalue(), re.compile(
                r'^ *20 +%d +[0-9.]+ +[0-9.]+ +[0-9.]+x ' % concurrency,
                re.MULTILINE))
        self.assertEqual(2, len(rows))
        self.assertTrue(all(row['ratio'] > 0 for row in rows))
