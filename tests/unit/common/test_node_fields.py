"""Field rules shared by the CLI, node files and the driver."""

from nova.objects import fields as nova_fields

from nova_bm import exception
from nova_bm.common import node_fields
from nova_bm.common import safe_text
from tests import base


class NodeFieldsTestCase(base.TestCase):

    def assertInvalid(self, function, value, *args):
        error = self.assertRaises(exception.InvalidField, function, value,
                                  *args)
        self.assertIn(safe_text.quote(value), str(error))

    def test_architectures_are_novas(self):
        self.assertEqual(tuple(nova_fields.Architecture.ALL),
                         node_fields.CPU_ARCHITECTURES)

    def test_mac(self):
        for text in ('52:54:00:AB:cd:01', '52-54-00-ab-cd-01', '525400abcd01',
                     ' 52:54:00:ab:cd:01 '):
            self.assertEqual('52:54:00:ab:cd:01',
                             node_fields.mac_address(text))
        for bad in ('52:54:00:ab:cd', '52:54:00:ab:cd:0g', '52:54-00:ab:cd:01',
                    '', None, 525400):
            self.assertRaises(exception.InvalidField,
                              node_fields.mac_address, bad)

    def test_bmc_address(self):
        self.assertEqual('10.0.0.1', node_fields.bmc_address('10.0.0.1'))
        self.assertEqual('fd00::1', node_fields.bmc_address('fd00:0::1'))
        self.assertEqual('bmc-1.rack.example.org',
                         node_fields.bmc_address('BMC-1.rack.example.org'))
        for bad in ('300.1.1.1', '10.0.0', 'bad host', '-bmc', 'a..b', ''):
            self.assertInvalid(node_fields.bmc_address, bad)

    def test_port_and_positive_int(self):
        self.assertEqual(623, node_fields.port('623'))
        self.assertEqual(65535, node_fields.port(65535))
        for bad in (0, 65536, '-1', 'x', True, 1.5):
            self.assertInvalid(node_fields.port, bad)
        self.assertEqual(4, node_fields.positive_int(' 4 ', 'cpus'))
        for bad in (0, -1, 2 ** 31, '1e3', None):
            self.assertInvalid(node_fields.positive_int, bad, 'cpus')

    def test_name(self):
        for good in ('node-1', 'rack1.node_01', 'n'):
            self.assertEqual(good, node_fields.name(good))
        for bad in ('', '-node', 'node-', 'a b', 'x' * 64,
                    'a3f2e1d0-1111-4222-8333-944455556666'):
            self.assertRaises(exception.InvalidField, node_fields.name, bad)

    def test_resource_class_and_placement_name(self):
        self.assertEqual('baremetal-gold',
                         node_fields.resource_class('baremetal-gold'))
        for bad in ('', '-gold', 'gold class', 'x' * 81):
            self.assertInvalid(node_fields.resource_class, bad)
        self.assertEqual('CUSTOM_BAREMETAL_GOLD',
                         node_fields.placement_resource_class(
                             'baremetal-gold'))
        self.assertEqual('CUSTOM_GOLD',
                         node_fields.placement_resource_class('CUSTOM_GOLD'))

    def test_traits(self):
        self.assertEqual(['HW_CPU_X86_AVX2', 'CUSTOM_RACK1'],
                         node_fields.traits(['HW_CPU_X86_AVX2',
                                             'CUSTOM_RACK1', 'CUSTOM_RACK1']))
        for bad in ('custom_x', 'CUSTOM_', 'CUSTOM_a', 'HW_NOT_A_TRAIT'):
            self.assertInvalid(node_fields.trait, bad)
        self.assertRaises(exception.InvalidField, node_fields.traits,
                          'CUSTOM_X')

    def test_boot_mode(self):
        self.assertEqual('uefi', node_fields.boot_mode('UEFI'))
        self.assertEqual('bios', node_fields.boot_mode(' bios '))
        for bad in ('legacy', '', None, 1, 'efi'):
            self.assertInvalid(node_fields.boot_mode, bad)
        # Each mode has a standard trait os-traits knows; it follows the
        # boot mode and is not given by hand.
        for mode in node_fields.BOOT_MODE_NAMES:
            trait = node_fields.BOOT_MODE_TRAITS[mode]
            self.assertEqual(trait, node_fields.trait(trait))
            error = self.assertRaises(exception.InvalidField,
                                      node_fields.traits, ['CUSTOM_A', trait])
            self.assertIn('traits[1]: %s is reported from the node\'s boot '
                          'mode; set boot_mode (--boot-mode)' % trait,
                          str(error))

    def test_text_masks_passwords(self):
        error = self.assertRaises(exception.InvalidField, node_fields.text,
                                  'sec\nret', 'ipmi_password')
        self.assertNotIn('sec', str(error))
        self.assertIn('******', str(error))
