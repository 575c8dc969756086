"""The node's serial console through Nova's API: the console log
(``os-getConsoleOutput``) and the serial console (``os-remote-consoles``
type serial), over IPMI Serial-over-LAN to fake BMCs (their scripted
console: a banner, an echo and a login prompt per line)."""

import socket
import time

import fixtures
from nova.console import serial as nova_serial

from tests.functional.compute import base

WAIT = 60


class TcpConsole:
    """A client of the driver's TCP endpoint (what nova-serialproxy is)."""

    def __init__(self, test, endpoint):
        self.socket = socket.create_connection(endpoint, timeout=WAIT)
        test.addCleanup(self.socket.close)
        self.data = b''

    def read_until(self, text):
        deadline = time.monotonic() + WAIT
        while text not in self.data and time.monotonic() < deadline:
            chunk = self.socket.recv(4096)
            if not chunk:
                break
            self.data += chunk
        if text not in self.data:
            raise AssertionError('no %r on the console: %r'
                                 % (text, self.data[-300:]))
        return self.data


class SerialConsoleTestCase(base.BareMetalCloudTestCase):

    NODES = 2

    def setUp(self):
        super().setUp()
        self.enable_serial_console()
        # Check the BMC's SOL state often, so a drop is seen quickly.
        self.useFixture(fixtures.MonkeyPatch(
            'nova_bm.console.sol_client.CHECK_INTERVAL', 0.5))
        self.start_proxy()

    def banner(self, server):
        port = self.node(self.hypervisor_of(server)).ipmi_port
        return 'nova-bm fake BMC %d: serial console' % port

    def test_console_log_and_serial_console_both_ways(self):
        server = self.boot('console-1')
        name = self.hypervisor_of(server)
        # The log has the console from the moment the instance booted.
        self.wait_console_output(server, self.banner(server))
        endpoint = self.serial_console(server)
        self.assertEqual('127.0.0.1', endpoint[0])
        # Bound to proxyclient_address only, not to every address.
        self.assertRaises(OSError, socket.create_connection,
                          ('127.0.0.2', endpoint[1]), timeout=5)
        console = TcpConsole(self, endpoint)
        console.socket.sendall(b'tenant\r')
        console.read_until(b'tenant\r\nfake-')
        console.read_until(b'login: ')
        self.assertEqual('tenant\r', self.bmc(name)['sol']['received'])
        # The same endpoint while the instance lives (what Nova's
        # validate_console_port checks), and the log has the typing.
        self.assertEqual(endpoint, self.serial_console(server))
        output = self.wait_console_output(server, 'login: ')
        self.assertIn('tenant', output)
        self.assertEqual('login: ',
                         self.console_output(server, length=1)[-7:])

        # A BMC that drops SOL: the console comes back by itself.
        activations = self.bmc(name)['sol']['activations']
        self.bmc_control(name, sol_drop=True)
        base_deadline = time.monotonic() + WAIT
        while self.bmc(name)['sol']['activations'] == activations:
            self.assertLess(time.monotonic(), base_deadline,
                            'SOL was not opened again')
            time.sleep(0.1)
        console.socket.sendall(b'again\r')
        console.read_until(b'again\r\nfake-')

        # Delete: the endpoint closes, its port is free, SOL is released.
        self._delete_server(server)
        self.assertEqual(b'', console.socket.recv(100))
        self.assertRaises(OSError, socket.create_connection, endpoint,
                          timeout=5)
        self.assertNotIn(endpoint, nova_serial.ALLOCATED_PORTS)
        self.assertFalse(self.bmc(name)['sol']['active'])

    def test_consoles_open_again_when_nova_compute_restarts(self):
        server = self.boot('console-4')
        name = self.hypervisor_of(server)
        self.wait_console_output(server, self.banner(server))
        self.restart_compute_service(self.proxy)
        # A new session (the log is in memory: it starts again), and the
        # stale payload of the last process was no obstacle.
        deadline = time.monotonic() + WAIT
        while self.bmc(name)['sol']['activations'] < 2:
            self.assertLess(time.monotonic(), deadline, self.bmc(name))
            time.sleep(0.1)
        self.assertEqual(1, self.wait_console_output(
            server, self.banner(server)).count(self.banner(server)))
        console = TcpConsole(self, self.serial_console(server))
        console.socket.sendall(b'back\r')
        console.read_until(b'back\r\nfake-')

    def test_a_second_client_takes_the_console_over(self):
        server = self.boot('console-2')
        endpoint = self.serial_console(server)
        first = TcpConsole(self, endpoint)
        time.sleep(0.2)
        second = TcpConsole(self, endpoint)
        first.read_until(b'another client took over this console')
        second.socket.sendall(b'me\r')
        second.read_until(b'me\r\nfake-')

    def test_without_serial_console_enabled(self):
        server = self.boot('console-3')
        self.flags(enabled=False, group='serial_console')
        body = {'remote_console': {'protocol': 'serial', 'type': 'serial'}}
        self.api.microversion = '2.6'
        try:
            response = self.api.api_post(
                '/servers/%s/remote-consoles' % server['id'], body,
                check_response_status=[400])
        finally:
            self.api.microversion = None
        self.assertIn('Unavailable console type serial',
                      response.body['badRequest']['message'])
        # The log is there all the same.
        self.wait_console_output(server, self.banner(server))


class ConsoleDisabledTestCase(base.BareMetalCloudTestCase):

    NODES = 1

    def test_no_console_log_when_consoles_are_off(self):
        self.flags(console_enabled=False, group='baremetal')
        self.start_proxy()
        server = self.boot('quiet')
        response = self.api.api_post(
            '/servers/%s/action' % server['id'],
            {'os-getConsoleOutput': {}}, check_response_status=[404])
        self.assertIn('Guest does not have a console available',
                      response.body['itemNotFound']['message'])
        self.assertFalse(self.bmc(self.hypervisor_of(server))['sol'][
            'active'])
