"""Bounds on the deploy HTTP server: how long a client may take, how
many connections it may hold.

Any machine on the provisioning network may be hostile (after a deploy
it is a tenant's), and every connection it holds is a thread and a file
descriptor of nova-compute, whose descriptor table also holds the
database, AMQP and IPMI sockets. So:

* connections are capped overall and per source address
  (``[baremetal] deploy_http_max_connections``, ``…_per_source``): one
  over a cap is reset right after ``accept``, no thread started, no byte
  read, and logged at most once per source per minute;
* a request's head and body must arrive within
  ``deploy_http_request_timeout`` in all (a deadline, not a timeout per
  ``recv``: trickling a byte now and then does not extend it); a
  kept-alive connection idle for ``deploy_http_idle_timeout`` between
  requests is closed; a write of an answer not taken within the request
  timeout drops the client; a request's head is at most ``MAX_HEAD``
  bytes;
* ``accept`` failing for want of descriptors or memory pauses accepting
  (0.05 s, doubling up to 1 s) instead of retrying at once, since the
  pending connection keeps the listening socket readable.

Only socket timeouts and ``select`` are used: the same code runs in
native threads and in green threads under eventlet monkey-patching.
Every socket a handler holds has a timeout, so its descriptor is
non-blocking: ``os.sendfile`` on it raises ``BlockingIOError`` when the
client is slow, and the caller waits with ``select``
(``http_server._sendfile``).
"""

import collections
import errno
import http.server
import io
import math
import socket
import socketserver
import struct
import sys
import threading
import time
import traceback

from oslo_log import log as logging

from nova_bm.conf import CONF
from nova_bm.common import log_throttle
from nova_bm.common import safe_text

LOG = logging.getLogger(__name__)

#: Largest request head (request line and headers) read, in bytes; a
#: client sending more is disconnected. Buffered reads may take one
#: buffer (8 KiB) beyond it.
MAX_HEAD = 32 * 1024
#: First and longest pause of accepting after ``accept`` ran out of
#: descriptors or memory, in seconds; the pause doubles in between.
BACKOFF_MIN = 0.05
BACKOFF_MAX = 1.0
#: A source refused is named in a warning at most once a minute, and at
#: most this many sources a minute (the next line counts those left out).
WARN_SOURCES = 1024

# accept() failing with these leaves the connection queued: retrying at
# once fails again, at once.
_EXHAUSTED = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS,
                        errno.ENOMEM))
# SO_LINGER on, 0 s: close() resets the connection, and leaves no
# TIME_WAIT behind a flood.
_RESET_ON_CLOSE = struct.pack('ii', 1, 0)


class HeadTooLarge(ConnectionError):
    """A client sent more than ``MAX_HEAD`` bytes of request head."""


class LimitedServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """An HTTP server, a thread per connection, with the bounds of this
    module.

    The caps are read from ``[baremetal]`` at construction; keyword
    arguments override them (tests). A connection counts from its
    ``accept`` until its handler thread has ended and closed it, whatever
    happened in between.

    ``shutdown()`` returns within a poll interval even while accepting is
    paused; ``server_close()`` closes the listening socket, shuts down
    every connection still open (their threads then end on their own) and
    waits for them at most ``close_timeout`` seconds.
    """

    daemon_threads = True
    # server_close() must not wait for every handler thread: it resets
    # their connections instead and waits close_timeout at most.
    block_on_close = False
    allow_reuse_address = True
    # The listen backlog. A flood of connections refused one by one
    # fills it; once full, the kernel drops new SYNs, and a legitimate
    # client retries its SYN only after 1 s. Linux caps it at
    # net.core.somaxconn (4096 since Linux 5.4).
    request_queue_size = 4096
    close_timeout = 1.0

    def __init__(self, server_address, RequestHandlerClass,
                 bind_and_activate=True, *, max_connections=None,
                 max_connections_per_source=None, request_timeout=None,
                 idle_timeout=None):
        opts = CONF.baremetal
        self.max_connections = _given(
            max_connections, opts.deploy_http_max_connections)
        self.max_connections_per_source = _given(
            max_connections_per_source,
            opts.deploy_http_max_connections_per_source)
        #: Seconds a client has to send a whole request, head and body.
        self.request_timeout = _given(request_timeout,
                                      opts.deploy_http_request_timeout)
        #: Seconds a kept-alive connection may wait for its next request.
        self.idle_timeout = _given(idle_timeout,
                                   opts.deploy_http_idle_timeout)
        self._lock = threading.Lock()
        self._all_closed = threading.Condition(self._lock)
        self._open = {}  # connection -> its source address
        self._per_source = collections.Counter()
        self._refusals = log_throttle.Throttle(keys=WARN_SOURCES)
        self._backoff = 0.0
        self._backoff_until = 0.0
        self._accept_failures = 0
        self._exhaustion_logged = -math.inf
        self._exhaustion_warned = False
        self._wake = threading.Event()
        super().__init__(server_address, RequestHandlerClass,
                         bind_and_activate)

    # -- counts ----------------------------------------------------------

    @property
    def connections(self):
        """Connections open now."""
        with self._lock:
            return len(self._open)

    def connections_from(self, source):
        """Connections open now from the address ``source``."""
        with self._lock:
            return self._per_source.get(source, 0)

    def verify_request(self, request, client_address):
        # Called by the accepting thread before any thread is started.
        source = client_address[0]
        with self._lock:
            if len(self._open) >= self.max_connections:
                why = '%d connections open in all' % len(self._open)
            elif self._per_source[source] >= self.max_connections_per_source:
                why = ('%d connections open from it'
                       % self._per_source[source])
            else:
                self._open[request] = source
                self._per_source[source] += 1
                return True
        try:
            request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                               _RESET_ON_CLOSE)
        except OSError:
            pass
        skipped = self._refusals.admit(source)
        if skipped is not None:
            LOG.warning('Deploy HTTP server: refused a connection from '
                        '%s: %s%s', safe_text.escape(str(source), 100), why,
                        log_throttle.not_logged(skipped))
        return False

    def shutdown_request(self, request):
        # socketserver calls this exactly when a connection is done with:
        # refused, failed to start its thread, or its thread ended.
        with self._lock:
            source = self._open.pop(request, None)
            if source is not None:
                self._per_source[source] -= 1
                if not self._per_source[source]:
                    del self._per_source[source]
                if not self._open:
                    self._all_closed.notify_all()
        if source is None:  # refused: reset, nothing to say
            self.close_request(request)
        else:
            super().shutdown_request(request)

    # -- accepting -------------------------------------------------------

    def get_request(self):
        try:
            accepted = super().get_request()
        except OSError as e:
            if e.errno in _EXHAUSTED:
                self._accept_failed(e)
            raise
        if self._backoff:
            self._backoff = 0.0
            if self._exhaustion_warned:
                LOG.info('Deploy HTTP server: accepting connections again '
                         '(%d failed accepts)', self._accept_failures)
                self._exhaustion_warned = False
                self._accept_failures = 0
        return accepted

    def _accept_failed(self, error):
        # One warning per episode, and at most one per log_throttle.INTERVAL
        # however often accepting fails and recovers in between.
        self._accept_failures += 1
        now = time.monotonic()
        if (not self._backoff
                and now - self._exhaustion_logged >= log_throttle.INTERVAL):
            self._exhaustion_logged = now
            self._exhaustion_warned = True
            LOG.warning('Deploy HTTP server: cannot accept connections '
                        '(%s, %d connections open); pausing, and trying '
                        'again up to every %g s', error.strerror,
                        self.connections, BACKOFF_MAX)
        self._backoff = min(max(self._backoff * 2, BACKOFF_MIN), BACKOFF_MAX)
        self._backoff_until = now + self._backoff

    def service_actions(self):
        # serve_forever calls this after each select(): while paused, the
        # listening socket (readable: the connection is still queued) is
        # not selected again, and shutdown() wakes the pause.
        super().service_actions()
        pause = self._backoff_until - time.monotonic()
        if pause > 0:
            self._wake.wait(pause)

    def serve_forever(self, poll_interval=0.5):
        self._wake.clear()
        super().serve_forever(poll_interval)

    def shutdown(self):
        self._wake.set()
        super().shutdown()

    def server_close(self):
        super().server_close()
        with self._lock:
            # Under the lock: a connection in _open is not closed yet, so
            # its descriptor is still its own.
            for request in self._open:
                try:
                    request.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._all_closed.wait_for(lambda: not self._open,
                                      self.close_timeout)

    def handle_error(self, request, client_address):
        # One line per failed connection, never socketserver's traceback
        # on stderr: resets and timeouts are what clients do.
        error = sys.exc_info()[1]
        source = safe_text.escape(str(client_address[0]), 100)
        if isinstance(error, OSError):
            LOG.debug('Deploy HTTP %s: connection dropped: %s', source,
                      safe_text.escape(str(error), 200))
        else:
            LOG.error('Deploy HTTP %s: request failed: %s', source,
                      safe_text.escape(repr(error), 200))
            LOG.debug('Deploy HTTP %s: the failure:\n%s', source, '\n'.join(
                safe_text.escape(line) for line in
                traceback.format_exc().splitlines()))


