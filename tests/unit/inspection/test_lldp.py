"""The LLDPDU a NIC received, read as hostile input, and the switch port
it names."""

import testtools

from nova_bm.inspection import lldp

SWITCH_MAC = '6c:3b:e5:a1:b2:c3'
SWITCH_MAC_BYTES = bytes.fromhex(SWITCH_MAC.replace(':', ''))


def tlv(kind, value=b''):
    """One TLV: the 7-bit type and 9-bit length, then the value."""
    return bytes(((kind << 1) | (len(value) >> 8), len(value) & 0xff)) + value


def chassis(value=SWITCH_MAC_BYTES, subtype=4):
    return tlv(1, bytes((subtype,)) + value)


def port(value=b'Ethernet1/7', subtype=5):
    return tlv(2, bytes((subtype,)) + value)


def lldpdu(*tlvs, end=True):
    """An LLDPDU as a switch sends it: chassis ID, port ID and TTL first,
    the End TLV last; as the ramdisk reports it (lower-case hex)."""
    if not tlvs:
        tlvs = (chassis(), port(), tlv(3, b'\x00\x78'),
                tlv(4, b'uplink to rack 12'), tlv(5, b'leaf-12a'))
    return (b''.join(tlvs) + (tlv(0) if end else b'')).hex()


