"""Bad option values are found at start, one line each."""

import os

import fixtures
from oslo_config import cfg
import testtools

from nova_bm.conf import baremetal
from nova_bm.conf import check
from nova_bm.conf import database
from nova_bm import exception


class CheckTestCase(testtools.TestCase):

    def conf_from(self, text):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'nova.conf')
        with open(path, 'w') as f:
            f.write(text)
        conf = cfg.ConfigOpts()
        conf.register_opt(cfg.IntOpt('debug_level', default=1))
        conf.register_opt(cfg.StrOpt('state_path', default='/var/lib/nova'))
        baremetal.register_opts(conf)
        database.register_opts(conf)
        conf(['--config-file', path])
        return conf

    def test_valid_configuration_has_no_problem(self):
        conf = self.conf_from('[baremetal]\npower_sync_interval = 30\n')
        self.assertEqual([], check.invalid_options(
            conf, (None,) + check.DRIVER_GROUPS))
        check.check_options(conf, check.DRIVER_GROUPS)

    def test_each_bad_value_is_one_line_naming_the_option(self):
        conf = self.conf_from(
            '[DEFAULT]\ndebug_level = loud\n'
            '[baremetal]\npower_sync_interval = soon\n'
            'default_cpu_arch = z80\nreport_standard_inventory = maybe\n')
        problems = check.invalid_options(conf, ('DEFAULT', 'baremetal'))
        self.assertEqual(
            ["[DEFAULT] debug_level = 'loud'",
             "[baremetal] default_cpu_arch = 'z80'",
             "[baremetal] power_sync_interval = 'soon'",
             "[baremetal] report_standard_inventory = 'maybe'"],
            sorted(p.split(' in ')[0] for p in problems))
        for problem in problems:
            self.assertNotIn('\n', problem)
            self.assertNotIn('Traceback', problem)
        error = self.assertRaises(exception.ConfigInvalid,
                                  check.check_options, conf, ('baremetal',))
        self.assertIn('soon', str(error))
        self.assertIn('z80', str(error))
