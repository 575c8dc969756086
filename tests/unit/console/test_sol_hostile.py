"""A hostile BMC (or anything answering as one) against the IPMI loop.

A BMC can send any UDP: SOL packets no SOL packet can be, as fast as it
likes, or packets pyghmi cannot parse. It may break its own console and
its own session; it must not raise into the IPMI loop, flood the log, or
slow the other BMCs' power calls. Real UDP to fake BMCs, except where a
packet no fake sends is handed to pyghmi's queue as its reader would.
"""

import time

import fixtures
from pyghmi.ipmi.private import session as ipmisession

from nova_bm import exception
from nova_bm.console import manager as console_manager
from nova_bm.console import sol_client
from nova_bm.power import ipmi
from nova_bm.power import ipmi_loop
from nova_bm.power import ipmi_messages
from nova_bm.power import ipmi_session
from tests import base
from tests import fleet as fleet_fixture

PASSWORD = 'Hostile-pw-5e0a'
# Ample for a loaded 2-core machine; only a failure waits this long.
WAIT = 30.0
TIMEOUT = 10.0
# What the client logs when the BMC sends 600 characters in one packet.
REASON = ('the BMC broke the SOL protocol: a packet of 600 characters (a '
          'packet carries at most 255)')
# An IPMI 1.5 header cut short: pyghmi 1.6.19 raises struct.error on it.
SHORT_PACKET = b'\x06\x00\xff\x07\x00'


def wait_for(predicate, timeout=WAIT, what='condition'):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError('%s not met within %s s' % (what, timeout))


class HostileTestCase(base.TestCase):

    BMCS = 4

    def setUp(self):
        super().setUp()
        self.conf.config(group='baremetal', ipmi_timeout=TIMEOUT,
                         power_state_timeout=TIMEOUT,
                         power_state_poll_interval=0.05)
        self.fleet = self.useFixture(
            fleet_fixture.FleetFixture(self.BMCS, password=PASSWORD))
        self.logs = self.useFixture(fixtures.FakeLogger(
            level='DEBUG', format='%(levelname)s %(name)s %(message)s'))
        self.loop = ipmi_loop.IpmiLoop(16, 5, 30)
        self.addCleanup(self.loop.close)
        self.power = ipmi.IPMIPower(loop=self.loop)

    def bmc(self, index, **request):
        return self.fleet.fleet.control(self.fleet.ports[index], **request)

    def inject(self, session, packet, count):
        """Queue ``packet`` for ``session`` as pyghmi's reader does with
        what arrives from its BMC, on the loop thread."""
        def queue():
            for _ in range(count):
                session.pktqueue.append((bytearray(packet), session.sockaddr,
                                         session.socket, True))
                ipmisession.sessionqueue.append(session)
        self.loop.call_soon(queue)

    def assertLoopHealthy(self, tracebacks=0):
        self.assertTrue(self.loop._thread.is_alive())
        self.assertNotIn('Unexpected error in the IPMI loop',
                         self.logs.output)
        self.assertEqual(tracebacks, self.logs.output.count('Traceback'))