class ParseTestCase(testtools.TestCase):

    def assertMalformed(self, text, reason):
        error = self.assertRaises(lldp.Malformed, lldp.parse, text)
        self.assertIn(reason, str(error))
        self.assertEqual(1, len(str(error).splitlines()), str(error))
        return error

    def test_a_switchs_advertisement(self):
        self.assertEqual({'chassis_id': SWITCH_MAC,
                          'port_id': 'Ethernet1/7',
                          'system_name': 'leaf-12a',
                          'port_description': 'uplink to rack 12'},
                         lldp.parse(lldpdu()))

    def test_what_is_not_sent_is_none(self):
        self.assertEqual(dict.fromkeys(lldp.FIELDS),
                         lldp.parse(lldpdu(tlv(3, b'\x00\x78'))))
        # An empty name is no name.
        self.assertIsNone(lldp.parse(lldpdu(tlv(5)))['system_name'])
        self.assertIsNone(lldp.parse(lldpdu(tlv(5, b'  ')))['system_name'])

    def test_other_tlvs_are_skipped(self):
        found = lldp.parse(lldpdu(
            chassis(), port(), tlv(3, b'\x00\x78'),
            tlv(6, b'Arista EOS'), tlv(7, b'\x00\x14\x00\x14'),
            tlv(8, bytes.fromhex('05010a000001020000000100')),
            tlv(127, bytes.fromhex('0080c2010064')),
            tlv(127, b'\x00\x12\x0f\x04' + b'\x05\xdc'),
            tlv(100, b'reserved'), tlv(5, b'leaf-12a')))
        self.assertEqual((SWITCH_MAC, 'Ethernet1/7', 'leaf-12a'),
                         (found['chassis_id'], found['port_id'],
                          found['system_name']))

    def test_reading_stops_at_the_end_tlv(self):
        # Whatever follows (a frame's padding, its FCS) is not read.
        text = lldpdu(chassis(), port()) + '0a0500'
        self.assertEqual('Ethernet1/7', lldp.parse(text)['port_id'])
        self.assertIsNone(lldp.parse(lldpdu(
            chassis(), tlv(0), tlv(5, b'after')))['system_name'])
        # A capture without the End TLV is read to its end.
        self.assertEqual('leaf-12a', lldp.parse(
            lldpdu(chassis(), tlv(5, b'leaf-12a'), end=False))['system_name'])

    def test_chassis_id_subtypes(self):
        def chassis_id(value, subtype):
            return lldp.parse(lldpdu(chassis(value, subtype)))['chassis_id']
        self.assertEqual('00:1c:73:00:00:99',
                         chassis_id(bytes.fromhex('001c73000099'), 4))
        self.assertEqual('leaf-12a', chassis_id(b'leaf-12a', 7))
        self.assertEqual('Chassis 1', chassis_id(b'Chassis 1', 1))
        self.assertEqual('ge-0', chassis_id(b'ge-0', 6))
        # Binary under a text subtype: hex, never a MAC's colons.
        self.assertEqual('001c73000099',
                         chassis_id(bytes.fromhex('001c73000099'), 7))
        self.assertEqual('6c6561660a', chassis_id(b'leaf\n', 7))
        self.assertEqual('ff20', chassis_id(b'\xff ', 7))
        self.assertEqual('20', chassis_id(b' ', 7))
        # A network address: IPv4, IPv6, other families as hex.
        self.assertEqual('192.0.2.7', chassis_id(b'\x01\xc0\x00\x02\x07', 5))
        self.assertEqual('2001:db8::7', chassis_id(
            b'\x02' + bytes.fromhex('20010db8' + '0' * 22 + '07'), 5))
        self.assertEqual('06001c73000099', chassis_id(
            bytes.fromhex('06001c73000099'), 5))
        self.assertEqual('01c00002', chassis_id(b'\x01\xc0\x00\x02', 5))
        # Printable UTF-8 is text.
        self.assertEqual('cœur-1', chassis_id('cœur-1'.encode(), 7))

    def test_port_id_subtypes(self):
        def port_id(value, subtype):
            return lldp.parse(lldpdu(chassis(), port(value, subtype)))[
                'port_id']
        self.assertEqual('52:54:00:00:00:01',
                         port_id(bytes.fromhex('525400000001'), 3))
        self.assertEqual('swp12', port_id(b'swp12', 5))
        self.assertEqual('512', port_id(b'512', 7))
        self.assertEqual('Gi1/0/12', port_id(b'Gi1/0/12', 1))
        self.assertEqual('10.0.0.1', port_id(b'\x01\x0a\x00\x00\x01', 4))
        # Port subtype 4 is a network address: of no known family, hex.
        self.assertEqual('0102', port_id(b'\x01\x02', 4))
        self.assertEqual('01', port_id(b'\x01', 7))

    def test_text_is_escaped(self):
        found = lldp.parse(lldpdu(
            tlv(4, b'uplink\x1b[2J\nforged'), tlv(5, b'leaf\xff\x00')))
        self.assertEqual('uplink\\x1b[2J\\nforged', found['port_description'])
        self.assertEqual('leaf\ufffd\\x00', found['system_name'])
        for value in found.values():
            self.assertTrue(value is None or value.isprintable(), value)

    def test_the_text_and_its_size(self):
        self.assertMalformed(None, 'empty')
        self.assertMalformed('', 'empty')
        for text in ('0', '0g', 'zz', '02 07', '0207\n', '0xff'):
            self.assertMalformed(text, 'hex digits')
        # Lower case, as the report's grammar says.
        self.assertMalformed(lldpdu().upper(), 'hex digits')
        # 1500 bytes at most, checked before anything is decoded.
        fits = tlv(127, b'\x00' * 498) * 3
        self.assertEqual(lldp.MAX_BYTES, len(fits))
        self.assertEqual(dict.fromkeys(lldp.FIELDS), lldp.parse(fits.hex()))
        self.assertMalformed((fits + tlv(0)).hex(), 'longer than 1500')
        self.assertMalformed('0' * 10 ** 6, 'longer than 1500')

    def test_truncated_tlvs(self):
        whole = bytes.fromhex(lldpdu())
        # Cut anywhere inside a TLV (not at a boundary): refused.
        boundaries = {0}
        offset = 0
        while offset < len(whole):
            offset += 2 + (((whole[offset] & 1) << 8) | whole[offset + 1])
            boundaries.add(offset)
        for cut in range(1, len(whole)):
            if cut in boundaries:
                lldp.parse(whole[:cut].hex())
            else:
                error = self.assertRaises(lldp.Malformed, lldp.parse,
                                          whole[:cut].hex())
                self.assertIn('cut short', str(error))
        self.assertMalformed('02', 'the TLV at byte 0 is cut short in its '
                                   'header')
        self.assertMalformed(tlv(5, b'leaf')[:-1].hex(),
                             'the TLV of type 5 at byte 0 is cut short: it '
                             'says 4 bytes, 3 are left')
        # A 9-bit length of up to 511.
        self.assertMalformed('0bff' + 'aa' * 10, 'says 511 bytes, 10')

    def test_garbled_tlvs(self):
        self.assertMalformed(lldpdu(tlv(0, b'x')), 'End TLV at byte 0 has '
                                                   'a length')
        self.assertMalformed(lldpdu(tlv(1, b'\x04')), 'chassis ID TLV at '
                                                      'byte 0 holds 1 bytes')
        self.assertMalformed(lldpdu(tlv(1)), 'holds 0 bytes')
        self.assertMalformed(lldpdu(chassis(), tlv(2, b'\x05' + b'p' * 256)),
                             'port ID TLV at byte 9 holds 257 bytes, not 2 '
                             'to 256')
        self.assertMalformed(lldpdu(chassis(b'\x00' * 5)),
                             'chassis ID at byte 0 is a MAC address of 5 '
                             'bytes, not 6')
        self.assertMalformed(lldpdu(port(b'\x00' * 8, 3)), 'port ID at byte '
                                                           '0 is a MAC')
        self.assertMalformed(lldpdu(tlv(5, b'n' * 256)),
                             'system name TLV at byte 0 holds 256 bytes')
        self.assertMalformed(lldpdu(tlv(4, b'd' * 300)),
                             'port description TLV')
        for kind in (chassis(), port(), tlv(4, b'a'), tlv(5, b'a')):
            self.assertMalformed(lldpdu(kind, kind), 'two')
        # The longest values allowed.
        found = lldp.parse(lldpdu(chassis(b'c' * 255, 7), port(b'p' * 255),
                                  tlv(5, b'n' * 255), tlv(4, b'd' * 255)))
        self.assertEqual(['c' * 255, 'p' * 255, 'n' * 255, 'd' * 255],
                         [found[key] for key in lldp.FIELDS])

    def test_a_reason_quotes_none_of_the_input(self):
        error = self.assertMalformed('\x1b[2J\n' + '00' * 10, 'hex digits')
        self.assertNotIn('\x1b', str(error))


