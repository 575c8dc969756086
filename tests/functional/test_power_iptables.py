"""Lost packets that are not the fake BMC's own doing: iptables on loopback.

The unit tests lose packets with the fake BMC's ``loss`` knob. Here the
kernel drops them (the ``statistic`` match, 30 % of the packets to and
from the BMCs' ports, each way), so what is tested is the power layer
against a lossy network, not against the fake's idea of one. Needs root
and iptables (run_tests.sh installs it; CI runs as root): without them
this test fails, naming what is missing.
"""

import os
import shutil
import subprocess

from nova_bm import exception
from nova_bm.power import ipmi
from nova_bm.power import ipmi_loop
from tests import base
from tests import fleet as fleet_fixture

LOSS = 0.3


class IptablesLossTestCase(base.TestCase):

    BMCS = 8

    def iptables(self, *rule):
        tool = shutil.which('iptables', path=os.pathsep.join(
            [os.environ.get('PATH', ''), '/usr/sbin', '/sbin']))
        if tool is None:
            self.fail('iptables is not installed (Debian package iptables; '
                      'run_tests.sh installs it when run as root)')
        result = subprocess.run([tool, '-w', '5'] + list(rule),
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(0, result.returncode,
                         'iptables %s: %s (this test needs root)'
                         % (' '.join(rule), result.stderr.strip()))

    def drop_at_random(self, direction, ports):
        # One rule per direction for the fleet's port range; removed
        # again whatever happens to the test.
        rule = ['INPUT', '-p', 'udp', '-i', 'lo', direction,
                '%d:%d' % (ports[0], ports[-1]), '-m', 'statistic',
                '--mode', 'random', '--probability', str(LOSS), '-j',
                'DROP']
        self.iptables('-A', *rule)
        self.addCleanup(self.iptables, '-D', *rule)

    def test_lossy_network_answered_mostly_never_wrongly(self):
        fleet = self.useFixture(fleet_fixture.FleetFixture(self.BMCS))
        for index, port in enumerate(fleet.ports):
            fleet.fleet.control(port, power='on' if index % 2 else 'off')
        self.drop_at_random('--dport', fleet.ports)   # requests
        self.drop_at_random('--sport', fleet.ports)   # replies
        self.conf.config(group='baremetal', ipmi_timeout=10.0)
        ipmi_loop.reset_loop()
        self.addCleanup(ipmi_loop.reset_loop)
        power = ipmi.IPMIPower()
        nodes = [fleet.node(i) for i in range(self.BMCS)]
        answered = 0
        for sweep in ('cold', 'warm'):
            states = power.get_power_states(nodes)
            for index in range(self.BMCS):
                state = states['uuid-%d' % index]
                if isinstance(state, exception.BmcError):
                    continue
                self.assertEqual('on' if index % 2 else 'off', state,
                                 sweep)
                answered += 1
        self.assertGreaterEqual(answered, 0.75 * 2 * self.BMCS)
