"""nova-bm's SOL sessions against fake BMCs over real UDP, and the TCP
endpoints and console manager on top of them."""

import socket
import time

import fixtures
from nova import exception as nova_exception

from nova_bm.console import manager as console_manager
from nova_bm.console import sol_client
from nova_bm.console import tcp
from nova_bm.power import ipmi
from nova_bm.power import ipmi_loop
from tests import base
from tests import fleet as fleet_fixture

PASSWORD = 'Sol-pw-9d1c'
# Ample for a loaded machine; only a failure waits this long.
WAIT = 20.0


def wait_for(predicate, timeout=WAIT, what='condition'):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError('%s not met within %s s' % (what, timeout))


class Output:
    def __init__(self):
        self.data = bytearray()

    def __call__(self, characters):
        self.data += characters

    def wait_for(self, text):
        wait_for(lambda: text in self.data, what='output %r' % text)


class SolClientTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.fleet = self.useFixture(
            fleet_fixture.FleetFixture(2, password=PASSWORD))
        self.useFixture(fixtures.FakeLogger(level='DEBUG'))
        self.loop = ipmi_loop.IpmiLoop(16, 5, 30)
        self.addCleanup(self.loop.close)

    def client(self, index=0, **options):
        options.setdefault('timeout', 3.0)
        output = Output()
        client = sol_client.SolClient(
            self.loop, ipmi.bmc_target(self.fleet.node(index)), output,
            **options)
        self.addCleanup(client.stop)
        client.start()
        return client, output

    def bmc(self, index=0, **request):
        return self.fleet.fleet.control(self.fleet.ports[index], **request)

    def test_console_both_ways(self):
        client, output = self.client()
        self.assertTrue(client.active.wait(WAIT))
        output.wait_for(b'serial console\r\n')
        client.write(b'operator\r')
        output.wait_for(b'login: ')
        self.assertIn(b'operator\r\n', bytes(output.data))
        self.assertEqual('operator\r', self.bmc()['sol']['received'])

    def test_sol_has_its_own_session_beside_the_power_calls(self):
        power = ipmi.IPMIPower(loop=self.loop)
        node = self.fleet.node(0)
        self.assertEqual('off', power.get_power_state(node))
        client, output = self.client()
        self.assertTrue(client.active.wait(WAIT))
        self.assertEqual('on', power.power_on(node))
        output.wait_for(b'serial console')
        self.assertEqual(2, self.bmc()['logons'])
        client.stop()
        wait_for(lambda: not self.bmc()['sol']['active'])
        # Ending SOL's session left the power calls' session alone.
        self.assertEqual('off', power.power_off(node))
        self.assertEqual(2, self.bmc()['logons'])

    def test_long_input_arrives_whole(self):
        client, output = self.client()
        self.assertTrue(client.active.wait(WAIT))
        text = bytes(range(32, 127)) * 20
        client.write(text)
        wait_for(lambda: len(self.bmc()['sol']['received']) >= len(text),
                 what='all input at the BMC')
        self.assertEqual(text.decode(), self.bmc()['sol']['received'])

    def test_stale_sol_session_is_deactivated_first(self):
        # A SOL client that died without a goodbye (ipmitool killed): the
        # BMC keeps its payload active.
        stale = fleet_fixture.ipmitool_sol(self.fleet.ports[0],
                                           password=PASSWORD)
        stale.read_until(b'serial console')
        stale.kill()
        self.assertTrue(self.bmc()['sol']['active'])
        client, output = self.client()
        self.assertTrue(client.active.wait(WAIT))
        self.assertEqual(2, self.bmc()['sol']['activations'])
        client.write(b'mine\r')
        output.wait_for(b'login: ')

    def test_dropped_sol_is_opened_again(self):
        logs = self.useFixture(fixtures.FakeLogger(level='INFO'))
        client, output = self.client(check_interval=0.3)
        self.assertTrue(client.active.wait(WAIT))
        self.bmc(sol_drop=True)
        wait_for(lambda: client.activations == 2, what='a second activation')
        self.assertIn('the BMC dropped SOL or gave it to another session; '
                      'opening it again in 1 s', logs.output)
        client.write(b'again\r')
        output.wait_for(b'again\r\nfake-')

    def test_sol_taken_by_ipmitool_deactivate_is_noticed(self):
        client, _ = self.client(check_interval=0.3)
        self.assertTrue(client.active.wait(WAIT))
        result = fleet_fixture.ipmitool(self.fleet.ports[0], 'sol',
                                        'deactivate', password=PASSWORD)
        self.assertEqual(0, result.returncode, result.stderr)
        wait_for(lambda: client.activations == 2, what='a second activation')

    def test_disabled_sol_is_an_error_retried_later(self):
        self.bmc(sol_disabled=True)
        client, _ = self.client()
        self.assertTrue(client.settled.wait(WAIT))
        self.assertFalse(client.active.is_set())
        self.assertEqual('SOL is disabled on this BMC', client.last_error)
        self.bmc(sol_disabled=False)
        self.assertTrue(client.active.wait(WAIT))

    def test_lossy_bmc_console_still_works(self):
        self.bmc(loss=0.2)
        client, output = self.client(timeout=10.0)
        self.assertTrue(client.active.wait(WAIT))
        client.write(b'x' * 300 + b'\r')
        output.wait_for(b'login: ')
        self.assertEqual('x' * 300 + '\r', self.bmc()['sol']['received'])

    def test_stop_deactivates_so_ipmitool_can_have_it(self):
        client, _ = self.client()
        self.assertTrue(client.active.wait(WAIT))
        client.stop()
        wait_for(lambda: not self.bmc()['sol']['active'],
                 what='SOL deactivated')

    def test_password_never_logged(self):
        logs = self.useFixture(fixtures.FakeLogger(level='DEBUG'))
        self.bmc(sol_disabled=True)
        client, _ = self.client()
        client.settled.wait(WAIT)
        self.assertIn('SOL is disabled', logs.output)
        self.assertNotIn(PASSWORD, logs.output)


class ConsoleManagerTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.fleet = self.useFixture(
            fleet_fixture.FleetFixture(3, password=PASSWORD))
        self.useFixture(fixtures.FakeLogger(level='DEBUG'))
        self.loop = ipmi_loop.IpmiLoop(16, 5, 30)
        self.addCleanup(self.loop.close)
        low = fleet_fixture.free_tcp_port_range(8)
        self.conf.config(port_range='%d:%d' % (low, low + 8),
                         proxyclient_address='127.0.0.1',
                         group='serial_console')
        self.conf.config(ipmi_timeout=5, group='baremetal')
        self.manager = console_manager.ConsoleManager(loop=self.loop)
        self.addCleanup(self.manager.close_all)

    def connect(self, node_uuid):
        host, port = self.manager.serial_endpoint(node_uuid)
        client = socket.create_connection((host, port), timeout=WAIT)
        self.addCleanup(client.close)
        return client

    @staticmethod
    def read_until(client, text):
        data = b''
        deadline = time.monotonic() + WAIT
        while text not in data and time.monotonic() < deadline:
            try:
                chunk = client.recv(4096)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
        return data

    def test_log_and_tcp_endpoint(self):
        node = self.fleet.node(0)
        self.assertTrue(self.manager.open(node, wait=WAIT))
        wait_for(lambda: b'serial console' in self.manager.output(node.uuid))
        client = self.connect(node.uuid)
        wait_for(lambda: self.manager._server.clients(node.uuid))
        client.sendall(b'root\r')
        self.assertIn(b'login: ', self.read_until(client, b'login: '))
        log = self.manager.output(node.uuid)
        self.assertIn(b'root\r\nfake-%d login: ' % self.fleet.ports[0], log)
        # The same port for the instance's life (validate_console_port).
        self.assertEqual(self.manager.serial_endpoint(node.uuid),
                         self.manager.serial_endpoint(node.uuid))

    def test_new_bmc_credentials_open_the_session_again(self):
        node = self.fleet.node(0)
        self.assertTrue(self.manager.open(node, wait=WAIT))
        wait_for(lambda: b'serial console' in self.manager.output(node.uuid))
        # Same credentials: nothing happens.
        self.assertTrue(self.manager.open(node, wait=WAIT))
        self.assertEqual(1, self.fleet.fleet.control(
            self.fleet.ports[0])['sol']['activations'])
        # The node's BMC moved (another address): a new session there,
        # the old one ended, the log kept.
        moved = self.fleet.node(0, ipmi_port=self.fleet.ports[1])
        self.assertTrue(self.manager.open(moved, wait=WAIT))
        wait_for(lambda: self.fleet.fleet.control(
            self.fleet.ports[1])['sol']['active'], what='the new BMC')
        wait_for(lambda: not self.fleet.fleet.control(
            self.fleet.ports[0])['sol']['active'], what='the old BMC freed')
        wait_for(lambda: self.manager.output(node.uuid).count(
            b'serial console') == 2, what='both banners in one log')

    def test_second_client_replaces_the_first(self):
        node = self.fleet.node(0)
        self.assertTrue(self.manager.open(node, wait=WAIT))
        first = self.connect(node.uuid)
        wait_for(lambda: self.manager._server.clients(node.uuid))
        second = self.connect(node.uuid)
        self.assertIn(tcp.TAKEN_OVER, self.read_until(first, tcp.TAKEN_OVER))
        self.assertEqual(b'', first.recv(100))
        second.sendall(b'x\r')
        self.assertIn(b'login: ', self.read_until(second, b'login: '))

    def test_close_frees_the_port_and_ends_sol(self):
        node = self.fleet.node(0)
        self.assertTrue(self.manager.open(node, wait=WAIT))
        host, port = self.manager.serial_endpoint(node.uuid)
        self.manager.close(node.uuid)
        self.assertRaises(OSError, socket.create_connection, (host, port),
                          timeout=1)
        wait_for(lambda: not self.fleet.fleet.control(
            self.fleet.ports[0])['sol']['active'], what='SOL deactivated')
        self.assertRaises(nova_exception.ConsoleNotAvailable,
                          self.manager.output, node.uuid)
        # The port is Nova's to give again.
        self.assertTrue(self.manager.open(node, wait=WAIT))
        self.assertEqual((host, port),
                         self.manager.serial_endpoint(node.uuid))

    def test_sessions_are_bounded(self):
        self.conf.config(console_max_sessions=2, group='baremetal')
        nodes = [self.fleet.node(i) for i in range(3)]
        self.assertTrue(self.manager.open(nodes[0], wait=WAIT))
        self.assertTrue(self.manager.open(nodes[1], wait=WAIT))
        self.assertFalse(self.manager.open(nodes[2], wait=1))
        self.assertEqual(b'', self.manager.output(nodes[2].uuid))
        self.assertFalse(self.fleet.fleet.control(
            self.fleet.ports[2])['sol']['active'])
        self.manager.close(nodes[0].uuid)
        wait_for(lambda: self.fleet.fleet.control(
            self.fleet.ports[2])['sol']['active'], what='the waiting node')

    def test_disabled_consoles(self):
        self.conf.config(console_enabled=False, group='baremetal')
        node = self.fleet.node(0)
        self.assertFalse(self.manager.open(node, wait=1))
        self.assertRaises(nova_exception.ConsoleNotAvailable,
                          self.manager.output, node.uuid)
        self.assertRaises(nova_exception.ConsoleTypeUnavailable,
                          self.manager.serial_endpoint, node.uuid)
