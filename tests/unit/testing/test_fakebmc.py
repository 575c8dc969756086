"""The fake BMC speaks real IPMI 2.0 over UDP to real clients."""

import io
import os
import time
import types

import fixtures

from pyghmi import exceptions as pyghmi_exc
from pyghmi.ipmi import command

from nova_bm.testing import fakebmc
from nova_bm.testing import machine
from tests import base
from tests import fleet as fleet_fixture


class FakeBmcTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.fleet = self.useFixture(fleet_fixture.FleetFixture(3))
        self.port = self.fleet.ports[0]

    def command(self, port=None):
        # Credentials as bytes: pyghmi 1.6.19 keys its logon table by the
        # credentials as given but removes entries by their encoded form,
        # so with str a second Command for a BMC waits forever.
        return command.Command('127.0.0.1', self.fleet.username.encode(),
                               self.fleet.password.encode(),
                               port=port or self.port, keepalive=False)

    def test_pyghmi_default_client_falls_back_to_suite_3(self):
        # pyghmi proposes suite 17 first; the fake answers "no cipher suite
        # match" like a real suite-3 BMC, and the client retries with 3.
        bmc = self.command()
        self.assertEqual('off', bmc.get_power()['powerstate'])
        bmc.set_power('on', wait=True)
        self.assertEqual('on', bmc.get_power()['powerstate'])
        self.assertEqual('on', self.fleet.fleet.state(self.port)['power'])

    def test_second_client_reuses_the_session(self):
        first = self.command()
        self.assertEqual('off', first.get_power()['powerstate'])
        second = self.command()
        self.assertIs(first.ipmi_session, second.ipmi_session)
        self.assertEqual('off', second.get_power()['powerstate'])

    def test_ipmitool_sees_and_changes_state(self):
        result = fleet_fixture.ipmitool(self.port, 'power', 'status')
        self.assertEqual('Chassis Power is off', result.stdout.strip())
        fleet_fixture.ipmitool(self.port, 'power', 'on')
        self.assertEqual('on', self.command().get_power()['powerstate'])
        result = fleet_fixture.ipmitool(self.port, 'chassis', 'bootdev',
                                        'pxe', 'options=persistent')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual({'bootdev': 'network', 'persistent': True,
                          'uefimode': False}, self.command().get_bootdev())

    def test_ipmitool_sol_activate(self):
        # An independent SOL client: the scripted console both ways.
        sol = fleet_fixture.ipmitool_sol(self.port)
        sol.read_until(b'nova-bm fake BMC %d: serial console' % self.port)
        sol.type(b'admin\r')
        sol.read_until(b'admin\r\nfake-%d login: ' % self.port)
        # One SOL session at a time, as on a real BMC.
        second = fleet_fixture.ipmitool(self.port, 'sol', 'activate')
        self.assertNotEqual(0, second.returncode)
        self.assertIn('SOL payload already active on another session',
                      second.stderr)
        self.assertEqual(0, sol.quit())
        state = self.fleet.fleet.state(self.port)['sol']
        # (ipmitool's escape, ~., follows a carriage return.)
        self.assertEqual((False, 'admin\r\r'),
                         (state['active'], state['received']))

    def test_suite_17_refused_cleanly(self):
        result = fleet_fixture.ipmitool(self.port, '-C', '17', 'power',
                                        'status')
        self.assertNotEqual(0, result.returncode)
        self.assertIn('no matching cipher suite', result.stderr)

    def test_each_bmc_keeps_its_own_state(self):
        self.command(self.fleet.ports[1]).set_power('on', wait=True)
        states = [self.fleet.fleet.state(p)['power'] for p in self.fleet.ports]
        self.assertEqual(['off', 'on', 'off'], states)

    def test_reject_credentials(self):
        self.fleet.fleet.control(self.port, reject=True)
        # pyghmi logs on when the Command is built.
        self.assertRaises(pyghmi_exc.IpmiException, self.command)
        result = fleet_fixture.ipmitool(self.port, 'power', 'status')
        self.assertNotEqual(0, result.returncode)
        self.fleet.fleet.control(self.port, reject=False)
        self.assertEqual('off', self.command().get_power()['powerstate'])

    def test_drop_and_delay(self):
        self.fleet.fleet.control(self.port, drop=True)
        result = fleet_fixture.ipmitool(self.port, 'power', 'status')
        self.assertNotEqual(0, result.returncode)
        self.fleet.fleet.control(self.port, drop=False, delay=0.3)
        start = time.monotonic()
        result = fleet_fixture.ipmitool(self.port, 'power', 'status')
        self.assertEqual('Chassis Power is off', result.stdout.strip())
        self.assertGreater(time.monotonic() - start, 0.3)


