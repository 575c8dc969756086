"""Lab machines that tell apart: CPUs, SMBIOS UUID, extra NICs.

What QEMU is asked for, what is refused before QEMU could be, how a
fleet's machine spec reaches each machine, and what each fake BMC answers
to Get System GUID over real UDP.
"""

import os
import socket
import uuid

import fixtures
from pyghmi.ipmi import command as pyghmi_command

from nova_bm.testing import fakebmc
from nova_bm.testing import machine
from tests import base
from tests import fleet as fleet_fixture
from tests.unit.testing import test_machine_disks

PORT = 6230
MAC = machine.mac_for_port(PORT)
URL = 'http://10.0.2.2:8089/boot.ipxe'
UUID = '0f9d2a2c-5e1b-4c7a-9a41-3b1f7e6d5c4b'
EXTRA = [machine.mac_for_port(PORT, 1), machine.mac_for_port(PORT, 2)]


def option(command, name):
    return command[command.index(name) + 1]


def options(command, name):
    return [command[i + 1] for i, word in enumerate(command) if word == name]


class MachineCommandTestCase(base.TestCase):

    def test_defaults(self):
        command = machine.Machine('/m', MAC, URL, 1 << 20).command(
            'default', False)
        self.assertEqual('1', option(command, '-smp'))
        # The UUID its fake BMC reports, known from the port alone.
        self.assertEqual(machine.system_uuid_for_port(PORT),
                         option(command, '-uuid'))
        self.assertEqual(['user,id=n0,bootfile=%s' % URL],
                         options(command, '-netdev'))
        self.assertEqual(['virtio-net-pci,netdev=n0,mac=%s' % MAC],
                         options(command, '-device'))

    def test_cpus_and_uuid(self):
        m = machine.Machine('/m', MAC, URL, 1 << 20, memory_mb=384, cpus=2,
                            system_uuid=UUID.upper())
        command = m.command('network', False)
        self.assertEqual(('384', '2', UUID), (
            option(command, '-m'), option(command, '-smp'),
            option(command, '-uuid')))
        self.assertEqual(UUID, m.system_uuid)

    def test_extra_nics_have_their_own_wire_and_boot_nothing(self):
        m = machine.Machine('/m', MAC, URL, 1 << 20,
                            extra_macs=[EXTRA[0], EXTRA[1].upper()])
        command = m.command('network', True)
        self.assertEqual([
            'user,id=n0,bootfile=%s' % URL,
            'dgram,id=n1,local.type=unix,local.path=/m/nic1.sock,'
            'remote.type=unix,remote.path=/m/nic1.peer',
            'dgram,id=n2,local.type=unix,local.path=/m/nic2.sock,'
            'remote.type=unix,remote.path=/m/nic2.peer'],
            options(command, '-netdev'))
        self.assertEqual([
            'virtio-net-pci,netdev=n0,mac=%s' % MAC,
            'virtio-net-pci,netdev=n1,mac=%s,id=nic1,romfile=' % EXTRA[0],
            'virtio-net-pci,netdev=n2,mac=%s,id=nic2,romfile=' % EXTRA[1]],
            options(command, '-device'))
        # SeaBIOS's -boot layout: "n" is NIC 0's ROM, the only NIC ROM.
        self.assertEqual('order=nc', option(command, '-boot'))
        self.assertNotIn('bootindex', ' '.join(command))
        self.assertEqual({EXTRA[0]: ('/m/nic1.sock', '/m/nic1.peer'),
                          EXTRA[1]: ('/m/nic2.sock', '/m/nic2.peer')},
                         m.extra_nics)

    def test_extra_nics_in_the_bootindex_layout(self):
        for kwargs in ({'boot_mode': 'uefi'},
                       {'disks': [{'name': 'a', 'bytes': 1 << 20}]}):
            m = machine.Machine('/m', MAC, URL, 1 << 20, extra_macs=EXTRA,
                                **kwargs)
            for network_first, nic0 in ((True, 0), (False, 2)):
                devices = options(m.command(
                    'network' if network_first else 'hd', True), '-device')
                nics = [d for d in devices if d.startswith('virtio-net')]
                self.assertEqual([
                    'virtio-net-pci,netdev=n0,mac=%s,id=nic0,bootindex=%d'
                    % (MAC, nic0),
                    'virtio-net-pci,netdev=n1,mac=%s,id=nic1,romfile='
                    % EXTRA[0],
                    'virtio-net-pci,netdev=n2,mac=%s,id=nic2,romfile='
                    % EXTRA[1]], nics, kwargs)
                # The disk, then (or before) NIC 0: nothing else boots.
                self.assertEqual(2, ' '.join(devices).count('bootindex'))

    def test_commas_in_the_directory_are_doubled(self):
        m = machine.Machine('/m,x', MAC, URL, 1 << 20, extra_macs=EXTRA[:1])
        self.assertIn('local.path=/m,,x/nic1.sock,remote.type=unix,'
                      'remote.path=/m,,x/nic1.peer',
                      options(m.command('default', False), '-netdev')[1])


class MachineWireTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.directory = self.useFixture(fixtures.TempDir()).path
        self.machine = machine.Machine(self.directory, MAC, URL, 1 << 20,
                                       qemu='/bin/true', extra_macs=EXTRA)

    def test_send_frame_reaches_qemu_s_end_of_the_wire(self):
        qemu_end = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(qemu_end.close)
        qemu_end.bind(os.path.join(self.directory, 'nic2.sock'))
        qemu_end.settimeout(5)
        frame = bytes.fromhex('0180c200000e') + bytes.fromhex(
            EXTRA[1].replace(':', '')) + b'\x88\xcc' + b'lldp'
        self.machine.send_frame(EXTRA[1].upper(), frame)
        self.assertEqual(frame, qemu_end.recv(2048))

    def test_send_frame_to_a_machine_that_is_off_is_lost(self):
        self.machine.send_frame(EXTRA[0], b'frame')
        self.assertRaises(KeyError, self.machine.send_frame, MAC, b'frame')

    def test_stale_wires_are_removed_at_power_on(self):
        stale = os.path.join(self.directory, 'nic1.sock')
        with open(stale, 'w'):
            pass
        self.assertTrue(self.machine.power_on())
        self.machine._process.wait(10)
        self.assertFalse(os.path.exists(stale))


class HardwareValidationTestCase(base.TestCase):

    def refused(self, message, **kwargs):
        error = self.assertRaises(ValueError, machine.Machine, '/m', MAC,
                                  URL, 1 << 20, **kwargs)
        self.assertIn(message, str(error))

    def test_cpus(self):
        for bad in (0, 17, -1, '2', 2.0, True, None):
            self.refused('cpus must be an integer from 1 to 16, not %r'
                         % (bad,), cpus=bad)
        self.assertEqual(16, machine.Machine('/m', MAC, URL, 1,
                                             cpus=16).cpus)

    def test_system_uuid(self):
        for bad in ('', 'nope', UUID[:-1], 5, b'x' * 16):
            self.refused('system_uuid must be a UUID', system_uuid=bad)
        for good in (UUID.replace('-', ''), '{%s}' % UUID.upper()):
            self.assertEqual(UUID, machine.check_system_uuid(good))

    def test_extra_macs(self):
        self.refused('extra_macs must be a list of MACs',
                     extra_macs=EXTRA[0])
        self.refused("extra_macs: '52:54:00:4d:18' is not a MAC",
                     extra_macs=['52:54:00:4d:18'])
        self.refused('is not a MAC', extra_macs=['52-54-00-4d-18-56'])
        self.refused('is not a MAC', extra_macs=[None])
        self.refused('01:00:5e:00:00:01 is a multicast MAC',
                     extra_macs=['01:00:5E:00:00:01'])
        self.refused('%s is the MAC of two NICs' % MAC,
                     extra_macs=[MAC.upper()])
        self.refused('%s is the MAC of two NICs' % EXTRA[0],
                     extra_macs=[EXTRA[0], EXTRA[0].upper()])
        nine = [machine.mac_for_port(PORT, nic) for nic in range(1, 10)]
        self.refused('at most 8 extra NICs, not 9', extra_macs=nine)
        self.assertEqual(8, len(machine.Machine(
            '/m', MAC, URL, 1, extra_macs=nine[:8]).extra_nics))

    def test_identities_differ_per_port_and_nic(self):
        uuids = {machine.system_uuid_for_port(p) for p in range(1, 65536)}
        self.assertEqual(65535, len(uuids))
        self.assertEqual(machine.system_uuid_for_port(PORT),
                         machine.system_uuid_for_port(PORT))
        self.assertEqual(5, uuid.UUID(machine.system_uuid_for_port(1)).version)
        macs = {machine.mac_for_port(PORT, nic) for nic in range(9)}
        self.assertEqual(9, len(macs))
        self.assertEqual('52:54:00:4d:18:56', machine.mac_for_port(PORT, 1))


