"""The deploy benchmarks still run, at a size a test can afford (timing is
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

    def test_boot_mode_case(self):
        lab.require(self)
        result = deploy.measure_boot_modes(rounds=1)
        for mode in ('bios', 'uefi'):
            (run,) = result[mode]
            # Each phase happened, in order: none is negative.
            for phase in deploy.PHASES:
                self.assertGreaterEqual(run[phase], 0, (mode, phase))
            self.assertGreaterEqual(run['total'], run['ramdisk'], mode)
            self.assertGreaterEqual(run['active'], 0, mode)
            self.assertEqual('ACTIVE', run['status'], mode)
            # The image said which firmware booted it: each side is the
            # kind of machine it claims, not two BIOS boots.
            self.assertEqual(mode, run['firmware'])
        # Its row is computed from those runs.
        (row,) = deploy.boot_mode_rows(result)
        self.assertEqual(
            result['uefi'][0]['total'] / result['bios'][0]['total'],
            row['ratio'])
        self.assertEqual(('reported', True), (row['goal'], row['met']))
