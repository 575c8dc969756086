"""A machine's system UUID as its BMC and its firmware tell it: parsing,
and the three byte orders a BMC's GUID may come in."""

import uuid

import testtools

from nova_bm.common import system_uuid


class ParseTestCase(testtools.TestCase):

    def test_canonical_lower_case(self):
        text = '1C2D3E4F-0000-4000-8000-0123456789AB'
        self.assertEqual(text.lower(), system_uuid.parse(text))
        self.assertEqual(text.lower(), system_uuid.parse(text.lower()))

    def test_placeholders_are_none(self):
        for text in ('00000000-0000-0000-0000-000000000000',
                     'ffffffff-ffff-ffff-ffff-ffffffffffff',
                     'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
                     '03000200-0400-0500-0006-000700080009'):
            self.assertIsNone(system_uuid.parse(text), text)

    def test_garbage_is_none(self):
        for text in ('', 'nope', None, 42, '1c2d3e4f00004000800001234567',
                     '{1c2d3e4f-0000-4000-8000-0123456789}',
                     '1c2d3e4f000040008000-0123456789abcd',
                     'zc2d3e4f-0000-4000-8000-0123456789ab',
                     '1c2d3e4f-0000-4000-8000-0123456789ab\n'):
            self.assertIsNone(system_uuid.parse(text), repr(text))


class ByteOrdersTestCase(testtools.TestCase):

    def test_product_uuids_holds_the_three_orders(self):
        guid = '00112233-4455-6677-8899-aabbccddeeff'
        self.assertEqual(frozenset((
            guid,
            # The wire bytes (SMBIOS order: first three fields swapped)
            # read in RFC 4122 order.
            '33221100-5544-7766-8899-aabbccddeeff',
            # The wire bytes reversed, read in RFC 4122 order.
            'ffeeddcc-bbaa-9988-6677-445500112233')),
            system_uuid.product_uuids(guid.upper()))

    def test_bmc_guids_is_the_inverse_of_product_uuids(self):
        for _ in range(200):
            guid = str(uuid.uuid4())
            for product in system_uuid.product_uuids(guid):
                self.assertIn(guid, system_uuid.bmc_guids(product))
            product = str(uuid.uuid4())
            for bmc in system_uuid.bmc_guids(product):
                self.assertIn(product, system_uuid.product_uuids(bmc))
            # Unrelated UUIDs are not related.
            self.assertNotIn(product, system_uuid.product_uuids(guid))
            self.assertNotIn(guid, system_uuid.bmc_guids(product))

    def test_not_a_uuid_raises(self):
        self.assertRaises(ValueError, system_uuid.product_uuids, 'nope')
        self.assertRaises(ValueError, system_uuid.bmc_guids, 'nope')
