"""The raw IPMI requests match the spec's byte layouts."""

import uuid

from pyghmi.ipmi.private import util as pyghmi_util
import testtools

from nova_bm.common import system_uuid
from nova_bm.power import base
from nova_bm.power import ipmi_messages as msg


class MessagesTestCase(testtools.TestCase):

    def test_power_status_reads_bit_0(self):
        request = msg.get_power_state()
        self.assertEqual([(0x00, 0x01, ())],
                         [c[:3] for c in request.commands])
        self.assertEqual(base.POWER_ON, request.parse([bytearray([0x61])]))
        self.assertEqual(base.POWER_OFF, request.parse([bytearray([0x60])]))

    def test_chassis_control(self):
        request = msg.chassis_control(msg.CONTROL_SOFT_OFF, 'soft off')
        self.assertEqual([(0x00, 0x02, (5,))],
                         [c[:3] for c in request.commands])

    def test_set_boot_device_pxe_persistent(self):
        request = msg.set_boot_device('pxe', persistent=True)
        self.assertEqual([(0x00, 0x08, (3, 8)),
                          (0x00, 0x08, (5, 0xc0, 0x04, 0, 0, 0))],
                         [c[:3] for c in request.commands])

    def test_set_boot_device_efi_sets_bit_5(self):
        # IPMI 2.0 table 28-14, data 1: bit 7 valid, bit 6 persistent,
        # bit 5 "BIOS boot type" EFI; Ironic's 0xe0 (persistent EFI) and
        # 0xa0 (one-time EFI).
        for persistent, flags in ((True, 0xe0), (False, 0xa0)):
            request = msg.set_boot_device('disk', persistent, efi=True)
            self.assertEqual((5, flags, 0x08, 0, 0, 0),
                             request.commands[1].data)
        self.assertEqual((5, 0x80, 0x04, 0, 0, 0),
                         msg.set_boot_device('pxe', False).commands[1].data)
        # No override is no override, EFI or not.
        self.assertEqual(
            (5, 0, 0, 0, 0, 0),
            msg.set_boot_device('default', True, efi=True).commands[1].data)

    def test_set_boot_device_default_clears_the_override(self):
        request = msg.set_boot_device('default', persistent=True)
        self.assertEqual((5, 0, 0, 0, 0, 0), request.commands[1].data)

    def test_get_boot_device(self):
        request = msg.get_boot_device()
        self.assertEqual((5, 0, 0), request.commands[0].data)
        self.assertEqual(
            {'boot_device': 'disk', 'persistent': False, 'efi': False},
            request.parse([bytearray([1, 5, 0x80, 0x08, 0, 0, 0])]))
        self.assertEqual(
            {'boot_device': 'pxe', 'persistent': True, 'efi': False},
            request.parse([bytearray([1, 5, 0xc0, 0x04, 0, 0, 0])]))
        self.assertEqual(
            {'boot_device': 'disk', 'persistent': True, 'efi': True},
            request.parse([bytearray([1, 5, 0xe0, 0x08, 0, 0, 0])]))
        # Valid bit clear: no override, whatever the device bits say.
        self.assertEqual(
            {'boot_device': 'default', 'persistent': False, 'efi': False},
            request.parse([bytearray([1, 5, 0x60, 0x04, 0, 0, 0])]))

    def test_describe_code(self):
        self.assertEqual('node busy (completion code 0xc0)',
                         msg.describe_code(0xc0))
        self.assertEqual('error (completion code 0x99)',
                         msg.describe_code(0x99))

    def test_privilege_each_request_needs(self):
        # IPMI 2.0 appendix G: reads are USER commands, Chassis Control
        # and Set System Boot Options OPERATOR; the logon check proves
        # the account may control.
        def levels(request):
            return {c.privilege for c in request.commands}
        self.assertEqual({msg.USER}, levels(msg.get_power_state()))
        self.assertEqual({msg.USER}, levels(msg.get_boot_device()))
        self.assertEqual({msg.OPERATOR}, levels(
            msg.chassis_control(msg.CONTROL_POWER_ON, 'power on')))
        self.assertEqual({msg.OPERATOR},
                         levels(msg.set_boot_device('pxe', False)))
        self.assertEqual({msg.OPERATOR}, levels(msg.logon_check()))