class SolFloodTestCase(HostileTestCase):

    def setUp(self):
        super().setUp()
        self.manager = console_manager.ConsoleManager(loop=self.loop)
        self.addCleanup(self.manager.close_all)

    def console(self, index):
        node = self.fleet.node(index)
        self.assertTrue(self.manager.open(node, wait=WAIT))
        return self.manager._consoles[node.uuid].client

    def test_oversized_sol_flood_fails_its_console_alone(self):
        hostile = self.console(0)
        healthy = self.console(1)
        self.bmc(0, sol_flood=[600, 0.002])
        healthy_nodes = [self.fleet.node(i) for i in range(1, self.BMCS)]
        calls = 0
        deadline = time.monotonic() + 4 * WAIT

        def flooded():
            # Many packets, and a second session of the console failed
            # too (reopened, then broken again by the flood).
            return (self.bmc(0)['sol']['flooded'] >= 1000
                    and hostile.activations >= 2
                    and not hostile.active.is_set()
                    and hostile.last_error == REASON)

        # Every power call to a healthy BMC succeeds, all along.
        while not flooded():
            self.assertLess(time.monotonic(), deadline,
                            'the flood did not go on long enough: %s, %d '
                            'activations' % (self.bmc(0)['sol'],
                                             hostile.activations))
            for node in healthy_nodes:
                self.assertIn(self.power.get_power_state(node),
                              ('on', 'off'))
                self.assertEqual('on', self.power.power_on(node))
                self.assertEqual('off', self.power.power_off(node))
                calls += 3
        self.assertGreater(calls, 0)
        # The hostile BMC's own power calls are not its console's.
        self.assertEqual('off', self.power.get_power_state(
            self.fleet.node(0)))
        # Failed, reopened, failed again: the reason logged once.
        self.assertEqual(1, self.logs.output.count(REASON), self.logs.output)
        self.assertLoopHealthy()
        # The console beside it never noticed.
        self.assertEqual(1, healthy.activations)
        self.assertTrue(healthy.active.is_set())
        healthy.write(b'ping\r')
        wait_for(lambda: b'ping\r\nfake-%d login: ' % self.fleet.ports[1]
                 in self.manager.output(self.fleet.node(1).uuid),
                 what='the healthy echo')
        # The flood stops: the console is opened again, and works.
        self.bmc(0, sol_flood=None)
        activations = hostile.activations
        wait_for(lambda: hostile.activations > activations
                 and hostile.active.is_set(),
                 timeout=sol_client.MAX_BACKOFF + WAIT,
                 what='the hostile console opened again')
        hostile.write(b'back\r')
        wait_for(lambda: b'back\r\nfake-%d login: ' % self.fleet.ports[0]
                 in self.manager.output(self.fleet.node(0).uuid),
                 what='the echo of the console opened again')
        self.assertEqual(1, self.logs.output.count(REASON))
        self.assertLoopHealthy()

    def test_a_packet_pyghmi_cannot_parse_fails_that_console(self):
        hostile = self.console(0)
        healthy = self.console(1)
        self.inject(hostile._session, SHORT_PACKET, 500)
        wait_for(lambda: hostile.activations == 2 and hostile.active.is_set(),
                 timeout=WAIT + 1, what='the console opened again')
        reason = ('Serial console of node node-0 (BMC 127.0.0.1:%d) (SOL): '
                  'a packet from the BMC could not be handled (struct.error'
                  % self.fleet.ports[0])
        self.assertEqual(1, self.logs.output.count(reason), self.logs.output)
        self.assertTrue(healthy.active.is_set())
        self.assertEqual(1, healthy.activations)
        self.assertLoopHealthy(tracebacks=1)   # pyghmi's, at DEBUG, once

    def test_flood_of_valid_packets_is_only_output(self):
        # 255 characters a packet is within the protocol: a fast BMC,
        # not a broken one.
        hostile = self.console(0)
        self.bmc(0, sol_flood=[255, 0.002])
        wait_for(lambda: self.bmc(0)['sol']['flooded'] >= 300,
                 what='300 flood packets')
        self.assertIn(b'flood! ' * 30,
                      self.manager.output(self.fleet.node(0).uuid))
        self.assertEqual(1, hostile.activations)
        self.assertTrue(hostile.active.is_set())
        self.assertIsNone(hostile.last_error)
        self.assertEqual('off', self.power.get_power_state(
            self.fleet.node(1)))
        self.assertLoopHealthy()


