"""The per-BMC breaker opens, cools down, probes once, and closes."""

import testtools

from nova_bm.power import breaker


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class BreakerTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.clock = FakeClock()
        self.breaker = breaker.Breaker(3, 60, clock=self.clock)

    def test_stays_closed_below_the_threshold(self):
        self.breaker.failure('one')
        self.breaker.failure('two')
        self.assertTrue(self.breaker.allow())
        self.assertFalse(self.breaker.is_open)

    def test_success_resets_the_count(self):
        self.breaker.failure('one')
        self.breaker.failure('two')
        self.breaker.success()
        self.breaker.failure('three')
        self.assertTrue(self.breaker.allow())
        self.assertEqual(1, self.breaker.failures)

    def test_opens_at_the_threshold_and_fails_fast(self):
        for n in range(3):
            self.breaker.failure('down %d' % n)
        self.assertTrue(self.breaker.is_open)
        self.assertFalse(self.breaker.allow())
        self.assertEqual('down 2', self.breaker.last_error)
        self.assertEqual(60, self.breaker.remaining())

    def test_one_probe_after_the_cooldown(self):
        for _ in range(3):
            self.breaker.failure('down')
        self.clock.now += 59.9
        self.assertFalse(self.breaker.allow())
        self.clock.now += 0.2
        self.assertTrue(self.breaker.allow())      # the probe
        self.assertFalse(self.breaker.allow())     # others wait for it
        self.breaker.success()
        self.assertTrue(self.breaker.allow())
        self.assertFalse(self.breaker.is_open)

    def test_failed_probe_opens_for_another_cooldown(self):
        for _ in range(3):
            self.breaker.failure('down')
        self.clock.now += 61
        self.assertTrue(self.breaker.allow())
        self.breaker.failure('still down')
        self.assertFalse(self.breaker.allow())
        self.assertEqual(60, self.breaker.remaining())
        self.assertEqual(4, self.breaker.failures)
