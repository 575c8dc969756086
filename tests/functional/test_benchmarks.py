"""The Nova-harness benchmarks still run, at a size a test can afford.

Timing is the benchmarks' business (``tox -e bench``); this only keeps
them from rotting: each runs end to end and returns a figure per side.
"""

from benchmarks import consoles
from benchmarks import image_serving
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
