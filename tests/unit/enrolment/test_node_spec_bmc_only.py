"""A node enrolled with its BMC alone: no cpus, memory_mb, local_gb; it
waits in enroll or manageable for an inspection, never offered."""

from nova_bm import exception
from nova_bm.enrolment import node_spec
from tests import base
from tests import utils

NO_HARDWARE = dict.fromkeys(node_spec.HARDWARE_FIELDS)


class BmcOnlyTestCase(base.TestCase):

    def test_enroll_and_manageable_get_zeros(self):
        for state in node_spec.UNINSPECTED_STATES:
            row, macs = node_spec.new_node(
                utils.node_values(1, provision_state=state, **NO_HARDWARE))
            self.assertEqual((0, 0, 0, state, []),
                             (row['cpus'], row['memory_mb'],
                              row['local_gb'], row['provision_state'],
                              macs), state)

    def test_the_default_state_counts(self):
        self.conf.config(enrolled_node_state='enroll', group='baremetal')
        row, _ = node_spec.new_node(utils.node_values(1, **NO_HARDWARE))
        self.assertEqual(('enroll', 0), (row['provision_state'], row['cpus']))
        self.conf.config(enrolled_node_state='available', group='baremetal')
        error = self.assertRaises(exception.InvalidField, node_spec.new_node,
                                  utils.node_values(1, **NO_HARDWARE))
        self.assertIn('cpus', str(error))
        self.assertIn('available', str(error))

    def test_available_needs_the_hardware(self):
        error = self.assertRaises(
            exception.InvalidField, node_spec.new_node,
            utils.node_values(1, provision_state='available', **NO_HARDWARE))
        self.assertIn('cpus: is required to enrol a node available',
                      str(error))
        self.assertIn('node inspect', str(error))

    def test_all_three_or_none(self):
        for given in node_spec.HARDWARE_FIELDS:
            values = utils.node_values(1, provision_state='enroll',
                                       **NO_HARDWARE)
            values[given] = 4
            error = self.assertRaises(exception.InvalidField,
                                      node_spec.new_node, values)
            missing = [f for f in node_spec.HARDWARE_FIELDS if f != given][0]
            self.assertIn('%s: is required but missing' % missing,
                          str(error))
            self.assertIn('or none of them', str(error))

    def test_hardware_given_is_kept(self):
        row, _ = node_spec.new_node(utils.node_values(
            1, provision_state='enroll'))
        self.assertEqual((8, 16384, 100),
                         (row['cpus'], row['memory_mb'], row['local_gb']))
