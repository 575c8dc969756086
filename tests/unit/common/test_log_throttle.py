"""The log throttle every refusal of a hostile peer goes through."""

from nova_bm.common import log_throttle
from tests import base


class ThrottleTestCase(base.TestCase):

    def test_once_per_interval_per_key_then_the_count(self):
        throttle = log_throttle.Throttle(interval=60, keys=None)
        self.assertEqual(0, throttle.admit('a', now=0))
        self.assertIsNone(throttle.admit('a', now=1))
        self.assertIsNone(throttle.admit('a', now=59))
        self.assertEqual(2, throttle.admit('b', now=59))
        self.assertEqual(0, throttle.admit('a', now=60))

    def test_bounded_keys(self):
        throttle = log_throttle.Throttle(interval=60, keys=3)
        admitted = [throttle.admit(str(i), now=i / 1000) for i in range(1000)]
        self.assertEqual([0, 0, 0], admitted[:3])
        self.assertEqual([None] * 997, admitted[3:])
        self.assertEqual(3, len(throttle._logged))
        self.assertEqual(997, throttle.admit('new', now=61))
        self.assertLessEqual(len(throttle._logged), 3)

    def test_not_logged(self):
        self.assertEqual('', log_throttle.not_logged(0))
        self.assertEqual(' (3 more not logged since the last such line)',
                         log_throttle.not_logged(3))
