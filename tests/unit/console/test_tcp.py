"""The console endpoints over real loopback sockets: who may connect, and
what a client, allowed or not, can cost.

Loopback is always allowed by the configuration, so the tests of refusal
give ``ConsoleServer`` its allowed networks explicitly (exactly those, no
loopback added) and connect from another loopback source address
(127.0.0.2, 127.0.0.3…, all of them this host on Linux).
"""

import errno
import logging
import os
import socket
import time
from unittest import mock

import fixtures

from nova_bm.console import tcp
from nova_bm import exception
from tests import base
from tests import utils

# Ample for a loaded machine; only a failure waits this long.
WAIT = 10.0
KEY = 'node-1'


def wait_for(predicate, what):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError('%s not met within %s s' % (what, WAIT))


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(('::1', 0))
    except OSError:
        return False
    return True


class Input:
    def __init__(self):
        self.data = bytearray()

    def __call__(self, data):
        self.data += data


class ConsoleServerTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.logs = self.useFixture(fixtures.FakeLogger(level=logging.INFO))
        self.input = Input()

    def server(self, allowed=('127.0.0.1',), host='127.0.0.1'):
        server = tcp.ConsoleServer(allowed=allowed)
        port = server.open(KEY, host, 0, self.input)
        self.addCleanup(server.close, KEY)
        return server, port

    def connect(self, port, source='127.0.0.1', host='127.0.0.1'):
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        client = socket.socket(family)
        self.addCleanup(client.close)
        try:
            client.settimeout(WAIT)
            client.bind((source, 0))
            client.connect((host, port))
        except OSError:
            client.close()
            raise
        return client

    def connected(self, server, port, **where):
        """An allowed client, once the server has it."""
        client = self.connect(port, **where)
        wait_for(lambda: server.clients(KEY), 'client accepted')
        return client

    @staticmethod
    def read_until(client, text):
        data = b''
        while text not in data:
            chunk = client.recv(4096)
            if not chunk:
                raise AssertionError('closed before %r: %r' % (text, data))
            data += chunk
        return data

    def refused(self, port, source, host='127.0.0.1', typed=b'',
                output=None):
        """Whether a connection from ``source`` is closed (or reset) by
        the server without a byte sent to it. Once connected, it types
        ``typed``, then ``output()`` runs (the node prints).

        The reset can come before ``connect()`` returns: on loopback the
        server's thread may accept and reset it first.
        """
        try:
            with self.connect(port, source=source, host=host) as client:
                if typed:
                    client.sendall(typed)
                if output:
                    output()
                return client.recv(4096) == b''
        except (ConnectionResetError, BrokenPipeError):
            return True

    def assert_still_served(self, server, client, text):
        """``client`` keeps the console: output reaches it, its keystrokes
        reach the node, nobody told it the console was taken."""
        # (A takeover drops the old client just before it sets the new.)
        wait_for(lambda: server.clients(KEY), 'a client')
        server.send(KEY, text)
        received = self.read_until(client, text)
        self.assertNotIn(tcp.TAKEN_OVER, received)
        client.sendall(b'typed ' + text)
        wait_for(lambda: b'typed ' + text in self.input.data,
                 'input %r' % text)

    def refused_lines(self):
        return [line for line in self.logs.output.splitlines()
                if 'refused a connection' in line]

    # -- who may connect ---------------------------------------------------

    def test_allowed_client_both_ways(self):
        server, port = self.server()
        client = self.connected(server, port)
        self.assert_still_served(server, client, b'login: ')

    def test_client_not_allowed_gets_nothing_and_takes_nothing_over(self):
        server, port = self.server(allowed=['127.0.0.1'])
        owner = self.connected(server, port)
        server.send(KEY, b'before ')
        self.read_until(owner, b'before ')

        # What it types at once never reaches the node, and the node's
        # output never reaches it.
        self.assertTrue(self.refused(
            port, '127.0.0.2', typed=b'reboot\r',
            output=lambda: server.send(KEY, b'secret output ')))

        self.assert_still_served(server, owner, b'after ')
        self.assertNotIn(b'reboot', self.input.data)
        lines = self.refused_lines()
        self.assertEqual(1, len(lines), lines)
        self.assertIn('127.0.0.2', lines[0])
        self.assertIn('[baremetal] console_allowed_clients', lines[0])

    def test_client_not_allowed_is_refused_with_no_client_connected(self):
        server, port = self.server(allowed=['127.0.0.1'])
        self.assertTrue(self.refused(port, '127.0.0.2'))
        self.assertFalse(server.clients(KEY))
        # The endpoint still serves the allowed client afterwards.
        owner = self.connected(server, port)
        self.assert_still_served(server, owner, b'prompt ')

    def test_allowed_second_client_takes_over(self):
        server, port = self.server(allowed=['127.0.0.1', '127.0.0.2'])
        first = self.connected(server, port)
        self.assert_still_served(server, first, b'one ')
        second = self.connect(port, source='127.0.0.2')
        self.read_until(first, tcp.TAKEN_OVER)
        self.assertEqual(b'', first.recv(4096))
        self.assert_still_served(server, second, b'two ')
        self.assertIn('replaces the one connected', self.logs.output)

    def test_cidr_entry(self):
        server, port = self.server(allowed=['127.0.0.0/30'])
        self.assertTrue(self.refused(port, '127.0.0.4'))
        self.assertFalse(server.clients(KEY))
        client = self.connected(server, port, source='127.0.0.3')
        self.assert_still_served(server, client, b'cidr ')

    def test_ipv4_mapped_clients_of_a_dual_stack_endpoint(self):
        # An IPv6 listener that takes IPv4 clients sees ::ffff:127.0.0.2;
        # both spellings of an entry match it.
        for entry in ('127.0.0.2', '::ffff:127.0.0.2', '::ffff:127.0.0.0/126'):
            server = tcp.ConsoleServer(allowed=[entry])
            port = server.open(KEY, '::ffff:127.0.0.1', 0, self.input)
            self.addCleanup(server.close, KEY)
            self.assertTrue(self.refused(port, '127.0.0.5'), entry)
            self.assertFalse(server.clients(KEY), entry)
            client = self.connected(server, port, source='127.0.0.2')
            self.assert_still_served(server, client, entry.encode())
            server.close(KEY)

    def test_ipv6_endpoint(self):
        if not ipv6_loopback():
            utils.missing(self, 'no IPv6 loopback (::1) on this machine')
        server, port = self.server(allowed=['127.0.0.1'], host='::1')
        self.assertTrue(self.refused(port, '::1', host='::1'))
        self.assertFalse(server.clients(KEY))
        server.close(KEY)
        server, port = self.server(allowed=['::1/128'], host='::1')
        client = self.connected(server, port, source='::1', host='::1')
        self.assert_still_served(server, client, b'v6 ')

    def test_configured_clients_loopback_and_my_ip(self):
        self.conf.config(my_ip='198.51.100.7')
        self.conf.config(console_allowed_clients=[
            '192.0.2.0/24', '2001:db8::1', '::ffff:203.0.113.0/120', ''],
            group='baremetal')
        server = tcp.ConsoleServer()
        for address in (('192.0.2.9', 5), ('::ffff:192.0.2.9', 5, 0, 0),
                        ('2001:db8::1', 5, 0, 0), ('203.0.113.77', 5),
                        ('198.51.100.7', 5), ('127.0.0.5', 5),
                        ('::1', 5, 0, 0), ('::ffff:127.0.0.1', 5, 0, 0)):
            self.assertTrue(server.allows(address), address)
        for address in (('192.0.3.1', 5), ('2001:db8::2', 5, 0, 0),
                        ('::ffff:198.51.100.8', 5, 0, 0), ('10.0.0.1', 5),
                        ('fe80::1%lo', 5, 0, 1), ('not an address', 5)):
            self.assertFalse(server.allows(address), address)

    def test_configured_server_serves_loopback(self):
        self.conf.config(console_allowed_clients=['192.0.2.1'],
                         group='baremetal')
        server = tcp.ConsoleServer()
        port = server.open(KEY, '127.0.0.1', 0, self.input)
        self.addCleanup(server.close, KEY)
        client = self.connected(server, port, source='127.0.0.2')
        self.assert_still_served(server, client, b'loopback ')

    def test_invalid_entry_is_one_line_at_start(self):
        for entry, says in (
                ('proxy.example.com', 'is not an IP address or a CIDR'),
                ('192.0.2.1/33', 'is not an IP address or a CIDR'),
                ('192.0.2.1/24', 'has host bits set: write the address '
                                 'alone, or the network 192.0.2.0/24'),
                ('10.0.0.1\n\x1b[2J', 'is not an IP address or a CIDR')):
            self.conf.config(console_allowed_clients=['192.0.2.0/24', entry],
                             group='baremetal')
            e = self.assertRaises(exception.ConfigInvalid,
                                  tcp.ConsoleServer)
            message = str(e)
            self.assertIn('[baremetal] console_allowed_clients: ', message)
            self.assertIn(says, message)
            self.assertTrue(message.isprintable(), message)
            self.assertNotIn('\n', message)
        self.conf.config(console_allowed_clients=[], group='baremetal')
        self.conf.config(my_ip='compute-1')
        e = self.assertRaises(exception.ConfigInvalid, tcp.ConsoleServer)
        self.assertIn("[DEFAULT] my_ip: 'compute-1' is not", str(e))

    # -- what a client can cost -------------------------------------------

    def test_refused_flood_costs_one_log_line_and_no_descriptor(self):
        server, port = self.server(allowed=['127.0.0.1'])
        owner = self.connected(server, port)
        descriptors = len(os.listdir('/proc/self/fd'))
        for _ in range(100):
            self.assertTrue(self.refused(port, '127.0.0.2'))
        self.assertEqual(descriptors, len(os.listdir('/proc/self/fd')))
        self.assertTrue(self.refused(port, '127.0.0.3'))
        # (The client sees the reset just before the server logs it.)
        wait_for(lambda: len(self.refused_lines()) >= 2, 'two lines')
        sources = [line.split(' from ')[1].split(',')[0]
                   for line in self.refused_lines()]
        self.assertEqual(['127.0.0.2', '127.0.0.3'], sources)
        self.assert_still_served(server, owner, b'unmoved ')

    def test_allowed_client_in_a_tight_loop(self):
        server, port = self.server()
        for _ in range(100):
            client = self.connect(port)
            client.close()
        wait_for(lambda: not server.clients(KEY), 'clients gone')
        takeovers = self.logs.output.count('replaces the one connected')
        self.assertLessEqual(takeovers, 1)
        client = self.connected(server, port)
        self.assert_still_served(server, client, b'still ')

    def test_accept_out_of_descriptors_backs_off(self):
        self.useFixture(fixtures.MonkeyPatch(
            'nova_bm.console.tcp.ACCEPT_PAUSE', 0.2))
        real_accept = socket.socket.accept
        calls = []
        failing_until = time.monotonic() + 1.0

        def accept(listener):
            calls.append(time.monotonic())
            if time.monotonic() < failing_until:
                raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
            return real_accept(listener)

        self.useFixture(fixtures.MonkeyPatch(
            'socket.socket.accept', accept))
        server, port = self.server()
        client = self.connect(port)
        wait_for(lambda: server.clients(KEY), 'client accepted at last')
        self.assert_still_served(server, client, b'patient ')
        # About one try per pause, not a busy loop.
        self.assertLess(len(calls), 15, len(calls))
        lines = [line for line in self.logs.output.splitlines()
                 if 'cannot accept a client' in line]
        self.assertEqual(1, len(lines), lines)
        self.assertIn('Too many open files', lines[0])

    def test_accept_error_of_one_connection_is_not_a_pause(self):
        real_accept = socket.socket.accept
        errors = [OSError(errno.ECONNABORTED, 'aborted')]

        def accept(listener):
            if errors:
                raise errors.pop()
            return real_accept(listener)

        self.useFixture(fixtures.MonkeyPatch(
            'socket.socket.accept', accept))
        server, port = self.server()
        client = self.connected(server, port)
        self.assert_still_served(server, client, b'next ')
        self.assertNotIn('cannot accept', self.logs.output)

    def test_a_repeating_error_does_not_spin_the_thread(self):
        server = tcp.ConsoleServer(allowed=['127.0.0.1'])
        with mock.patch.object(server, '_iterate',
                               side_effect=[RuntimeError, RuntimeError,
                                            SystemExit]), \
                mock.patch.object(tcp.time, 'sleep') as sleep:
            self.assertRaises(SystemExit, server._run)
        self.assertEqual([mock.call(tcp.ERROR_PAUSE)] * 2,
                         sleep.call_args_list)
