"""One set of rules for a node, however it is enrolled."""

from nova_bm import exception
from nova_bm.enrolment import node_spec
from tests import base
from tests import utils


class NewNodeTestCase(base.TestCase):

    def test_defaults_and_normalisation(self):
        row, macs = node_spec.new_node(utils.node_values(
            1, ipmi_port=None, cpus='8'), ['52-54-00-00-00-0A'])
        self.assertEqual(('x86_64', 'baremetal', [], 623, 8),
                         (row['cpu_arch'], row['resource_class'],
                          row['traits'], row['ipmi_port'], row['cpus']))
        self.assertEqual(['52:54:00:00:00:0a'], macs)
        self.assertEqual(36, len(row['uuid']))

    def test_defaults_follow_configuration(self):
        self.conf.config(default_cpu_arch='aarch64',
                         default_resource_class='gold', group='baremetal')
        row, _ = node_spec.new_node(utils.node_values(1))
        self.assertEqual(('aarch64', 'gold'),
                         (row['cpu_arch'], row['resource_class']))

    def test_boot_mode_defaults_to_the_option_and_updates(self):
        row, _ = node_spec.new_node(utils.node_values(1))
        self.assertEqual('uefi', row['boot_mode'])  # Ironic's default
        self.conf.config(default_boot_mode='bios', group='baremetal')
        row, _ = node_spec.new_node(utils.node_values(1))
        self.assertEqual('bios', row['boot_mode'])
        row, _ = node_spec.new_node(utils.node_values(1, boot_mode='UEFI'))
        self.assertEqual('uefi', row['boot_mode'])
        self.assertEqual({'boot_mode': 'bios'},
                         node_spec.node_changes({'boot_mode': 'bios'}))
        error = self.assertRaises(exception.InvalidField, node_spec.new_node,
                                  utils.node_values(1, boot_mode='legacy'))
        self.assertIn('boot_mode: must be uefi or bios', str(error))

    def test_missing_and_unknown_fields(self):
        for field in node_spec.REQUIRED_FIELDS:
            values = utils.node_values(1)
            del values[field]
            error = self.assertRaises(exception.InvalidField,
                                      node_spec.new_node, values)
            self.assertEqual(field, error.kwargs['field'])
        self.assertRaises(exception.InvalidField, node_spec.new_node,
                          dict(utils.node_values(1), colour='red'))

    def test_mac_given_twice(self):
        self.assertRaises(exception.InvalidField, node_spec.new_node,
                          utils.node_values(1),
                          ['52:54:00:00:00:01', '52-54-00-00-00-01'])


class NodeChangesTestCase(base.TestCase):

    def test_changes(self):
        self.assertEqual({'cpus': 4, 'maintenance': True,
                          'maintenance_reason': 'fan'},
                         node_spec.node_changes({'cpus': '4',
                                                 'maintenance': True,
                                                 'maintenance_reason': 'fan',
                                                 'local_gb': None}))

    def test_rename_refused(self):
        self.assertRaises(exception.NodeRenameRefused, node_spec.node_changes,
                          {'name': 'other'})

    def test_reason_needs_maintenance(self):
        self.assertRaises(exception.InvalidField, node_spec.node_changes,
                          {'maintenance_reason': 'fan'})


class RootDeviceHintsTestCase(base.TestCase):
    """Root device hints are validated wherever a node is enrolled."""

    def test_hints_normalised_on_create_and_update(self):
        row, _ = node_spec.new_node(dict(utils.node_values(1),
                                         root_device_hints={'serial': 'S1',
                                                            'size': 480}))
        self.assertEqual({'size': '== 480', 'serial': 's== s1'},
                         row['root_device_hints'])
        # The CLI gives JSON text; '{}' removes the hints.
        self.assertEqual(
            {'root_device_hints': {'rotational': False}},
            node_spec.node_changes(
                {'root_device_hints': '{"rotational": false}'}))
        self.assertEqual({'root_device_hints': None},
                         node_spec.node_changes({'root_device_hints': '{}'}))

    def test_bad_hints_name_the_field_and_the_reason(self):
        for hints, reason in (
                ({'colour': 'red'}, 'colour'),
                ({'size': 'big'}, 'size'),
                ('{"serial": ', 'JSON'),
                (['serial'], 'mapping')):
            error = self.assertRaises(
                exception.InvalidField, node_spec.new_node,
                dict(utils.node_values(1), root_device_hints=hints))
            self.assertEqual('root_device', error.kwargs['field'])
            self.assertIn(reason, str(error))
            self.assertEqual(1, len(str(error).splitlines()))
