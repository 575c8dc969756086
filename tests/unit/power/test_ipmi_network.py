"""The power layer on the networks BMCs sit on: slow BMCs and lost packets.

Real UDP to fake BMCs on loopback, with the fake's own faults: ``delay``
(every reply late by that many seconds) and ``loss`` (each packet, each
way, dropped with that probability). Timeouts are sized so that a loaded
machine passes; the assertions are about what was answered, and right.
"""

import statistics
import threading
import time

import fixtures

from nova_bm import exception
from nova_bm.power import ipmi
from nova_bm.power import ipmi_loop
from nova_bm.power import ipmi_session
from nova_bm.testing import fakebmc
from tests import base
from tests import fleet as fleet_fixture


class NetworkFaultsTestCase(base.TestCase):

    BMCS = 8

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.FakeLogger(level='INFO'))
        self.fleet = self.useFixture(fleet_fixture.FleetFixture(self.BMCS))
        ipmi_loop.reset_loop()
        self.addCleanup(ipmi_loop.reset_loop)
        # Every logon here must find its cipher suite anew.
        self.useFixture(fixtures.MonkeyPatch(
            'nova_bm.power.ipmi_session._REFUSED_SUITE_17', set()))

    def configure(self, timeout, **options):
        self.conf.config(group='baremetal', ipmi_timeout=timeout, **options)
        ipmi_loop.reset_loop()
        return ipmi.IPMIPower()

    def bmc(self, index, **request):
        return self.fleet.fleet.control(self.fleet.ports[index], **request)

    def test_slow_bmcs_are_read_cold_and_warm(self):
        # A cold read is six round trips (capabilities, Open Session
        # twice as the fake refuses suite 17, RAKP 1 and 3, the command):
        # 6 s at 1 s a reply, within a 10 s timeout. (A control command
        # adds one, Set Session Privilege Level.)
        power = self.configure(10.0)
        slow = {0: 0.5, 1: 1.0}
        for index, delay in slow.items():
            self.bmc(index, delay=delay, power='on' if index else 'off')
        nodes = [self.fleet.node(i) for i in slow]
        for sweep in ('cold', 'warm', 'cold again'):
            if sweep == 'cold again':
                # New sessions from the same client sockets: the BMC must
                # not take their first packets for copies of old ones.
                ipmi_loop.reset_loop()
                power = ipmi.IPMIPower()
            states = power.get_power_states(nodes)
            self.assertEqual({'uuid-0': 'off', 'uuid-1': 'on'}, states,
                             sweep)

    def test_slow_bmc_logon_is_not_taken_for_silence(self):
        # The call's second half used to be "silence" wherever it began:
        # a logon that took 60 % of the timeout was abandoned for a new
        # one at 50 %, and the BMC could never be read cold.
        power = self.configure(4.0)
        self.bmc(0, delay=0.35)
        self.assertEqual('off', power.get_power_state(self.fleet.node(0)))

    def test_lossy_bmcs_answer_mostly_and_never_wrongly(self):
        power = self.configure(10.0)
        for index in range(self.BMCS):
            self.bmc(index, loss=0.3, power='on' if index % 2 else 'off')
        nodes = [self.fleet.node(i) for i in range(self.BMCS)]
        answered = 0
        for _ in range(2):
            states = power.get_power_states(nodes)
            for index in range(self.BMCS):
                state = states['uuid-%d' % index]
                if isinstance(state, exception.BmcError):
                    continue
                self.assertEqual('on' if index % 2 else 'off', state)
                answered += 1
        # 30 % loss each way: about half the round trips fail. Each lost
        # packet is sent again within the timeout, so nearly all answer
        # (pyghmi's own logic answered about one in ten).
        self.assertGreaterEqual(answered, 0.75 * 2 * self.BMCS)

    def test_refused_cipher_suite_is_remembered(self):
        power = self.configure(5.0)
        node = self.fleet.node(0)
        target = ('127.0.0.1', self.fleet.ports[0])
        self.assertNotIn(target, ipmi_session._REFUSED_SUITE_17)
        self.assertEqual('off', power.get_power_state(node))
        self.assertIn(target, ipmi_session._REFUSED_SUITE_17)

    def test_healthy_bmc_is_not_slowed_by_faulty_neighbours(self):
        power = self.configure(5.0)
        healthy = self.fleet.node(0)
        power.get_power_state(healthy)  # logged on

        def latencies(count):
            found = []
            for _ in range(count):
                start = time.monotonic()
                self.assertEqual('off', power.get_power_state(healthy))
                found.append(time.monotonic() - start)
            return found

        alone = latencies(20)
        for index in range(1, self.BMCS):
            self.bmc(index, **({'drop': True} if index % 3 == 0 else
                               {'delay': 0.5} if index % 3 == 1 else
                               {'loss': 0.3}))
        neighbours = [self.fleet.node(i) for i in range(1, self.BMCS)]
        dead = [fleet_fixture.unused_port() for _ in range(40)]
        neighbours += [self.fleet.node(0, uuid='dead-%d' % port,
                                       ipmi_port=port) for port in dead]
        stop = threading.Event()

        def keep_them_busy():
            while not stop.is_set():
                power.get_power_states(neighbours)

        thread = threading.Thread(target=keep_them_busy, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 15)
        self.addCleanup(stop.set)
        time.sleep(0.5)  # the neighbours' calls are in flight
        beside = latencies(20)
        stop.set()

        def p95(values):
            return statistics.quantiles(values, n=20)[-1]
        # A healthy loopback BMC answers in milliseconds; one queued
        # behind a faulty neighbour would wait seconds.
        self.assertLess(p95(beside), max(0.5, 5 * p95(alone)),
                        (sorted(alone), sorted(beside)))

    def test_sweep_with_faults_ends_within_one_timeout(self):
        timeout = 8.0
        power = self.configure(timeout)
        faults = [{'drop': True}, {'delay': 0.5}, {'loss': 0.3},
                  {'reject': True}]
        for index, fault in enumerate(faults):
            self.bmc(index, **fault)
        nodes = [self.fleet.node(i) for i in range(self.BMCS)]
        # More dead BMCs than the old default parallelism (256): each
        # holds its slot for the whole timeout.
        dead = fakebmc.free_port_range(300)
        nodes += [self.fleet.node(0, uuid='dead-%d' % i,
                                  ipmi_port=dead + i) for i in range(300)]
        start = time.monotonic()
        states = power.get_power_states(nodes)
        elapsed = time.monotonic() - start
        self.assertIsInstance(states['uuid-0'], exception.BmcUnreachable)
        self.assertEqual('off', states['uuid-1'])
        self.assertIsInstance(states['uuid-3'], exception.BmcAuthFailed)
        self.assertEqual(['off'] * 4, [states['uuid-%d' % i]
                                       for i in range(4, 8)])
        self.assertLessEqual(elapsed, 1.1 * timeout)
