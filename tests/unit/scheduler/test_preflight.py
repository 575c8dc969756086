"""nova-bm-scheduler's start-up checks of the scheduler's configuration."""

from nova_bm import exception
from nova_bm.scheduler import preflight
from tests import base

EXACT = ['nova_bm.scheduler.filters.ExactRamFilter',
         'nova_bm.scheduler.filters.ExactCoreFilter',
         'nova_bm.scheduler.filters.ExactDiskFilter']
ALL = 'nova.scheduler.filters.all_filters'


class PreflightTestCase(base.TestCase):

    def filters(self, available, enabled):
        self.conf.config(available_filters=available, enabled_filters=enabled,
                         group='filter_scheduler')

    def test_stock_and_exact_filters_pass(self):
        self.filters([ALL] + EXACT, ['ComputeFilter', 'ExactRamFilter',
                                     'ExactCoreFilter', 'ExactDiskFilter'])
        self.assertEqual([], preflight.filter_problems(self.conf.conf))
        preflight.check(self.conf.conf)

    def test_exact_filter_enabled_but_not_available(self):
        self.filters([ALL], ['ComputeFilter', 'ExactRamFilter'])
        self.assertEqual(
            ['[filter_scheduler] enabled_filters: no available filter is '
             'named ExactRamFilter (add "available_filters = '
             'nova_bm.scheduler.filters.ExactRamFilter")'],
            preflight.filter_problems(self.conf.conf))

    def test_available_filter_that_cannot_be_imported(self):
        self.filters([ALL, 'nova_bm_gone.filters.ExactRamFilter',
                      'nova_bm.scheduler.filters.ExactRamFiltre',
                      'nova_bm.scheduler.filters.LOG'], ['ComputeFilter'])
        self.assertEqual(
            ['[filter_scheduler] available_filters: cannot import '
             'nova_bm_gone.filters.ExactRamFilter: No module named '
             "'nova_bm_gone'",
             '[filter_scheduler] available_filters: '
             'nova_bm.scheduler.filters has no ExactRamFiltre',
             '[filter_scheduler] available_filters: '
             'nova_bm.scheduler.filters.LOG is not a host filter'],
            preflight.filter_problems(self.conf.conf))

    def test_check_raises_one_error_naming_every_problem(self):
        self.filters([ALL], ['ExactRamFilter', 'ExactDiskFilter'])
        error = self.assertRaises(exception.ConfigInvalid, preflight.check,
                                  self.conf.conf)
        self.assertIn('named ExactRamFilter', str(error))
        self.assertIn('named ExactDiskFilter', str(error))
        self.assertNotIn('\n', str(error))
