"""A QEMU machine behind a fake BMC, driven by an independent IPMI client.

ipmitool (not nova-bm's power layer) powers the machine on, resets it,
presses its power button and pulls its plug; the power state it reads back
is the QEMU process's, and the machine's serial log shows each boot.
"""

import os
import time

from nova_bm.testing import images
from tests import base
from tests import fleet as fleet_fixture
from tests import lab

BOOT_TIMEOUT = 120


class MachineBehindBmcTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        lab.require(self)
        root = lab.machine_root(self)
        self.fleet = self.useFixture(fleet_fixture.FleetFixture(1, machines={
            'directory': root, 'disk_bytes': 8 << 20,
            # Nothing answers there: a network boot would fail; this test
            # boots the disk.
            'boot_url': 'http://%s:9/boot.ipxe' % lab.HOST_FROM_MACHINE}))
        self.port = self.fleet.ports[0]
        self.directory = self.fleet.fleet.machine_directory(self.port)
        os.makedirs(self.directory)
        with open(os.path.join(self.directory, 'disk.img'), 'wb') as f:
            f.write(images.boot_disk_image('M', size=8 << 20))

    def ipmitool(self, *args):
        result = fleet_fixture.ipmitool(self.port, *args)
        self.assertEqual(0, result.returncode, result.stderr)
        return result.stdout.strip()

    def console(self):
        try:
            with open(os.path.join(self.directory, 'serial.log'), 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except FileNotFoundError:  # QEMU has not opened it yet
            return ''

    def wait_for_markers(self, count):
        deadline = time.monotonic() + BOOT_TIMEOUT
        while self.console().count(images.marker('M')) < count:
            self.assertLess(time.monotonic(), deadline, self.console())
            time.sleep(0.1)

    def test_ipmi_power_acts_on_the_machine(self):
        self.assertEqual('Chassis Power is off',
                         self.ipmitool('power', 'status'))
        self.ipmitool('chassis', 'bootdev', 'disk', 'options=persistent')
        self.ipmitool('power', 'on')
        self.assertEqual('Chassis Power is on',
                         self.ipmitool('power', 'status'))
        self.wait_for_markers(1)
        state = self.fleet.fleet.state(self.port)
        self.assertEqual((1, self.fleet.fleet.mac(self.port)),
                         (state['machine']['boots'],
                          state['machine']['mac']))

        # Reset: the same QEMU process boots again.
        self.ipmitool('power', 'reset')
        self.wait_for_markers(2)
        self.assertEqual(1, self.fleet.fleet.state(self.port)
                         ['machine']['boots'])

        # The power button: this "OS" has no ACPI, so nothing happens, as on
        # a real machine.
        self.ipmitool('power', 'soft')
        time.sleep(1)
        self.assertEqual('Chassis Power is on',
                         self.ipmitool('power', 'status'))

        # Pulling the plug ends the QEMU process.
        self.ipmitool('power', 'off')
        self.assertEqual('Chassis Power is off',
                         self.ipmitool('power', 'status'))

    def test_one_time_network_boot_lasts_one_boot(self):
        self.ipmitool('chassis', 'bootdev', 'pxe')
        self.ipmitool('power', 'on')
        # The BMC clears a one-time boot device once it has been used.
        state = self.fleet.fleet.state(self.port)
        self.assertEqual(('on', 'default'), (state['power'],
                                             state['boot_device']))
        # The network boot fails (nothing serves boot.ipxe); the firmware
        # goes on to the disk, which boots.
        self.wait_for_markers(1)
        console = self.console()
        self.assertLess(console.index('iPXE'),
                        console.index(images.marker('M')))
        self.ipmitool('power', 'off')

    def test_ipmitool_sol_is_the_machine_serial_console(self):
        # An independent SOL client: the machine's boot, live, and what is
        # typed reaches the machine (whose image echoes it back).
        sol = fleet_fixture.ipmitool_sol(self.port)
        sol.read_until(b'SOL Session operational')
        self.ipmitool('chassis', 'bootdev', 'disk', 'options=persistent')
        self.ipmitool('power', 'on')
        sol.read_until(images.marker('M').encode(), timeout=BOOT_TIMEOUT)
        sol.type(b'echo-me')
        output = sol.read_until(b'echo-me')
        self.assertLess(output.index(b'Booting from Hard Disk'),
                        output.index(images.marker('M').encode()))
        # The SOL session outlives a reset, as on a BMC: the next boot
        # shows on it too.
        self.ipmitool('power', 'reset')
        sol.read_until(images.marker('M').encode(), timeout=BOOT_TIMEOUT,
                       count=2)
        self.assertEqual(0, sol.quit())
        self.ipmitool('power', 'off')
