"""The deploy HTTP server's bounds, against real sockets on loopback.

Clients bind other loopback addresses (127.0.0.2, …) to stand for other
machines. Timeouts are short where a test waits for them to pass and
generous everywhere else: no test asserts speed.
"""

import errno
import http.client
import os
import select
import socket
import subprocess
import sys
import textwrap
import threading
import time

import fixtures

from nova_bm.deploy import http_limits
from nova_bm.deploy import http_server
from tests import base

# Long enough for a busy CI machine; a test that waits this long failed.
PATIENCE = 30.0


class _Handler(http_limits.LimitedHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        self.server.messages.append(fmt % args)

    def do_GET(self):
        if self.path == '/fail':
            raise ValueError('boom\x1b[2J')
        if self.path == '/big':
            # One write far larger than the socket buffers.
            data = b'x' * (64 << 20)
            self._head(len(data))
            self.wfile.write(data)
            return
        if self.path == '/file':
            with open(self.server.file, 'rb') as f:
                size = os.fstat(f.fileno()).st_size
                self._head(size)
                sent = http_server._sendfile(self.connection, f, size)
            if sent < size:
                self.close_connection = True
            return
        self._head(3)
        self.wfile.write(b'ok\n')

    def do_POST(self):
        body = self.read_body(int(self.headers['Content-Length']))
        self.server.bodies.append(body)
        self._head(len(body))
        self.wfile.write(body)

    def _head(self, length):
        self.send_response(200)
        self.send_header('Content-Length', str(length))
        self.end_headers()


def _connect(port, source='127.0.0.1'):
    sock = socket.socket()
    sock.settimeout(PATIENCE)
    sock.bind((source, 0))
    sock.connect(('127.0.0.1', port))
    return sock


def _half_open(port, source='127.0.0.1'):
    """A connection holding an unfinished request head."""
    sock = _connect(port, source)
    sock.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n')
    return sock


def _refused(port, source):
    """Whether a new connection from ``source`` is closed unanswered
    (reset, perhaps before ``connect()`` returns)."""
    try:
        sock = _connect(port, source)
    except ConnectionResetError:
        return True
    with sock:
        try:
            sock.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n')
        except ConnectionResetError:
            return True
        return _closed(sock)


def _closed(sock, timeout=PATIENCE):
    """Whether the server closes ``sock`` (unanswered) within
    ``timeout``."""
    if not select.select([sock], [], [], timeout)[0]:
        return False
    try:
        return sock.recv(65536) == b''
    except ConnectionResetError:
        return True


def _get(port, path='/', source='127.0.0.1'):
    connection = http.client.HTTPConnection(
        '127.0.0.1', port, timeout=PATIENCE, source_address=(source, 0))
    try:
        connection.request('GET', path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _wait_for(predicate, timeout=PATIENCE):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class _ExhaustedSocket:
    """The listening socket, but every accept() fails with EMFILE."""

    def __init__(self, sock):
        self.sock = sock
        self.accepts = 0

    def fileno(self):
        return self.sock.fileno()

    def accept(self):
        self.accepts += 1
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    def close(self):
        self.sock.close()


class LimitedServerTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.logs = self.useFixture(fixtures.FakeLogger(level='DEBUG'))
        self.clients = []

    def serve(self, start=True, **limits):
        server = http_limits.LimitedServer(('127.0.0.1', 0), _Handler,
                                           **limits)
        server.messages = []
        server.bodies = []
        self.port = server.server_address[1]
        self.thread = threading.Thread(
            target=server.serve_forever, kwargs={'poll_interval': 0.05},
            daemon=True)

        def stop():
            if self.thread.is_alive():
                server.shutdown()
                self.thread.join(PATIENCE)
            server.server_close()
            for sock in self.clients:
                sock.close()

        self.addCleanup(stop)
        if start:
            self.thread.start()
        return server

    def hold(self, count, source='127.0.0.1'):
        socks = [_half_open(self.port, source) for _ in range(count)]
        self.clients.extend(socks)
        return socks

    def test_limits_come_from_the_options(self):
        self.conf.config(deploy_http_max_connections=7,
                         deploy_http_max_connections_per_source=3,
                         deploy_http_request_timeout=4.5,
                         deploy_http_idle_timeout=2.5, group='baremetal')
        server = self.serve(start=False)
        self.assertEqual((7, 3, 4.5, 2.5), (
            server.max_connections, server.max_connections_per_source,
            server.request_timeout, server.idle_timeout))

    def test_overall_cap(self):
        server = self.serve(max_connections=3)
        self.hold(1, '127.0.0.2')
        self.hold(2, '127.0.0.3')
        self.assertTrue(_wait_for(lambda: server.connections == 3))
        self.assertTrue(_refused(self.port, '127.0.0.4'))
        self.assertEqual(3, server.connections)
        self.assertEqual(0, server.connections_from('127.0.0.4'))
        self.assertIn('refused a connection from 127.0.0.4: 3 connections '
                      'open in all', self.logs.output)
        # A connection closed frees its place.
        self.clients.pop(0).close()
        self.assertTrue(_wait_for(lambda: server.connections == 2))
        self.assertEqual((200, b'ok\n'), _get(self.port,
                                              source='127.0.0.4'))

    def test_per_source_cap_leaves_other_sources_served(self):
        server = self.serve(max_connections_per_source=2)
        self.hold(2, '127.0.0.2')
        self.assertTrue(_wait_for(
            lambda: server.connections_from('127.0.0.2') == 2))
        for _ in range(20):
            self.assertTrue(_refused(self.port, '127.0.0.2'))
        self.assertEqual(2, server.connections_from('127.0.0.2'))
        self.assertEqual((200, b'ok\n'), _get(self.port,
                                              source='127.0.0.3'))
        # A flood is one warning, not a line per connection.
        warnings = [line for line in self.logs.output.splitlines()
                    if 'refused a connection' in line]
        self.assertEqual(['Deploy HTTP server: refused a connection from '
                          '127.0.0.2: 2 connections open from it'],
                         warnings)

    def test_slow_head_cut_at_the_deadline_though_bytes_trickle(self):
        server = self.serve(request_timeout=1.0, idle_timeout=PATIENCE)
        sock = _connect(self.port)
        self.clients.append(sock)
        start = time.monotonic()
        sock.sendall(b'GET / HTTP/1.1\r\nX-Slow: ')
        cut = False
        while time.monotonic() - start < PATIENCE:
            try:
                sock.sendall(b'a')
            except OSError:
                cut = True
                break
            if _closed(sock, 0.2):
                cut = True
                break
        self.assertTrue(cut, 'a client trickling its head was never cut')
        self.assertGreaterEqual(time.monotonic() - start, 1.0)
        self.assertTrue(_wait_for(lambda: server.connections == 0))
        self.assertTrue(any('timed out' in m for m in server.messages))

    def test_slow_body_cut_at_the_deadline(self):
        server = self.serve(request_timeout=1.0, idle_timeout=PATIENCE)
        sock = _connect(self.port)
        self.clients.append(sock)
        start = time.monotonic()
        sock.sendall(b'POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n')
        cut = False
        while time.monotonic() - start < PATIENCE:
            try:
                sock.sendall(b'b')
            except OSError:
                cut = True
                break
            if _closed(sock, 0.2):
                cut = True
                break
        self.assertTrue(cut, 'a client trickling its body was never cut')
        self.assertEqual([], server.bodies)
        self.assertTrue(_wait_for(lambda: server.connections == 0))

    def test_body_read_whole(self):
        server = self.serve()
        connection = http.client.HTTPConnection('127.0.0.1', self.port,
                                                timeout=PATIENCE)
        self.addCleanup(connection.close)
        body = os.urandom(200 << 10)
        connection.request('POST', '/', body)
        self.assertEqual(body, connection.getresponse().read())
        self.assertEqual([body], server.bodies)

    def test_idle_keep_alive_connection_closed(self):
        server = self.serve(request_timeout=PATIENCE, idle_timeout=0.5)
        connection = http.client.HTTPConnection('127.0.0.1', self.port,
                                                timeout=PATIENCE)
        self.addCleanup(connection.close)
        for _ in range(2):  # kept alive while it is used
            connection.request('GET', '/')
            self.assertEqual(b'ok\n', connection.getresponse().read())
        sock = connection.sock
        start = time.monotonic()
        self.assertTrue(_closed(sock))
        self.assertGreaterEqual(time.monotonic() - start, 0.4)
        self.assertTrue(_wait_for(lambda: server.connections == 0))

    def test_idle_then_slow_request_cut(self):
        # The idle timeout runs until the next request's first byte; the
        # request timeout from then on.
        self.serve(request_timeout=1.0, idle_timeout=PATIENCE)
        sock = _connect(self.port)
        self.clients.append(sock)
        sock.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        answer = b''
        while not answer.endswith(b'ok\n'):
            answer += sock.recv(65536)
        time.sleep(1.2)  # idle beyond the request timeout: still open
        sock.sendall(b'GET / HTTP/1.1\r\n')
        self.assertTrue(_closed(sock))

    def test_unfinished_head_not_answered(self):
        server = self.serve()
        for head in (b'GET / HTTP/1.1', b'GET / HTTP/1.1\r\nHost: x\r\n'):
            sock = _connect(self.port)
            self.clients.append(sock)
            sock.sendall(head)
            sock.shutdown(socket.SHUT_WR)
            self.assertEqual(b'', sock.recv(65536))
        self.assertTrue(_wait_for(lambda: server.connections == 0))
        self.assertEqual([], [m for m in server.messages if '200' in m])
        # A whole head, then the end of the stream: answered.
        sock = _connect(self.port)
        self.clients.append(sock)
        sock.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        sock.shutdown(socket.SHUT_WR)
        self.assertIn(b'200 OK', sock.recv(65536))

    def test_head_too_large_closes(self):
        server = self.serve()
        sock = _connect(self.port)
        self.clients.append(sock)
        sock.sendall(b'GET / HTTP/1.1\r\n')
        header = b'X-Big: ' + b'a' * 1000 + b'\r\n'
        try:
            for _ in range(http_limits.MAX_HEAD // len(header) + 20):
                sock.sendall(header)
        except OSError:
            pass
        self.assertTrue(_closed(sock))
        self.assertTrue(_wait_for(lambda: server.connections == 0))
        self.assertIn('request head over', self.logs.output)

    def test_answer_not_taken_times_out(self):
        server = self.serve(request_timeout=1.0)
        sock = _connect(self.port)
        self.clients.append(sock)
        sock.sendall(b'GET /big HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertTrue(_wait_for(lambda: server.connections == 1))
        # Reads nothing; the write gives up and the connection closes.
        self.assertTrue(_wait_for(lambda: server.connections == 0))
        self.assertTrue(any('timed out' in m for m in server.messages))

    def test_sendfile_under_the_timeouts(self):
        # The socket's timeout makes its descriptor non-blocking: sendfile
        # raises BlockingIOError when the client lags, and _sendfile waits
        # with select, longer than the request timeout in all.
        server = self.serve(request_timeout=1.0)
        server.file = os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'image')
        data = os.urandom(8 << 20)  # beyond the kernel's send buffer
        with open(server.file, 'wb') as f:
            f.write(data)
        sock = socket.socket()
        self.clients.append(sock)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 10)
        sock.settimeout(PATIENCE)
        sock.connect(('127.0.0.1', self.port))
        sock.sendall(b'GET /file HTTP/1.1\r\nHost: x\r\n\r\n')
        received = bytearray()
        while b'\r\n\r\n' not in received:
            received += sock.recv(65536)
        time.sleep(1.5)
        head_end = received.find(b'\r\n\r\n') + 4
        while len(received) < head_end + len(data):
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            received += chunk
        self.assertIn(b'200 OK', received[:head_end])
        self.assertEqual(data, bytes(received[head_end:]))

    def test_counts_released_after_errors(self):
        server = self.serve(request_timeout=1.0,
                            max_connections_per_source=4)
        # A handler that raises: one line, escaped, no traceback.
        sock = _connect(self.port)
        self.clients.append(sock)
        sock.sendall(b'GET /fail HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertTrue(_closed(sock))
        # A client resetting mid-request, one closing mid-body, one
        # never finishing.
        reset = _half_open(self.port)
        reset.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         http_limits._RESET_ON_CLOSE)
        reset.close()
        short = _connect(self.port)
        short.sendall(b'POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nab')
        short.close()
        for sock in self.hold(2):
            self.assertTrue(_closed(sock))
        self.assertTrue(_wait_for(lambda: server.connections == 0))
        self.assertEqual(0, server.connections_from('127.0.0.1'))
        self.assertEqual({}, dict(server._per_source))
        self.assertIn("request failed: ValueError('boom\\x1b[2J')",
                      self.logs.output)
        self.assertEqual(1, self.logs.output.count('request failed'))
        self.assertNotIn('\x1b', self.logs.output)
        # Every place is free again.
        for _ in range(4):
            self.assertEqual(200, _get(self.port)[0])

    def test_accept_out_of_descriptors_backs_off(self):
        server = self.serve(start=False)
        listening = server.socket
        exhausted = server.socket = _ExhaustedSocket(listening)
        waiting = _connect(self.port)  # keeps the listener readable
        self.clients.append(waiting)
        self.thread.start()
        time.sleep(2.0)
        # Without the pause: tens of thousands of accepts a second.
        self.assertGreaterEqual(exhausted.accepts, 1)
        self.assertLessEqual(exhausted.accepts, 20)
        self.assertEqual(1, self.logs.output.count(
            'cannot accept connections (Too many open files'))
        # Descriptors again: the waiting client is served.
        server.socket = listening
        waiting.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertIn(b'200 OK', waiting.recv(65536))
        self.assertIn('accepting connections again', self.logs.output)
        # And shutdown() ends a pause at once.
        server.socket = exhausted
        _connect(self.port).close()
        time.sleep(0.5)
        server.shutdown()
        self.thread.join(PATIENCE)
        self.assertFalse(self.thread.is_alive())
        server.socket = listening
        # A second episode within the minute is not logged again.
        self.assertEqual(1, self.logs.output.count(
            'cannot accept connections'))

    def test_request_answered_beside_300_half_open_connections(self):
        server = self.serve(max_connections=310,
                            max_connections_per_source=300)
        self.hold(300, '127.0.0.2')
        self.assertTrue(_wait_for(
            lambda: server.connections_from('127.0.0.2') == 300))
        self.assertEqual((200, b'ok\n'), _get(self.port,
                                              source='127.0.0.3'))

    def test_close_returns_with_connections_held(self):
        server = self.serve()
        held = self.hold(5)
        self.assertTrue(_wait_for(lambda: server.connections == 5))
        server.shutdown()
        self.thread.join(PATIENCE)
        server.server_close()
        for sock in held:
            self.assertTrue(_closed(sock))
        self.assertTrue(_wait_for(lambda: server.connections == 0))


_EVENTLET_SCRIPT = textwrap.dedent('''\
    import eventlet
    eventlet.monkey_patch()

    import socket
    import threading
    import time

    from nova_bm.deploy import http_limits


    class Handler(http_limits.LimitedHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header('Content-Length', '3')
            self.end_headers()
            self.wfile.write(b'ok\\n')


    server = http_limits.LimitedServer(
        ('127.0.0.1', 0), Handler, max_connections=10,
        max_connections_per_source=1, request_timeout=1.0,
        idle_timeout=0.5)
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={'poll_interval': 0.05})
    thread.start()
    port = server.server_address[1]

    def connect():
        sock = socket.create_connection(('127.0.0.1', port), 30)
        return sock

    slow = connect()
    slow.sendall(b'GET / HTTP/1.1\\r\\n')
    start = time.monotonic()
    while time.monotonic() - start < 30:
        try:
            slow.sendall(b'X')
        except OSError:
            break
        slow.settimeout(0.2)
        try:
            if slow.recv(100) == b'':
                break
        except socket.timeout:
            continue
        except OSError:
            break
    print('slow cut after %.1f s' % (time.monotonic() - start))
    other = connect()
    while not server.connections:
        time.sleep(0.02)
    try:  # reset before its connect() returns, or after
        print('refused', connect().recv(100))
    except ConnectionResetError:
        print('refused reset')
    other.close()
    while server.connections:
        time.sleep(0.02)
    ok = connect()
    ok.sendall(b'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')
    print('answer', ok.recv(1000).split(b'\\r\\n')[0].decode())
    print('idle closed', ok.recv(100) == b'')
    slow.close()
    server.shutdown()
    thread.join()
    server.server_close()
    print('connections', server.connections)
''')


class EventletTestCase(base.TestCase):

    def test_bounds_hold_under_eventlet(self):
        # nova-compute may run monkey-patched: the same bounds, on green
        # sockets and threads.
        result = subprocess.run(
            [sys.executable, '-W', 'ignore', '-c', _EVENTLET_SCRIPT],
            capture_output=True, text=True, timeout=120,
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(
                os.path.dirname(os.path.abspath(__file__))))))
        self.assertEqual(0, result.returncode, result.stderr)
        lines = result.stdout.splitlines()
        self.assertRegex(lines[0], r'slow cut after (\d+\.\d) s')
        self.assertGreaterEqual(float(lines[0].split()[3]), 0.9)
        self.assertLess(float(lines[0].split()[3]), 30)
        self.assertIn(lines[1], ("refused b''", 'refused reset'))
        self.assertEqual(['answer HTTP/1.1 200 OK', 'idle closed True',
                          'connections 0'], lines[2:])
