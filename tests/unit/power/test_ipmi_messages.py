"""The raw IPMI requests match the spec's byte layouts."""

import testtools

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
