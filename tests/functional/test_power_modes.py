"""The power layer under both of nova-compute's concurrency modes.

Nova 34 runs nova-compute with native threads by default and can still run
it under eventlet; the IPMI loop must serve concurrent callers in both, and
a dead BMC must cost one timeout without holding up the others.
"""

import json
import os
import subprocess
import sys

import testscenarios

from tests import base
from tests import fleet as fleet_fixture

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PASSWORD = 'Modes-pw-51'

load_tests = testscenarios.load_tests_apply_scenarios


class PowerModesTestCase(base.TestCase):

    scenarios = [('native', {'mode': 'native'}),
                 ('eventlet', {'mode': 'eventlet'})]

    def test_concurrent_callers_and_bulk_sweep(self):
        fleet = self.useFixture(fleet_fixture.FleetFixture(
            8, password=PASSWORD))
        fleet.fleet.control(fleet.ports[3], power='on')
        dead = fleet_fixture.unused_port()
        env = dict(os.environ, PYTHONPATH=ROOT)
        result = subprocess.run(
            [sys.executable, '-m', 'tests.functional.power_client',
             self.mode, json.dumps(fleet.ports), str(dead), PASSWORD],
            capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
        self.assertEqual(0, result.returncode, result.stderr)
        seen = json.loads(result.stdout)
        expected_threading = 'green' if self.mode == 'eventlet' else 'native'
        self.assertEqual(expected_threading, seen['threading'])
        expected = ['on' if i == 3 else 'off' for i in range(8)] * 4
        self.assertEqual(expected, seen['concurrent_states'])
        self.assertEqual('on', seen['power_on'])
        self.assertEqual('on', fleet.fleet.state(fleet.ports[0])['power'])
        bulk = seen['bulk']
        self.assertEqual('BmcUnreachable', bulk.pop(str(dead)))
        self.assertEqual({str(p): 'on' if i in (0, 3) else 'off'
                          for i, p in enumerate(fleet.ports)}, bulk)
        # The dead BMC costs one timeout (3 s), not one per retry.
        self.assertLess(seen['bulk_seconds'], 2 * 3.0)
        self.assertNotIn(PASSWORD, result.stderr)
