"""The deploy benchmark still runs, at a size a test can afford (timing is
``tox -e bench``'s business)."""

from benchmarks import deploy
from tests import base
from tests import lab


class DeployBenchmarkRunsTestCase(base.TestCase):

    def test_deploy_case(self):
        lab.require(self)
        result = deploy.measure(rounds=1, servers=1)
        self.assertEqual(1, result['glance_downloads'])
        for side in ('nova_bm', 'floor'):
            (run,) = result[side]['1']
            # Each phase happened, in order: none is negative.
            for phase in deploy.PHASES:
                self.assertGreaterEqual(run[phase], 0, (side, phase))
            self.assertGreaterEqual(run['total'], run['ramdisk'])
        self.assertGreaterEqual(result['nova_bm']['1'][0]['active'], 0)
