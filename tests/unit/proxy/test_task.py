"""What the proxy hands down with a node: power calls whose answers reach
the power sync, and the power states nova-bm-manage read."""

from nova_bm.common import notifications
from nova_bm.db import api as db_api
from nova_bm.enrolment import node_spec
from nova_bm import exception
from nova_bm.power import base as power_base
from nova_bm.proxy import node_cache
from nova_bm.proxy import power_sync
from nova_bm.proxy import task as node_task
from tests.unit.db import base
from tests.unit import test_driver
from tests import utils


class NodeTaskTestCase(base.DbTestCase):

    def setUp(self):
        super().setUp()
        db_api.create_nodes([node_spec.new_node(utils.node_values(1), [])])
        self.node = db_api.get_node('node-1')
        self.power = test_driver.ScriptedPower()
        self.events = []
        self.sync = power_sync.PowerSync(
            self.power, notify=lambda event, node, **extra: self.events.append(
                (event, node.name, extra.get('power_state'))))
        self.cache = node_cache.NodeCache(self.node.service_host)
        self.recording = node_task.RecordingPower(self.power, self.sync)
        self.task = node_task.NodeTask(self.node, self.recording, self.sync,
                                       self.cache, lambda *a, **k: None)

    def test_states_read_back_are_recorded_before_the_call_returns(self):
        self.assertEqual(power_base.POWER_ON,
                         self.recording.power_on(self.node))
        self.assertEqual(power_base.POWER_ON, self.sync.state(self.node.uuid))
        self.assertEqual(power_base.POWER_ON,
                         db_api.get_node('node-1').power_state)
        self.recording.power_off(self.node)
        self.assertEqual(power_base.POWER_OFF,
                         self.sync.state(self.node.uuid))

    def test_run_remembers_a_bmc_failure_then_raises_it(self):
        self.power.fail[('power_on', 'node-1')] = test_driver.timeout(
            'node-1')
        self.assertRaises(exception.BmcTimeout, self.task.run,
                          self.recording.power_on)
        self.assertTrue(self.task.bmc_failing)
        self.assertIn('node-1', db_api.get_node('node-1').last_error)
        # A later answer clears it.
        del self.power.fail[('power_on', 'node-1')]
        self.task.run(self.recording.power_on)
        self.assertFalse(self.task.bmc_failing)

    def test_reload_puts_the_row_in_the_cache(self):
        db_api.set_provision_state(self.node.uuid, 'cleaning')
        self.assertEqual('cleaning', self.task.reload().provision_state)
        self.assertEqual('cleaning', self.cache.get('node-1').provision_state)

    def test_adopt_takes_what_another_process_read(self):
        self.recording.power_on(self.node)
        self.events.clear()
        # nova-bm-manage read "off" and stored it.
        db_api.record_power_states({self.node.uuid: power_base.POWER_OFF})
        self.sync.adopt([db_api.get_node('node-1')])
        self.assertEqual(power_base.POWER_OFF,
                         self.sync.state(self.node.uuid))
        self.assertEqual([(notifications.POWER_STATE_CHANGED, 'node-1',
                           power_base.POWER_OFF)], self.events)
        # Nothing to write: the row already says so.
        self.assertEqual(power_base.POWER_OFF,
                         db_api.get_node('node-1').power_state)
