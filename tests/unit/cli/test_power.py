"""``node power …`` and ``node validate`` against fake BMCs over UDP."""

import json
import time

from nova_bm.db import api as db_api
from nova_bm.enrolment import node_spec
from tests.unit.cli import base
from tests import fleet as fleet_fixture
from tests import utils

PASSWORD = 'Cli-pw-7f3e'


class PowerCommandsTestCase(base.ManageTestCase):

    def setUp(self):
        super().setUp()
        self.config_file = self.write_config(
            '[DEFAULT]\nstate_path = %s\nhost = proxy-1\n'
            '[baremetal]\nipmi_timeout = 3.0\npower_state_timeout = 6\n'
            'power_state_poll_interval = 0.05\n' % self.state)
        self.fleet = self.useFixture(
            fleet_fixture.FleetFixture(3, password=PASSWORD))
        self.assertManage('db', 'sync')
        specs = [node_spec.new_node(utils.node_values(
            i + 1, ipmi_port=port, ipmi_password=PASSWORD,
            service_host='proxy-1' if i < 2 else 'proxy-2'), [])
            for i, port in enumerate(self.fleet.ports)]
        specs.append(node_spec.new_node(utils.node_values(
            9, ipmi_port=fleet_fixture.unused_port(),
            ipmi_password=PASSWORD), []))
        db_api.create_nodes(specs)

    def bmc(self, index, **request):
        return self.fleet.fleet.control(self.fleet.ports[index], **request)

    def status(self, *args):
        code, out, err = self.manage('node', 'power', 'status', *args,
                                     '-f', 'json')
        return code, {row['Name']: row['Power State']
                      for row in json.loads(out)}, err

    def test_on_is_seen_by_ipmitool_and_ipmitool_off_by_status(self):
        out = self.assertManage('node', 'power', 'on', 'node-2')
        self.assertIn('| on ', out)
        result = fleet_fixture.ipmitool(self.fleet.ports[1], 'power',
                                        'status', password=PASSWORD)
        self.assertEqual('Chassis Power is on', result.stdout.strip())
        fleet_fixture.ipmitool(self.fleet.ports[1], 'power', 'off',
                               password=PASSWORD)
        code, states, _ = self.status('node-2')
        self.assertEqual((0, {'node-2': 'off'}), (code, states))
        self.assertEqual('off', db_api.get_node('node-2').power_state)

    def test_status_all_reports_the_dead_node_as_an_error(self):
        self.bmc(2, power='on')
        start = time.monotonic()
        code, states, err = self.status('--all')
        elapsed = time.monotonic() - start
        self.assertEqual(1, code)
        self.assertEqual('off', states['node-1'])
        self.assertEqual('on', states['node-3'])
        self.assertIn('error: BMC 127.0.0.1:', states['node-9'])
        self.assertIn('unreachable', states['node-9'])
        self.assertIn('1 of the nodes failed.', err)
        self.assertNotIn('Traceback', err)
        self.assertLess(elapsed, 2 * 3.0 + 2)  # one timeout, not more
        dead = db_api.get_node('node-9')
        self.assertIn('unreachable', dead.last_error)
        self.assertEqual('on', db_api.get_node('node-3').power_state)

    def test_host_selects_a_proxy(self):
        code, states, _ = self.status('--all', '--host', 'proxy-2')
        self.assertEqual((0, {'node-3': 'off'}), (code, states))

    def test_off_soft_and_reboot(self):
        self.bmc(0, power='on')
        self.assertManage('node', 'power', 'off', '--soft', 'node-1')
        self.assertEqual('off', self.bmc(0)['power'])
        self.assertManage('node', 'power', 'reboot', 'node-1', 'node-2')
        self.assertEqual(['on', 'on'],
                         [self.bmc(i)['power'] for i in (0, 1)])

    def test_validate(self):
        self.bmc(1, reject=True)
        code, out, _ = self.manage('node', 'validate', '--all', '-f', 'json')
        # One row per node and interface now (issue 33); the power rows
        # say what the single result said.
        results = {r['Name']: (r['Result'], r['Reason'])
                   for r in json.loads(out) if r['Interface'] == 'power'}
        self.assertEqual(1, code)
        self.assertIs(True, results['node-1'][0])
        self.assertIs(False, results['node-2'][0])
        self.assertIn('refused the IPMI credentials', results['node-2'][1])
        self.assertIs(True, results['node-3'][0])
        self.assertIn('unreachable', results['node-9'][1])
        self.assertNotIn(PASSWORD, out)

    def test_bad_selections_are_refused_before_any_bmc(self):
        self.assertRefused(2, 'Name nodes or give --all', 'node', 'power',
                           'status')
        self.assertRefused(2, 'not both', 'node', 'power', 'on', '--all',
                           'node-1')
        self.assertRefused(2, '--host selects nodes only with --all',
                           'node', 'power', 'off', 'node-1', '--host', 'x')
        self.assertRefused(1, 'Node nope could not be found', 'node',
                           'validate', 'node-1', 'nope')
        self.assertEqual('off', self.bmc(0)['power'])