class LocalLinkConnectionTestCase(testtools.TestCase):

    def test_switch_port_and_name(self):
        self.assertEqual(
            {'switch_id': SWITCH_MAC, 'port_id': 'Ethernet1/7',
             'switch_info': 'leaf-12a'},
            lldp.local_link_connection(lldp.parse(lldpdu())))

    def test_without_a_system_name(self):
        self.assertEqual(
            {'switch_id': SWITCH_MAC, 'port_id': 'Ethernet1/7'},
            lldp.local_link_connection(lldp.parse(lldpdu(chassis(), port()))))

    def test_any_port_id_subtype(self):
        found = lldp.parse(lldpdu(chassis(),
                                  port(bytes.fromhex('525400000001'), 3)))
        self.assertEqual('52:54:00:00:00:01',
                         lldp.local_link_connection(found)['port_id'])

    def test_none_without_a_mac_chassis_id_and_a_port_id(self):
        self.assertIsNone(lldp.local_link_connection(None))
        self.assertIsNone(lldp.local_link_connection({}))
        for tlvs in ((chassis(),), (port(),), (tlv(5, b'leaf-12a'),),
                     (chassis(b'leaf-12a', 7), port()),
                     (chassis(b'\x01\xc0\x00\x02\x07', 5), port())):
            self.assertIsNone(lldp.local_link_connection(
                lldp.parse(lldpdu(*tlvs))), tlvs)

    def test_a_mac_as_text_is_a_mac(self):
        # Some switches send their MAC as a locally assigned text.
        found = lldp.parse(lldpdu(chassis(SWITCH_MAC.encode(), 7), port()))
        self.assertEqual(SWITCH_MAC,
                         lldp.local_link_connection(found)['switch_id'])

    def test_what_a_port_cannot_hold_is_left_out(self):
        # A name escaped beyond 255 characters: the connection without it.
        found = lldp.parse(lldpdu(chassis(), port(), tlv(5, b'\x00' * 100)))
        self.assertEqual({'switch_id': SWITCH_MAC, 'port_id': 'Ethernet1/7'},
                         lldp.local_link_connection(found))
        # A port ID as hex beyond 255 characters: no connection.
        found = lldp.parse(lldpdu(chassis(), port(b'\xff' * 200, 7)))
        self.assertEqual(400, len(found['port_id']))
        self.assertIsNone(lldp.local_link_connection(found))
