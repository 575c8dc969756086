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
        runs = {side: result[side]['1'] for side in ('nova_bm', 'floor')}
        # The config drive's comparison: one server with, one without.
        runs.update(('config drive %s' % side, result['config_drive'][side])
                    for side in ('with', 'without'))
        for side, (run,) in runs.items():
            # Each phase happened, in order: none is negative.
            for phase in deploy.PHASES:
                self.assertGreaterEqual(run[phase], 0, (side, phase))
            self.assertGreaterEqual(run['total'], run['ramdisk'])
            if side != 'floor':
                self.assertGreaterEqual(run['active'], 0, side)
                self.assertEqual('ACTIVE', run['status'], side)
        # Each side deployed what it says: the ramdisk wrote a config
        # drive for the server that asked for one (and Nova's API shows
        # it), none for the others.
        (drive,) = result['config_drive']['with']
        self.assertEqual((['True'], True),
                         (drive['config_drive'], drive['drive_written']))
        for side in ('nova_bm', 'config drive without'):
            (run,) = runs[side]
            self.assertFalse(run['drive_written'], side)
        # Its row is computed from those runs.
        row = deploy.config_drive_row(result['config_drive'])
        self.assertEqual(
            drive['total'] / result['config_drive']['without'][0]['total'],
            row['ratio'])
