"""nova-bm-scheduler, started the way an operator starts nova-scheduler.

The console script runs as its own process with a nova.conf, Nova's API
and cell databases made by ``nova-manage`` and the local RabbitMQ; the
test waits for the service to register and checks which host manager the
running scheduler built. Bad configurations must stop it at start with
one line and status 1.
"""

import os
import shutil
import subprocess
import sys
import time

import fixtures
import sqlalchemy as sa

from tests import base
from tests import broker

BIN = os.path.dirname(sys.executable)
EXACT_FILTERS = ('ExactRamFilter', 'ExactCoreFilter', 'ExactDiskFilter')
STARTED = 'nova-bm: scheduling with host manager ' \
    'nova_bm.scheduler.host_manager.BareMetalHostManager'


def tool(name):
    path = os.path.join(BIN, name)
    return path if os.path.exists(path) else shutil.which(name)


class SchedulerServiceTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.main_db = 'sqlite:///%s/nova.sqlite' % self.dir

    def write_conf(self, transport_url='rabbit://guest:guest@127.0.0.1:1/',
                   enabled=('ComputeFilter',) + EXACT_FILTERS,
                   exact_available=True, extra=''):
        available = ['nova.scheduler.filters.all_filters']
        if exact_available:
            available += ['nova_bm.scheduler.filters.%s' % name
                          for name in EXACT_FILTERS]
        path = os.path.join(self.dir, 'nova.conf')
        with open(path, 'w') as f:
            f.write('[DEFAULT]\n'
                    'host = sched-1\n'
                    'transport_url = %(transport)s\n'
                    'state_path = %(dir)s\n'
                    '[api_database]\n'
                    'connection = sqlite:///%(dir)s/nova_api.sqlite\n'
                    '[database]\n'
                    'connection = %(main)s\n'
                    '[scheduler]\n'
                    'workers = 1\n'
                    '[placement]\n'
                    'auth_type = none\n'
                    'endpoint_override = http://127.0.0.1:1/placement\n'
                    '[filter_scheduler]\n'
                    '%(available)s\n'
                    'enabled_filters = %(enabled)s\n'
                    '%(extra)s' % {
                        'transport': transport_url, 'dir': self.dir,
                        'main': self.main_db,
                        'available': '\n'.join('available_filters = %s' % a
                                               for a in available),
                        'enabled': ','.join(enabled), 'extra': extra})
        return path

    def nova_manage(self, conf, *args):
        result = subprocess.run(
            [tool('nova-manage'), '--config-file', conf] + list(args),
            capture_output=True, text=True, timeout=180)
        self.assertEqual(0, result.returncode, result.stderr[-2000:])

    def run_refused(self, argv):
        result = subprocess.run(argv, capture_output=True, text=True,
                                timeout=120, stdin=subprocess.DEVNULL)
        output = result.stdout + result.stderr
        self.assertEqual(1, result.returncode, output[-3000:])
        self.assertNotIn('Traceback', output)
        return result.stderr.strip().splitlines()[-1]

    def scheduler_services(self):
        engine = sa.create_engine(self.main_db)
        try:
            with engine.connect() as connection:
                return connection.execute(sa.text(
                    "SELECT host FROM services WHERE binary = "
                    "'nova-scheduler' AND deleted = 0")).scalars().all()
        except sa.exc.OperationalError:
            return []
        finally:
            engine.dispose()

    def test_runs_nova_scheduler_with_the_bare_metal_host_manager(self):
        transport = broker.require(self)
        conf = self.write_conf(transport_url=transport)
        self.nova_manage(conf, 'api_db', 'sync')
        self.nova_manage(conf, 'db', 'sync')
        log_path = os.path.join(self.dir, 'scheduler.log')
        with open(log_path, 'w') as log:
            process = subprocess.Popen(
                [tool('nova-bm-scheduler'), '--config-file', conf],
                stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)
        self.addCleanup(process.wait, 30)
        self.addCleanup(process.terminate)
        deadline = time.monotonic() + 90
        while not self.scheduler_services():
            self.assertIsNone(process.poll(), open(log_path).read()[-3000:])
            self.assertLess(time.monotonic(), deadline,
                            'nova-scheduler service never registered')
            time.sleep(0.5)
        self.assertEqual(['sched-1'], self.scheduler_services())
        output = open(log_path).read()
        self.assertIn('Starting scheduler node', output)
        self.assertIn(STARTED, output)
        self.assertNotIn('Traceback', output)
        process.terminate()
        process.wait(30)

    def test_exact_filter_enabled_but_not_available_stops_at_start(self):
        conf = self.write_conf(exact_available=False)
        self.assertEqual(
            'nova-bm-scheduler: Configuration error: [filter_scheduler] '
            'enabled_filters: no available filter is named ExactRamFilter '
            '(add "available_filters = '
            'nova_bm.scheduler.filters.ExactRamFilter"); [filter_scheduler] '
            'enabled_filters: no available filter is named ExactCoreFilter '
            '(add "available_filters = '
            'nova_bm.scheduler.filters.ExactCoreFilter"); [filter_scheduler] '
            'enabled_filters: no available filter is named ExactDiskFilter '
            '(add "available_filters = '
            'nova_bm.scheduler.filters.ExactDiskFilter")',
            self.run_refused([tool('nova-bm-scheduler'),
                              '--config-file', conf]))

    def test_bad_option_value_stops_at_start(self):
        conf = self.write_conf(extra='host_subset_size = many\n')
        line = self.run_refused([tool('nova-bm-scheduler'),
                                 '--config-file', conf])
        self.assertEqual(
            "nova-bm-scheduler: Configuration error: [filter_scheduler] "
            "host_subset_size = 'many' in %s: invalid literal for int() "
            "with base 10: 'many'" % conf, line)

    def test_stock_scheduler_without_the_plugin_stops_at_start(self):
        # The filters configured, nova-bm not installed on this host: Nova
        # itself refuses to start, naming the module it cannot import.
        conf = self.write_conf()
        self.nova_manage(conf, 'api_db', 'sync')
        self.nova_manage(conf, 'db', 'sync')
        result = subprocess.run(
            [sys.executable, '-c',
             'import sys; sys.modules["nova_bm"] = None; '
             'from nova.cmd import scheduler; '
             'sys.argv = ["nova-scheduler", "--config-file", %r]; '
             'scheduler.main()' % conf],
            capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL)
        output = result.stdout + result.stderr
        self.assertEqual(1, result.returncode, output[-3000:])
        self.assertIn("CRITICAL nova [", output)
        self.assertIn("No module named 'nova_bm.scheduler'", output)
        self.assertEqual([], self.scheduler_services())
