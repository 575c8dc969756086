"""The IPMI power layer against fake BMCs over real UDP, faults included."""

import concurrent.futures
import threading
import time
import types

import fixtures

from nova_bm import exception
from nova_bm.power import base as power_base
from nova_bm.power import ipmi
from nova_bm.power import ipmi_loop
from tests import base
from tests import fleet as fleet_fixture

PASSWORD = 'Pw-4bd2c9e1'
# Seconds a BMC has to answer: ample on a machine whose cores are busy
# (CI shares its machine), so only a dead BMC ever reaches it. Timing
# assertions only tell one timeout from several (retries, queueing).
TIMEOUT = 3.0


class IPMIPowerTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.conf.config(group='baremetal', ipmi_timeout=TIMEOUT,
                         ipmi_retry_interval=0.05, power_state_timeout=3,
                         power_state_poll_interval=0.05)
        self.fleet = self.useFixture(
            fleet_fixture.FleetFixture(6, password=PASSWORD))
        self.logs = self.useFixture(fixtures.FakeLogger(level='DEBUG'))
        ipmi_loop.reset_loop()
        self.addCleanup(ipmi_loop.reset_loop)
        self.power = ipmi.IPMIPower()
        self.node = self.fleet.node(0)
        self.port = self.fleet.ports[0]

    def bmc(self, port=None, **request):
        return self.fleet.fleet.control(port or self.port, **request)

    def ipmitool(self, *args):
        return fleet_fixture.ipmitool(self.port, *args, password=PASSWORD)

    def timed(self, function, *args):
        start = time.monotonic()
        try:
            return function(*args), time.monotonic() - start
        except exception.NovaBMException as e:
            return e, time.monotonic() - start

    def test_power_on_and_off_seen_by_the_bmc_and_ipmitool(self):
        self.assertEqual('off', self.power.get_power_state(self.node))
        self.assertEqual('on', self.power.power_on(self.node))
        self.assertEqual('on', self.bmc()['power'])
        self.assertEqual('Chassis Power is on',
                         self.ipmitool('power', 'status').stdout.strip())
        self.assertEqual('off', self.power.power_off(self.node))
        self.assertEqual('off', self.bmc()['power'])

    def test_change_made_by_ipmitool_is_read_back(self):
        self.assertEqual('off', self.power.get_power_state(self.node))
        self.assertEqual(0, self.ipmitool('power', 'on').returncode)
        self.assertEqual('on', self.power.get_power_state(self.node))

    def test_soft_off_and_reboots(self):
        self.power.power_on(self.node)
        self.assertEqual('off', self.power.soft_power_off(self.node, 2))
        self.assertEqual('on', self.power.reboot(self.node, 'hard'))
        self.assertEqual('on', self.power.reboot(self.node, 'soft'))
        self.assertEqual('on', self.bmc()['power'])

    def test_boot_device_round_trip(self):
        self.power.set_boot_device(self.node, 'pxe', persistent=True)
        state = self.bmc()
        self.assertEqual(('network', True),
                         (state['boot_device'], state['boot_persistent']))
        self.assertEqual({'boot_device': 'pxe', 'persistent': True,
                          'efi': False},
                         self.power.get_boot_device(self.node))
        self.power.set_boot_device(self.node, 'disk')
        self.assertEqual({'boot_device': 'disk', 'persistent': False,
                          'efi': False},
                         self.power.get_boot_device(self.node))

    def test_a_uefi_node_s_overrides_carry_the_efi_flag(self):
        # The fake BMC keeps the flag and ipmitool (an IPMI client
        # nobody here wrote) reads it back: Debian 12's ipmi_sim always
        # answers 00 and cannot witness it.
        uefi = self.fleet.node(0, boot_mode='uefi')
        for persistent in (True, False):
            self.power.set_boot_device(uefi, 'disk', persistent=persistent)
            self.assertTrue(self.bmc()['boot_efi'])
            self.assertEqual({'boot_device': 'disk', 'persistent': persistent,
                              'efi': True},
                             self.power.get_boot_device(uefi))
            shown = self.ipmitool('chassis', 'bootparam', 'get', '5')
            self.assertEqual(0, shown.returncode, shown.stderr)
            self.assertIn('BIOS EFI boot', shown.stdout)
            self.assertIn('Force Boot from default Hard-Drive', shown.stdout)
            self.assertIn('Options apply to all future boots' if persistent
                          else 'Options apply to only next boot',
                          shown.stdout)
        self.assertEqual([['hd', True, True], ['hd', False, True]],
                         self.bmc()['overrides'][-2:])
        # A BIOS node's override is for the legacy path again.
        self.power.set_boot_device(self.node, 'pxe', persistent=True)
        self.assertFalse(self.bmc()['boot_efi'])
        shown = self.ipmitool('chassis', 'bootparam', 'get', '5')
        self.assertIn('BIOS PC Compatible (legacy) boot', shown.stdout)
        self.assertIn('Force PXE', shown.stdout)

    def test_session_is_reused_across_calls(self):
        for _ in range(3):
            self.power.get_power_state(self.node)
        self.power.check_access(self.node)
        self.assertEqual(1, self.bmc()['logons'])

    def test_privilege_is_raised_only_to_change_the_machine(self):
        # Reads run at the USER privilege a session starts with; the first
        # command that changes the machine raises the session, once.
        for _ in range(3):
            self.power.get_power_state(self.node)
        self.power.get_boot_device(self.node)
        self.assertEqual(0, self.bmc()['privilege_requests'])
        self.assertEqual('on', self.power.power_on(self.node))
        self.power.set_boot_device(self.node, 'pxe')
        self.assertEqual('off', self.power.power_off(self.node))
        state = self.bmc()
        self.assertEqual((1, 1), (state['privilege_requests'],
                                  state['logons']))
        self.assertEqual({'on': 1, 'off': 1}, state['actions'])

    def test_new_session_is_raised_again(self):
        self.power.power_on(self.node)
        self.bmc(forget_sessions=True)
        self.assertEqual('off', self.power.power_off(self.node))
        state = self.bmc()
        # The new session's privilege is raised again before the power
        # off. (On a busy machine a logon may be retried: a third logon,
        # its session abandoned before it was raised, is no failure.)
        self.assertGreaterEqual(state['logons'], 2)
        self.assertGreaterEqual(state['privilege_requests'], 2)
        self.assertEqual('off', state['power'])

    def test_read_only_account_reads_but_may_not_control(self):
        self.bmc(privilege_limit=2)
        self.assertEqual('off', self.power.get_power_state(self.node))
        error, _ = self.timed(self.power.power_on, self.node)
        self.assertIsInstance(error, exception.BmcAuthFailed)
        self.assertIn('requesting privilege level 3', str(error))
        self.assertEqual({}, self.bmc()['actions'])
        error, _ = self.timed(self.power.check_access, self.node)
        self.assertIsInstance(error, exception.BmcAuthFailed)
        # The session still reads.
        self.assertEqual('off', self.power.get_power_state(self.node))
        self.assertEqual(1, self.bmc()['logons'])

    def test_operator_account_controls(self):
        # Administrator is refused, operator granted (as pyghmi does).
        self.bmc(privilege_limit=3)
        self.assertEqual('on', self.power.power_on(self.node))
        self.power.check_access(self.node)
        self.assertEqual(2, self.bmc()['privilege_requests'])

    def test_session_dropped_by_the_bmc_is_established_again(self):
        self.power.get_power_state(self.node)
        self.bmc(forget_sessions=True, power='on')
        self.assertEqual('on', self.power.get_power_state(self.node))
        self.assertEqual(2, self.bmc()['logons'])

    def test_dead_bmc_costs_one_timeout(self):
        dead = self.fleet.node(0, ipmi_port=fleet_fixture.unused_port())
        error, elapsed = self.timed(self.power.get_power_state, dead)
        self.assertIsInstance(error, exception.BmcUnreachable)
        self.assertIn('no answer to the session logon within %s s'
                      % TIMEOUT, str(error))
        self.assertLess(elapsed, 2 * TIMEOUT)

    def test_bmc_that_stops_answering_times_out_then_recovers(self):
        self.power.get_power_state(self.node)
        self.bmc(drop=True)
        error, elapsed = self.timed(self.power.get_power_state, self.node)
        self.assertIsInstance(error, exception.BmcTimeout)
        self.assertLess(elapsed, 2 * TIMEOUT)
        self.bmc(drop=False, power='on')
        self.assertEqual('on', self.power.get_power_state(self.node))

    def test_slow_bmc_within_the_timeout_answers(self):
        self.power.get_power_state(self.node)
        self.bmc(delay=0.4)
        self.assertEqual('off', self.power.get_power_state(self.node))

    def test_rejected_credentials(self):
        self.bmc(reject=True)
        error, _ = self.timed(self.power.check_access, self.node)
        self.assertIsInstance(error, exception.BmcAuthFailed)
        self.assertIn('Incorrect password', str(error))

    def test_busy_bmc_is_retried_with_backoff(self):
        self.conf.config(group='baremetal', ipmi_retries=2)
        self.bmc(busy=2)
        self.assertEqual('off', self.power.get_power_state(self.node))
        self.bmc(busy=3)
        error, _ = self.timed(self.power.get_power_state, self.node)
        self.assertIsInstance(error, exception.BmcCommandRefused)
        self.assertIn('node busy (completion code 0xc0)', str(error))
        # A refusal means the BMC is alive: no breaker trip, no relogon.
        self.assertEqual('off', self.power.get_power_state(self.node))
        self.assertEqual(1, self.bmc()['logons'])

    def test_power_change_not_read_back_is_an_error(self):
        self.conf.config(group='baremetal', power_state_timeout=1)
        self.bmc(stuck=True)
        error, elapsed = self.timed(self.power.power_on, self.node)
        self.assertIsInstance(error, exception.PowerStateTimeout)
        self.assertIn('still reports off after 1 s', str(error))
        self.assertLess(elapsed, 1 + TIMEOUT)

    def test_breaker_fails_fast_then_probes(self):
        ipmi_loop.reset_loop()
        self.conf.config(group='baremetal', ipmi_breaker_threshold=2,
                         ipmi_breaker_cooldown=1.0, ipmi_timeout=2.0)
        self.bmc(drop=True)
        for _ in range(2):
            error, _ = self.timed(self.power.get_power_state, self.node)
            self.assertIsInstance(error, exception.BmcUnreachable)
        error, elapsed = self.timed(self.power.get_power_state, self.node)
        self.assertIsInstance(error, exception.BmcBreakerOpen)
        self.assertIn('failed 2 times in a row', str(error))
        self.assertLess(elapsed, 1.0)  # not a 2 s timeout
        # Other BMCs are not affected.
        self.assertEqual('off',
                         self.power.get_power_state(self.fleet.node(1)))
        self.bmc(drop=False)
        time.sleep(1.1)
        self.assertEqual('off', self.power.get_power_state(self.node))

    def test_bulk_status_isolates_failing_bmcs(self):
        self.bmc(self.fleet.ports[1], power='on')
        self.bmc(self.fleet.ports[2], drop=True)
        self.bmc(self.fleet.ports[3], reject=True)
        nodes = [self.fleet.node(i) for i in range(6)]
        nodes.append(self.fleet.node(
            0, uuid='uuid-6', ipmi_port=fleet_fixture.unused_port()))
        nodes.append(self.fleet.node(0, uuid='uuid-7', ipmi_address=''))
        states, elapsed = self.timed(self.power.get_power_states, nodes)
        self.assertLess(elapsed, 2 * TIMEOUT)
        self.assertEqual('off', states['uuid-0'])
        self.assertEqual('on', states['uuid-1'])
        self.assertIsInstance(states['uuid-2'], exception.BmcUnreachable)
        self.assertIsInstance(states['uuid-3'], exception.BmcAuthFailed)
        self.assertEqual(['off', 'off'], [states['uuid-4'], states['uuid-5']])
        self.assertIsInstance(states['uuid-6'], exception.BmcUnreachable)
        self.assertIsInstance(states['uuid-7'],
                              exception.InvalidBmcParameters)

    def test_concurrent_callers_share_the_loop(self):
        results = {}

        def worker(index):
            node = self.fleet.node(index % 6)
            results[index] = [self.power.get_power_state(node)
                              for _ in range(5)]

        threads = [threading.Thread(target=worker, args=(i,))
                   for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.assertEqual({i: ['off'] * 5 for i in range(12)}, results)
        self.assertEqual(1, self.bmc()['logons'])

    def test_idle_sessions_are_logged_out(self):
        skew = [0.0]
        loop = ipmi_loop.IpmiLoop(
            8, 3, 60, clock=lambda: time.monotonic() + skew[0])
        self.addCleanup(loop.close)
        power = ipmi.IPMIPower(loop=loop)
        power.get_power_state(self.node)
        power.get_power_state(self.node)
        self.assertEqual(1, self.bmc()['logons'])
        skew[0] = 3600.0
        time.sleep(1.5)   # the loop wakes at least once a second
        power.get_power_state(self.node)
        self.assertEqual(2, self.bmc()['logons'])

    def test_password_never_logged(self):
        self.bmc(reject=True)
        self.timed(self.power.check_access, self.node)
        self.bmc(self.fleet.ports[1], drop=True)
        self.power.get_power_states([self.fleet.node(1)])
        output = self.logs.output
        self.assertIn('refused the IPMI credentials', output)
        self.assertNotIn(PASSWORD, output)


class ValidateTestCase(base.TestCase):
    """validate() checks parameters only; no BMC is contacted."""

    def node(self, **overrides):
        values = {'uuid': 'u', 'name': 'n1', 'ipmi_address': '10.0.0.1',
                  'ipmi_port': 623, 'ipmi_username': 'admin',
                  'ipmi_password': 'secret'}
        values.update(overrides)
        import types
        return types.SimpleNamespace(**values)

    def test_valid(self):
        target = ipmi.bmc_target(self.node())
        self.assertEqual('10.0.0.1:623', target.label)
        self.assertNotIn('secret', repr(target))

    def test_refusals(self):
        power = ipmi.IPMIPower(loop=object())   # would fail if used
        for overrides, reason in [
                ({'ipmi_address': None}, 'no ipmi_address'),
                ({'ipmi_port': 70000}, 'not a UDP port'),
                ({'ipmi_username': ''}, 'no ipmi_username'),
                ({'ipmi_username': 'u' * 17}, '16 bytes'),
                ({'ipmi_password': None}, 'no ipmi_password'),
                ({'ipmi_password': 'p' * 21}, '20 bytes')]:
            error = self.assertRaises(exception.InvalidBmcParameters,
                                      power.validate, self.node(**overrides))
            self.assertIn(reason, str(error))
            self.assertIn('n1', str(error))

    def test_unknown_boot_device_and_reboot_kind(self):
        power = ipmi.IPMIPower(loop=object())
        self.assertRaises(exception.InvalidBmcParameters,
                          power.set_boot_device, self.node(), 'usb')
        self.assertRaises(exception.InvalidBmcParameters,
                          power.reboot, self.node(), 'gentle')

    def test_interface_names(self):
        self.assertEqual(('on', 'off'),
                         (power_base.POWER_ON, power_base.POWER_OFF))


class _ScriptedLoop:
    """An IPMI loop whose BMCs answer as the test says, at once."""

    def __init__(self):
        self.failing = set()

    def submit_many(self, work, **options):
        futures = []
        for target, _ in work:
            future = concurrent.futures.Future()
            if target.port in self.failing:
                future.set_exception(exception.BmcTimeout(
                    bmc=target.label, command='power status', timeout=1))
            else:
                future.set_result('off')
            futures.append(future)
        return futures


class FailureLogTestCase(base.TestCase):
    """A dead BMC is news once, not at every sweep."""

    def setUp(self):
        super().setUp()
        self.logs = self.useFixture(fixtures.FakeLogger(
            level='DEBUG', format='%(levelname)s %(message)s'))
        self.loop = _ScriptedLoop()
        self.power = ipmi.IPMIPower(loop=self.loop)
        self.nodes = [types.SimpleNamespace(
            uuid='uuid-%d' % i, name='node-%d' % i, ipmi_address='10.0.0.1',
            ipmi_port=7000 + i, ipmi_username='admin', ipmi_password='pw')
            for i in range(6)]

    def sweep(self, *failing):
        self.loop.failing = {7000 + i for i in failing}
        start = len(self.logs.output)
        self.power.get_power_states(self.nodes)
        lines = self.logs.output[start:].splitlines()
        return ([line for line in lines if line.startswith('WARNING')],
                [line for line in lines if line.startswith('INFO')])

    def test_warns_when_the_set_of_failing_bmcs_changes(self):
        warnings, _ = self.sweep(3)
        self.assertEqual(1, len(warnings), warnings)
        self.assertIn('1 of 6 BMCs failed (newly failing: node-3; '
                      'recovered: 0)', warnings[0])
        for _ in range(3):  # the same dead BMC: DEBUG only
            self.assertEqual(([], []), self.sweep(3))
        self.assertIn('1 of 6 BMCs failed, the same as last time',
                      self.logs.output)
        warnings, _ = self.sweep(3, 5)
        self.assertEqual(['newly failing: node-5; recovered: 0'],
                         [w.split('(')[1].rstrip(')') for w in warnings])
        warnings, _ = self.sweep(5)
        self.assertIn('1 of 6 BMCs failed (newly failing: none; '
                      'recovered: 1)', warnings[0])
        warnings, infos = self.sweep()
        self.assertEqual([], warnings)
        self.assertIn('all 6 BMCs answered (1 recovered)', infos[0])
        self.assertEqual(([], []), self.sweep())


class PollIntervalsTestCase(base.TestCase):

    def test_start_soon_and_double_up_to_the_longest(self):
        intervals = power_base.poll_intervals(1.0)
        self.assertEqual([0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0],
                         [next(intervals) for _ in range(7)])

    def test_a_longest_below_the_first_is_kept(self):
        intervals = power_base.poll_intervals(0.02)
        self.assertEqual([0.02, 0.02], [next(intervals) for _ in range(2)])