class BadPacketTestCase(HostileTestCase):
    """Packets pyghmi itself cannot parse end that BMC's session only."""

    BMCS = 2

    def session(self, index):
        target = ipmi.bmc_target(self.fleet.node(index))
        return self.loop._connections[target.key].session

    def test_unparseable_packets_end_that_session_alone(self):
        nodes = [self.fleet.node(i) for i in range(self.BMCS)]
        for node in nodes:
            self.assertEqual('off', self.power.get_power_state(node))
        session = self.session(0)
        # It used to raise into the loop, for each one.
        self.inject(session, SHORT_PACKET, 500)
        wait_for(lambda: self.session(0) is None, what='the session dropped')
        self.assertIn('a packet from the BMC could not be handled '
                      '(struct.error: ', session.failure)
        self.assertEqual(1, self.logs.output.count(
            'IPMI session with 127.0.0.1:%d dropped' % self.fleet.ports[0]))
        # Both BMCs answer; the first one on a new session.
        for node in nodes:
            self.assertEqual('off', self.power.get_power_state(node))
        self.assertEqual([2, 1], [self.bmc(i)['logons'] for i in (0, 1)])
        # Once for the session, at DEBUG: pyghmi met a packet it could not
        # parse, which may be its bug.
        self.assertLoopHealthy(tracebacks=1)
        self.assertIn('DEBUG nova_bm.power.ipmi_session IPMI session with',
                      self.logs.output)

    def test_handler_errors_cost_one_traceback(self):
        # A handler that raises at every answer of one BMC (a bug that
        # BMC's answers meet): each call fails at once, one traceback in
        # all, and the BMC's breaker opens as for any failing BMC.
        node = self.fleet.node(0)
        target = ipmi.bmc_target(node)

        def parse(responses):
            raise TypeError('a parser bug met by this answer')

        request = ipmi_messages.Request(
            'power status', ipmi_messages.get_power_state().commands, parse)
        for _ in range(5):   # the breaker's threshold
            future = self.loop.submit(target, request, TIMEOUT)
            error = self.assertRaises(exception.BmcError, future.result,
                                      TIMEOUT + WAIT)
            self.assertNotIsInstance(error, exception.BmcTimeout)
            self.assertIn('unexpected error: TypeError', str(error))
        self.assertEqual(1, self.logs.output.count('Traceback'))
        self.assertEqual(1, self.logs.output.count(
            'Unexpected error in the IPMI loop'))
        self.assertEqual(5, self.logs.output.count(
            'IPMI session with %s dropped' % target.label))
        self.assertRaises(exception.BmcBreakerOpen,
                          self.power.get_power_state, node)
        self.assertEqual(5, self.bmc(0)['logons'])
        self.assertEqual('off', self.power.get_power_state(
            self.fleet.node(1)))
        self.assertTrue(self.loop._thread.is_alive())


class SessionGuardTestCase(base.TestCase):
    """AsyncSession's packet guard, without a network."""

    def setUp(self):
        super().setUp()
        self.logs = self.useFixture(fixtures.FakeLogger(level='DEBUG'))

    def session(self):
        # No logon: only what the guard and pyghmi's first checks read.
        session = object.__new__(ipmi_session.AsyncSession)
        session.broken = False
        session.sockaddr = None
        session.bmc, session.port = '192.0.2.1', 623
        session.sol_handler = object()
        session.lastpayload = None
        self.failures = []
        session.on_failure = self.failures.append
        return session

    def test_a_packet_that_raises_ends_the_session_once(self):
        session = self.session()
        calls = []
        self.useFixture(fixtures.MonkeyPatch(
            'pyghmi.ipmi.private.session.Session._handle_ipmi_packet',
            lambda *args, **kwargs: calls.append(1) or 1 / 0))
        for _ in range(100):
            self.assertIsNone(session._handle_ipmi_packet(
                bytearray(b'\x06\x00\xff\x07\x06')))
        self.assertEqual(1, len(calls))
        self.assertEqual(['a packet from the BMC could not be handled '
                          '(ZeroDivisionError: division by zero)'],
                         self.failures)
        self.assertIsNone(session.sol_handler)

    def test_error_text_is_escaped_and_cut(self):
        session = self.session()

        def handle(*args, **kwargs):
            raise ValueError('\x1b[2J' + 'a' * 5000)

        self.useFixture(fixtures.MonkeyPatch(
            'pyghmi.ipmi.private.session.Session._handle_ipmi_packet',
            handle))
        session._handle_ipmi_packet(bytearray(8))
        self.assertNotIn('\x1b', session.failure)
        self.assertIn('\\x1b[2J', session.failure)
        self.assertLess(len(session.failure), 400)
        # The log line too, with where it was raised.
        self.assertNotIn('\x1b', self.logs.output)
        self.assertIn('\\x1b[2J', self.logs.output)
        self.assertIn('in handle', self.logs.output)

    def test_a_broken_session_reads_nothing(self):
        session = self.session()
        session.broken = True
        self.useFixture(fixtures.MonkeyPatch(
            'pyghmi.ipmi.private.session.Session._handle_ipmi_packet',
            lambda *args, **kwargs: self.fail('parsed')))
        self.assertIsNone(session._handle_ipmi_packet(bytearray(20)))

    def test_a_retransmission_that_raises_ends_the_session(self):
        session = self.session()
        session.lastpayload = b'x'
        session.sessioncontext = 'ESTABLISHED'
        # On pyghmi's clock, whichever is installed.
        session._first_sent = ipmisession._monotonic_time()

        def send_payload(*args, **kwargs):
            raise OSError('no route')

        session.send_payload = send_payload
        session._timedout()
        self.assertEqual(['a retransmission failed (OSError: no route)'],
                         self.failures)