class StartUpFailureTestCase(base.TestCase):

    def test_missing_control_directory_is_refused_at_once(self):
        stderr = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', stderr))
        start = time.monotonic()
        error = self.assertRaises(SystemExit, fakebmc.main, [
            '--count', '1', '--base-port', '7001', '--control-dir',
            '/nonexistent/dir'])
        self.assertEqual(2, error.code)
        stderr.seek(0)
        self.assertIn("--control-dir: '/nonexistent/dir' is not a writable "
                      "directory", stderr.read())
        self.assertLess(time.monotonic() - start, 10)

    def test_worker_that_cannot_start_is_reported_at_once(self):
        # A control socket path longer than AF_UNIX allows: bind() fails.
        directory = os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'd' * 120)
        os.mkdir(directory)
        fleet = fakebmc.Fleet(1, 7002, control_dir=directory)
        start = time.monotonic()
        error = self.assertRaises(RuntimeError, fleet.start, timeout=60)
        self.assertIn('cannot make the control socket', str(error))
        self.assertLess(time.monotonic() - start, 30)

    def test_machines_options_are_checked(self):
        cases = [
            (['--machines', '/tmp'], '--machines needs --boot-url'),
            (['--machines', '/tmp', '--boot-url', 'http://10.0.2.2/b',
              '--disk-mb', '0'], '--disk-mb must be at least 1'),
            (['--machines', '/dev/null/x', '--boot-url',
              'http://10.0.2.2/b'], "--machines: cannot make '/dev/null/x'"),
        ]
        for extra, message in cases:
            stderr = io.StringIO()
            self.useFixture(fixtures.MonkeyPatch('sys.stderr', stderr))
            self.useFixture(fixtures.MonkeyPatch(
                'shutil.which', lambda name: '/usr/bin/' + name))
            error = self.assertRaises(SystemExit, fakebmc.main, [
                '--count', '1', '--base-port', '7001'] + extra)
            self.assertEqual(2, error.code)
            self.assertIn(message, stderr.getvalue())