class FleetHardwareTestCase(base.TestCase):

    MACHINES = {'directory': '/lab', 'boot_url': URL}

    def test_spec_reaches_each_machine(self):
        machines = dict(self.MACHINES, cpus=2, cpus_by_port={6231: 4},
                        system_uuid_by_port={6231: UUID}, extra_nics=1,
                        extra_macs_by_port={6232: []})
        first, second, third = (fakebmc._machine(machines, port)
                                for port in (6230, 6231, 6232))
        self.assertEqual((2, 4, 2), (first.cpus, second.cpus, third.cpus))
        self.assertEqual((machine.system_uuid_for_port(6230), UUID,
                          machine.system_uuid_for_port(6232)),
                         (first.system_uuid, second.system_uuid,
                          third.system_uuid))
        self.assertEqual(([machine.mac_for_port(6230, 1)],
                          [machine.mac_for_port(6231, 1)], []),
                         (list(first.extra_nics), list(second.extra_nics),
                          list(third.extra_nics)))
        plain = fakebmc._machine(self.MACHINES, 6230)
        self.assertEqual((1, machine.system_uuid_for_port(6230), {}),
                         (plain.cpus, plain.system_uuid, plain.extra_nics))

    def test_fleet_refuses_bad_hardware_at_once(self):
        for spec, message in (
                ({'cpus': 0}, 'cpus must be an integer'),
                ({'cpus_by_port': {7001: 'x'}}, 'cpus must be an integer'),
                ({'system_uuid_by_port': {7001: 'x'}},
                 'system_uuid must be a UUID'),
                ({'extra_nics': 9}, 'extra_nics must be an integer from 0 '
                 'to 8, not 9'),
                ({'extra_nics': True}, 'extra_nics must be an integer'),
                ({'extra_macs_by_port': {7001: ['x']}},
                 "port 7001: extra_macs: 'x' is not a MAC"),
                ({'extra_macs_by_port': {
                    7001: [machine.mac_for_port(7002).upper()]}},
                 'extra_macs: %s is the MAC of a NIC of the machines on '
                 'ports 7001 and 7002' % machine.mac_for_port(7002))):
            error = self.assertRaises(ValueError, fakebmc.Fleet, 2, 7001,
                                      machines=dict(self.MACHINES, **spec))
            self.assertIn(message, str(error))
        # Two machines may share a system UUID (as cloned boards do).
        fakebmc.Fleet(2, 7001, machines=dict(
            self.MACHINES, extra_nics=8,
            system_uuid_by_port={7001: UUID, 7002: UUID}))


class CommandLineTestCase(base.TestCase):
    """``nova-bm-fakebmc --machines DIR --cpus N --extra-nics N``."""

    main = test_machine_disks.CommandLineTestCase.main

    def test_cpus_and_extra_nics(self):
        machines = self.main('--cpus', '2', '--extra-nics', '1')
        self.assertEqual((2, 1), (machines['cpus'], machines['extra_nics']))
        machines = self.main()
        self.assertEqual((1, 0), (machines['cpus'], machines['extra_nics']))

    def test_bad_values(self):
        for extra, message in (
                (['--cpus', '0'], '--cpus must be from 1 to 16'),
                (['--cpus', '17'], '--cpus must be from 1 to 16'),
                (['--extra-nics', '-1'], '--extra-nics must be from 0 to 8'),
                (['--extra-nics', '9'], '--extra-nics must be from 0 to 8')):
            self.assertIn(message, self.main(*extra))


class FakeBmcGuidTestCase(base.TestCase):
    """Get System GUID over real UDP, read by pyghmi's client."""

    def start(self, count, machines=None):
        """A fleet on free ports; ``machines(base_port)``: its spec."""
        return self.useFixture(fleet_fixture.FleetFixture(
            count, machines=machines)).fleet

    def raw_guid(self, fleet, port):
        # Credentials as bytes (see test_fakebmc).
        client = pyghmi_command.Command(
            '127.0.0.1', fleet.username.encode(), fleet.password.encode(),
            port=port, keepalive=False)
        response = client.raw_command(netfn=0x06, command=0x37)
        self.assertNotIn('error', response)
        return bytes(response['data'])

    def test_each_bmc_answers_the_uuid_of_its_port(self):
        fleet = self.start(2)
        for port in fleet.ports:
            system_uuid = machine.system_uuid_for_port(port)
            self.assertEqual(uuid.UUID(system_uuid).bytes_le,
                             self.raw_guid(fleet, port))
            self.assertEqual(system_uuid, fleet.state(port)['system_uuid'])

    def test_a_bmc_answers_its_machine_s_uuid(self):
        directory = self.useFixture(fixtures.TempDir()).path
        fleet = self.start(2, lambda base_port: {
            'directory': directory, 'boot_url': URL, 'cpus': 2,
            'extra_nics': 1, 'system_uuid_by_port': {base_port: UUID}})
        first, second = fleet.ports
        self.assertEqual(uuid.UUID(UUID).bytes_le,
                         self.raw_guid(fleet, first))
        self.assertEqual(
            uuid.UUID(machine.system_uuid_for_port(second)).bytes_le,
            self.raw_guid(fleet, second))
        state = fleet.state(first)
        self.assertEqual((UUID, 2, [machine.mac_for_port(first, 1)], 'off'),
                         (state['system_uuid'], state['machine']['cpus'],
                          state['machine']['extra_macs'], state['power']))

    def test_other_byte_orders(self):
        fleet = self.start(1)
        port = fleet.ports[0]
        guid = uuid.UUID(machine.system_uuid_for_port(port))
        for encoding, wire in (('rfc4122', guid.bytes),
                               ('ipmi', guid.bytes[::-1]),
                               ('short', guid.bytes_le[:8]),
                               ('smbios', guid.bytes_le)):
            fleet.control(port, guid_encoding=encoding)
            self.assertEqual(wire, self.raw_guid(fleet, port), encoding)