class LimitedHandler(http.server.BaseHTTPRequestHandler):
    """A request handler for a :class:`LimitedServer`: every read of the
    request is under its deadline, every write under a timeout.

    A subclass reads a request's body with :meth:`read_body`; reading
    ``self.rfile`` is bounded the same way. Writes to ``self.wfile``
    raise ``TimeoutError`` after ``write_timeout`` seconds each (the
    connection is then closed).
    """

    def setup(self):
        # StreamRequestHandler.setup() without its makefile(): the
        # files are ours, and a makefile() never closed would keep the
        # descriptor open after the socket's close().
        self.connection = self.request
        self._deadline = time.monotonic() + self.server.request_timeout
        self._waiting = False  # for a kept-alive connection's next request
        self._in_head = True
        self._head_cut = False  # the stream ended within the head
        self._head_bytes = 0
        self._requests = 0
        # Never None: the descriptor must stay non-blocking (see the
        # module's docstring).
        self.connection.settimeout(self.server.request_timeout)
        if self.disable_nagle_algorithm:
            self.connection.setsockopt(socket.IPPROTO_TCP,
                                       socket.TCP_NODELAY, True)
        self.rfile = io.BufferedReader(_Reader(self))
        self.wfile = _Writer(self)

    @property
    def write_timeout(self):
        """Seconds a client has to take one write of an answer."""
        return self.server.request_timeout

    def handle_one_request(self):
        if self._requests:
            # Kept alive: the idle timeout runs until the next request's
            # first byte, then the request timeout (see _recv_into).
            self._waiting = True
            self._deadline = time.monotonic() + self.server.idle_timeout
        self._requests += 1
        self._in_head = True
        self._head_cut = False
        self._head_bytes = 0
        super().handle_one_request()

    def parse_request(self):
        try:
            whole = super().parse_request()
        finally:
            self._in_head = False
        if whole and self._head_cut:
            # http.client ends the headers at the end of the stream too:
            # a head the client never finished is not answered.
            self.close_connection = True
            return False
        return whole

    def read_body(self, length):
        """The request's body, ``length`` bytes, read under the request's
        deadline. Memory grows with what arrives, not with ``length``;
        the caller still checks ``length`` against its maximum.

        :raises: TimeoutError when the deadline passes first (the
            connection is then closed without an answer),
            ConnectionAbortedError when the client closes first.
        """
        parts = []
        missing = length
        while missing > 0:
            part = self.rfile.read(min(missing, 64 * 1024))
            if not part:
                self.close_connection = True
                raise ConnectionAbortedError(
                    'the client closed its connection %d bytes short of '
                    'its body' % missing)
            parts.append(part)
            missing -= len(part)
        return b''.join(parts)

    def _recv_into(self, buffer):
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError('idle for %g s' % self.server.idle_timeout
                               if self._waiting else
                               'the request took over %g s'
                               % self.server.request_timeout)
        self.connection.settimeout(remaining)
        received = self.connection.recv_into(buffer)
        if self._waiting and received:
            self._waiting = False
            self._deadline = time.monotonic() + self.server.request_timeout
        if self._in_head:
            self._head_cut = self._head_cut or not received
            self._head_bytes += received
            if self._head_bytes > MAX_HEAD:
                self.close_connection = True
                raise HeadTooLarge('request head over %d bytes' % MAX_HEAD)
        return received

    def _send_all(self, data):
        with memoryview(data) as view, view.cast('B') as view:
            deadline = time.monotonic() + self.write_timeout
            sent = 0
            try:
                while sent < len(view):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError('the client took no answer for '
                                           '%g s' % self.write_timeout)
                    self.connection.settimeout(remaining)
                    sent += self.connection.send(view[sent:])
            except TimeoutError:
                self.close_connection = True
                # Reset on close: no orphaned answer left in the kernel.
                try:
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
                except OSError:
                    pass
                raise
            return sent


class _Reader(io.RawIOBase):
    """The handler's socket, read under its deadline."""

    def __init__(self, handler):
        super().__init__()
        self._handler = handler

    def readable(self):
        return True

    def readinto(self, buffer):
        return self._handler._recv_into(buffer)


class _Writer(io.BufferedIOBase):
    """The handler's socket, each write whole or a TimeoutError."""

    def __init__(self, handler):
        super().__init__()
        self._handler = handler

    def writable(self):
        return True

    def write(self, data):
        if self.closed:
            raise ValueError('write to a closed file')
        return self._handler._send_all(data)


def _given(value, default):
    return default if value is None else value