# IPMI 2.0 §22.14 Get System GUID, answered in the SMBIOS byte order: the
# first three fields little-endian, the last two as they are.
PRODUCT_UUID = '12345678-9abc-4def-8123-456789abcdef'
SMBIOS_WIRE = bytes.fromhex('78563412bc9aef4d8123456789abcdef')


class SystemGuidTestCase(testtools.TestCase):

    def test_request(self):
        request = msg.get_system_guid()
        self.assertEqual([(0x06, 0x37, ())],
                         [c[:3] for c in request.commands])
        self.assertEqual({msg.USER}, {c.privilege for c in request.commands})

    def test_parse_reads_the_smbios_byte_order(self):
        parse = msg.get_system_guid().parse
        self.assertEqual(PRODUCT_UUID, parse([bytearray(SMBIOS_WIRE)]))
        self.assertEqual(PRODUCT_UUID, parse([bytearray(
            uuid.UUID(PRODUCT_UUID).bytes_le)]))
        # Lower case, as Linux's product_uuid.
        self.assertEqual('00000000-0000-0000-0000-0000000000ff',
                         parse([bytearray(15) + b'\xff']))
        # Bytes after the 16 of the GUID are not part of it.
        self.assertEqual(PRODUCT_UUID,
                         parse([bytearray(SMBIOS_WIRE + b'\x01')]))

    def test_parse_agrees_with_pyghmi_and_ipmitool_smbios_mode(self):
        # pyghmi's client decodes it so (util.decode_wireformat_uuid, as
        # dmidecode prints it); ipmitool's "mc guid smbios" the same.
        self.assertEqual(
            pyghmi_util.decode_wireformat_uuid(SMBIOS_WIRE).lower(),
            msg.get_system_guid().parse([bytearray(SMBIOS_WIRE)]))

    def test_short_answer_is_malformed(self):
        parse = msg.get_system_guid().parse
        for data in (b'', SMBIOS_WIRE[:8], SMBIOS_WIRE[:15]):
            error = self.assertRaises(ValueError, parse, [bytearray(data)])
            self.assertEqual('a system GUID is 16 bytes, not %d' % len(data),
                             str(error))


class GuidVariantsTestCase(testtools.TestCase):

    def test_every_known_byte_order_matches_the_product_uuid(self):
        product = uuid.UUID(PRODUCT_UUID)
        parse = msg.get_system_guid().parse
        for order, wire in (('smbios', product.bytes_le),
                            ('rfc4122', product.bytes),
                            ('ipmi (OpenBMC)', product.bytes[::-1])):
            reported = parse([bytearray(wire)])
            self.assertIn(PRODUCT_UUID, system_uuid.product_uuids(reported),
                          order)
            self.assertIn(reported, system_uuid.bmc_guids(PRODUCT_UUID),
                          order)

    def test_three_canonical_forms(self):
        self.assertEqual(frozenset((
            PRODUCT_UUID,
            '78563412-bc9a-ef4d-8123-456789abcdef',
            'efcdab89-6745-2381-4def-9abc12345678')),
            system_uuid.product_uuids(PRODUCT_UUID))
        # Any spelling of the same GUID gives the same set.
        for text in (PRODUCT_UUID.upper(), PRODUCT_UUID.replace('-', ''),
                     '{%s}' % PRODUCT_UUID):
            self.assertEqual(system_uuid.product_uuids(PRODUCT_UUID),
                             system_uuid.product_uuids(text))
        # A GUID whose byte orders coincide is one form.
        self.assertEqual(frozenset(('00000000-0000-0000-0000-000000000000',)),
                         system_uuid.product_uuids(str(uuid.UUID(int=0))))

    def test_another_machine_does_not_match(self):
        self.assertNotIn('12345678-9abc-4def-8123-456789abcdee',
                         system_uuid.product_uuids(PRODUCT_UUID))

    def test_not_a_uuid(self):
        for text in ('', 'nope', PRODUCT_UUID[:-1]):
            self.assertRaises(ValueError, system_uuid.product_uuids, text)
