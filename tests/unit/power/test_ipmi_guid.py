"""Reading system GUIDs over IPMI from fake BMCs, over real UDP.

A node enrolled with only its BMC is told apart by the GUID its BMC
reports; its deploy ramdisk by the SMBIOS UUID Linux reads. These check
that the first, read by nova-bm's power layer and by ipmitool, matches
the second whatever byte order the BMC uses, and that a BMC without a
usable answer is a BMC error, not a wrong GUID.
"""

from unittest import mock

import fixtures

from nova_bm import exception
from nova_bm.common import system_uuid
from nova_bm.power import base as power_base
from nova_bm.power import ipmi
from nova_bm.power import ipmi_loop
from nova_bm.testing import machine
from tests import base
from tests import fleet as fleet_fixture

TIMEOUT = 3.0


class SystemGuidTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.conf.config(group='baremetal', ipmi_timeout=TIMEOUT,
                         ipmi_retry_interval=0.05)
        self.fleet = self.useFixture(fleet_fixture.FleetFixture(4))
        self.useFixture(fixtures.FakeLogger(level='DEBUG'))
        ipmi_loop.reset_loop()
        self.addCleanup(ipmi_loop.reset_loop)
        self.power = ipmi.IPMIPower()

    def bmc(self, index, **request):
        return self.fleet.fleet.control(self.fleet.ports[index], **request)

    def product_uuid(self, index):
        """What the machine behind BMC ``index`` would read in
        /sys/class/dmi/id/product_uuid."""
        return machine.system_uuid_for_port(self.fleet.ports[index])

    def test_the_bmc_reports_its_machine_s_uuid(self):
        guid = self.power.get_system_guid(self.fleet.node(0))
        self.assertEqual(self.product_uuid(0), guid)
        self.assertEqual(guid, self.bmc(0)['system_uuid'])
        self.assertNotEqual(guid, self.power.get_system_guid(
            self.fleet.node(1)))

    def test_ipmitool_reads_the_same_guid(self):
        # An IPMI client nobody here wrote, decoding it the SMBIOS way.
        # Its default (automatic) decoding prefers the SMBIOS order too.
        for mode in ('smbios', 'auto'):
            result = fleet_fixture.ipmitool(self.fleet.ports[0], 'mc',
                                            'guid', mode)
            self.assertEqual(0, result.returncode, result.stderr)
            self.assertRegex(result.stdout, r'System GUID *: %s\n'
                             % self.product_uuid(0))

    def test_bulk_read_is_one_submission(self):
        self.bmc(1, guid_encoding='rfc4122')
        self.bmc(2, guid_encoding='ipmi')
        self.bmc(3, guid_encoding='unsupported')
        nodes = [self.fleet.node(i) for i in range(4)]
        nodes.append(self.fleet.node(0, uuid='uuid-4', ipmi_address=''))
        loop = ipmi_loop.get_loop()
        with mock.patch.object(loop, 'submit_many',
                               wraps=loop.submit_many) as submit_many:
            guids = self.power.get_system_guids(nodes)
        self.assertEqual(1, submit_many.call_count)
        self.assertEqual(4, len(submit_many.call_args.args[0]))
        self.assertEqual(self.product_uuid(0), guids['uuid-0'])
        for index in (1, 2):
            # Another byte order: another GUID, which still matches.
            self.assertNotEqual(self.product_uuid(index),
                                guids['uuid-%d' % index])
            self.assertIn(self.product_uuid(index),
                          system_uuid.product_uuids(
                              guids['uuid-%d' % index]))
        self.assertIsInstance(guids['uuid-3'], exception.BmcCommandRefused)
        self.assertIn('invalid command', str(guids['uuid-3']))
        self.assertIsInstance(guids['uuid-4'],
                              exception.InvalidBmcParameters)

    def test_a_short_answer_is_refused_not_padded(self):
        self.bmc(0, guid_encoding='short')
        error = self.assertRaises(exception.BmcCommandRefused,
                                  self.power.get_system_guid,
                                  self.fleet.node(0))
        self.assertIn('malformed response (a system GUID is 16 bytes, '
                      'not 8)', str(error))
        # A refusal: the BMC answered, it is not unhealthy.
        self.assertIsNone(exception.bmc_fault(error))

    def test_unknown_encoding_is_refused_by_the_fake(self):
        self.assertIn('guid_encoding must be one of',
                      self.bmc(0, guid_encoding='middle')['error'])
        self.assertEqual('smbios', self.bmc(0)['faults']['guid_encoding'])


class DefaultsTestCase(base.TestCase):

    def test_other_implementations_need_not_read_guids(self):
        # Optional, not abstract: a PowerInterface written before them
        # (a wrapper, a test double) can still be made.
        abstract = power_base.PowerInterface.__abstractmethods__
        for name in ('get_system_guid', 'get_system_guids'):
            self.assertNotIn(name, abstract)
            self.assertRaises(NotImplementedError,
                              getattr(power_base.PowerInterface, name),
                              mock.sentinel.power, [])