class MachineTestCase(base.TestCase):
    """What the fake BMC asks QEMU for (the lab boots it for real)."""

    def machine(self):
        return machine.Machine('/m', machine.mac_for_port(6230),
                               'http://10.0.2.2:8089/boot.ipxe', 1 << 20)

    def boot_option(self, *args):
        command = self.machine().command(*args)
        return command[command.index('-boot') + 1]

    def test_boot_device_and_persistence(self):
        self.assertEqual('once=n,order=cn',
                         self.boot_option('network', False))
        self.assertEqual('order=nc', self.boot_option('network', True))
        self.assertEqual('order=cn', self.boot_option('hd', True))
        self.assertEqual('order=cn', self.boot_option('default', False))

    def test_nic_network_and_console(self):
        command = ' '.join(self.machine().command('hd', True))
        self.assertIn('virtio-net-pci,netdev=n0,mac=52:54:00:4c:18:56',
                      command)
        self.assertIn('bootfile=http://10.0.2.2:8089/boot.ipxe', command)
        self.assertIn('-accel tcg', command)
        self.assertIn('path=/m/serial.sock,server=on,wait=off,'
                      'logfile=/m/serial.log,logappend=on', command)
        # Behind a fake BMC, QEMU waits for its SOL bridge to connect.
        behind_bmc = machine.Machine('/m', machine.mac_for_port(6230),
                                     'http://h/boot.ipxe', 1 << 20,
                                     console_wait=True)
        self.assertIn('path=/m/serial.sock,server=on,wait=on,',
                      ' '.join(behind_bmc.command('hd', True)))

    def test_macs_differ_per_port(self):
        macs = {machine.mac_for_port(port) for port in range(1, 65536)}
        self.assertEqual(65535, len(macs))

    def test_a_machine_that_cannot_start_is_an_ipmi_error(self):
        faults = fakebmc.Faults()
        broken = machine.Machine(
            self.useFixture(fixtures.TempDir()).path, '52:54:00:00:00:01',
            'http://x/boot.ipxe', 1 << 20, qemu='/nonexistent/qemu')
        stderr = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', stderr))
        bmc = fakebmc.FakeBmc.__new__(fakebmc.FakeBmc)
        bmc.faults, bmc.machine, bmc.actions, bmc.port = (
            faults, broken, {}, 6230)
        bmc.boot_device, bmc.boot_persistent, bmc.power = 'hd', True, 'off'
        bmc.boot_efi = False
        self.assertEqual(0xff, bmc.power_on())
        self.assertEqual('off', bmc.get_power_state())
        self.assertIn('BMC 6230 cannot start its machine', stderr.getvalue())

    def test_a_uefi_machine_runs_ovmf_with_its_own_nvram(self):
        uefi = machine.Machine('/m', machine.mac_for_port(6230),
                               'http://h/boot.ipxe', 1 << 20,
                               boot_mode='uefi')
        command = uefi.command('network', False)
        self.assertIn('if=pflash,format=raw,unit=0,readonly=on,file=%s'
                      % machine.OVMF_CODE, command)
        self.assertIn('if=pflash,format=raw,unit=1,file=/m/OVMF_VARS.fd',
                      command)
        # OVMF orders by bootindex (-boot means nothing to it): the NIC
        # first for a network boot, after the one disk otherwise.
        self.assertNotIn('-boot', command)
        joined = ' '.join(command)
        self.assertIn('mac=52:54:00:4c:18:56,id=nic0,bootindex=0', joined)
        self.assertIn('file=/m/disk.img,format=raw', joined)
        self.assertIn('virtio-blk-pci,drive=drive-disk,id=disk-disk,'
                      'bootindex=1', joined)
        self.assertIn('id=nic0,bootindex=2',
                      ' '.join(uefi.command('hd', True)))
        self.assertNotIn('pflash', ' '.join(self.machine().command('hd',
                                                                   True)))
        self.assertRaises(ValueError, machine.Machine, '/m', 'm', 'u', 1,
                          boot_mode='efi')

    def test_nvram_made_once_and_kept(self):
        directory = self.useFixture(fixtures.TempDir()).path
        firmware = os.path.join(directory, 'firmware')
        os.mkdir(firmware)
        for name, data in (('OVMF_CODE', b'code'), ('OVMF_VARS', b'vars')):
            path = os.path.join(firmware, name + '.fd')
            with open(path, 'wb') as f:
                f.write(data)
            self.useFixture(fixtures.MonkeyPatch(
                'nova_bm.testing.machine.%s' % name, path))
        uefi = machine.Machine(directory, 'm', 'u', 1 << 20,
                               boot_mode='uefi')
        uefi._make_nvram()
        with open(machine.OVMF_VARS, 'rb') as template, open(
                uefi.nvram, 'rb') as nvram:
            self.assertEqual(template.read(), nvram.read())
        with open(uefi.nvram, 'r+b') as nvram:
            nvram.write(b'kept')  # what the firmware stored
        uefi._make_nvram()
        with open(uefi.nvram, 'rb') as nvram:
            self.assertEqual(b'kept', nvram.read(4))

    def test_firmware_obeys_only_overrides_of_its_boot_type(self):
        stderr = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', stderr))
        bmc = fakebmc.FakeBmc.__new__(fakebmc.FakeBmc)
        bmc.port = 6230
        bmc.ignored_overrides = 0
        for mode, efi, device, obeyed in (
                ('uefi', True, 'network', 'network'),
                ('uefi', False, 'network', 'default'),
                ('bios', False, 'hd', 'hd'),
                ('bios', True, 'hd', 'default'),
                ('uefi', False, 'default', 'default')):
            bmc.machine = types.SimpleNamespace(boot_mode=mode)
            bmc.boot_device, bmc.boot_efi = device, efi
            self.assertEqual(obeyed, bmc._override(), (mode, efi, device))
        self.assertEqual(2, bmc.ignored_overrides)
        self.assertIn('BMC 6230: UEFI firmware ignores a boot override to '
                      'network for the legacy boot path', stderr.getvalue())
        self.assertIn('BIOS firmware ignores a boot override to hd for the '
                      'EFI boot path', stderr.getvalue())
