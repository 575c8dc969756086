"""The TCP end of the serial consoles: what nova-serialproxy connects to.

One thread serves every node's endpoint (a listening socket on
``[serial_console] proxyclient_address`` and at most one client), so a
proxy with a thousand consoles has one thread for them, not a thousand.
What a caller may rely on:

* :meth:`ConsoleServer.open` binds the endpoint before it returns (a port
  that cannot be bound is an ``OSError`` there, not later);
* one client per endpoint: a second client *replaces* the first, which is
  told so and disconnected. nova-serialproxy holds one TCP connection per
  browser session, and a session that was closed without a goodbye
  (a laptop put to sleep) would otherwise keep the console from its owner
  until TCP noticed, which can take hours;
* :meth:`send` never blocks its caller (the IPMI loop thread): a client
  that does not read loses the oldest output beyond ``MAX_BACKLOG``, as a
  terminal that was not watched;
* what a client types goes to ``on_input(bytes)``, on this module's
  thread.
"""

import collections
import selectors
import socket
import threading

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

MAX_BACKLOG = 256 * 1024
TAKEN_OVER = b'\r\n[nova-bm: another client took over this console]\r\n'


class _Endpoint:

    def __init__(self, key, listener, on_input):
        self.key = key
        self.listener = listener
        self.on_input = on_input
        self.client = None
        self.backlog = bytearray()


class ConsoleServer:
    """Every endpoint of this process, served by one thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self._endpoints = {}
        self._outgoing = collections.deque()   # (key, data), any thread
        self._changes = collections.deque()    # functions for the thread
        self._selector = None
        self._wake_read = self._wake_write = None
        self._thread = None

    # -- any thread ---------------------------------------------------------

    def open(self, key, host, port, on_input):
        """Listen on ``host:port`` for the console ``key``."""
        listener = socket.socket(
            socket.AF_INET6 if ':' in host else socket.AF_INET)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(4)
            listener.setblocking(False)
        except OSError:
            listener.close()
            raise
        endpoint = _Endpoint(key, listener, on_input)
        self._call(self._add, endpoint)
        return listener.getsockname()[1]

    def close(self, key):
        """Close the endpoint and its client (no-op if there is none);
        the port is free when this returns."""
        done = threading.Event()
        self._call(self._remove, key, done)
        if threading.current_thread() is not self._thread:
            done.wait(10)

    def send(self, key, data):
        """Queue console output for ``key``'s client, if it has one."""
        self._outgoing.append((key, data))
        self._wake()

    def clients(self, key):
        """Whether ``key`` has a client now (for tests and logs)."""
        endpoint = self._endpoints.get(key)
        return endpoint is not None and endpoint.client is not None

    def _call(self, function, *args):
        with self._lock:
            if self._thread is None:
                self._selector = selectors.DefaultSelector()
                self._wake_read, self._wake_write = socket.socketpair()
                self._wake_read.setblocking(False)
                self._wake_write.setblocking(False)
                self._selector.register(self._wake_read,
                                        selectors.EVENT_READ, None)
                self._thread = threading.Thread(
                    target=self._run, name='nova-bm-consoles', daemon=True)
                self._thread.start()
            self._changes.append((function, args))
        self._wake()

    def _wake(self):
        if self._wake_write is None:
            return
        try:
            self._wake_write.send(b'\0')
        except OSError:
            pass   # full: the thread is awake already

    # -- the thread ---------------------------------------------------------

    def _run(self):
        while True:
            try:
                self._iterate()
            except Exception:
                LOG.exception('Unexpected error serving the consoles')

    def _iterate(self):
        for selected, events in self._selector.select(timeout=5):
            what = selected.data
            if what is None:
                try:
                    while self._wake_read.recv(4096):
                        pass
                except OSError:
                    pass
            elif selected.fileobj is what.listener:
                self._accept(what)
            elif selected.fileobj is what.client:
                if events & selectors.EVENT_READ:
                    self._read(what)
                if what.client is not None and events & selectors.EVENT_WRITE:
                    self._flush(what)
        while self._changes:
            function, args = self._changes.popleft()
            function(*args)
        while self._outgoing:
            key, data = self._outgoing.popleft()
            endpoint = self._endpoints.get(key)
            if endpoint is None or endpoint.client is None:
                continue
            endpoint.backlog += data
            overflow = len(endpoint.backlog) - MAX_BACKLOG
            if overflow > 0:
                del endpoint.backlog[:overflow]
            self._flush(endpoint)

    def _add(self, endpoint):
        self._remove(endpoint.key)
        self._endpoints[endpoint.key] = endpoint
        self._selector.register(endpoint.listener, selectors.EVENT_READ,
                                endpoint)

    def _remove(self, key, done=None):
        endpoint = self._endpoints.pop(key, None)
        if endpoint is not None:
            self._drop_client(endpoint)
            self._selector.unregister(endpoint.listener)
            endpoint.listener.close()
        if done is not None:
            done.set()

    def _accept(self, endpoint):
        try:
            client, address = endpoint.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        if endpoint.client is not None:
            LOG.info('Serial console %s: a new client (%s) replaces the '
                     'one connected', endpoint.key, address[0])
            try:
                endpoint.client.send(TAKEN_OVER)
            except OSError:
                pass
            self._drop_client(endpoint)
        client.setblocking(False)
        endpoint.client = client
        endpoint.backlog.clear()
        self._selector.register(client, selectors.EVENT_READ, endpoint)

    def _read(self, endpoint):
        try:
            data = endpoint.client.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b''
        if not data:
            self._drop_client(endpoint)
            return
        try:
            endpoint.on_input(data)
        except Exception:
            LOG.exception('Serial console %s lost input', endpoint.key)

    def _flush(self, endpoint):
        client = endpoint.client
        if client is None:
            return
        if endpoint.backlog:
            try:
                sent = client.send(endpoint.backlog)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._drop_client(endpoint)
                return
            del endpoint.backlog[:sent]
        events = selectors.EVENT_READ | (
            selectors.EVENT_WRITE if endpoint.backlog else 0)
        self._selector.modify(client, events, endpoint)

    def _drop_client(self, endpoint):
        client, endpoint.client = endpoint.client, None
        endpoint.backlog.clear()
        if client is None:
            return
        try:
            self._selector.unregister(client)
        except (KeyError, ValueError):
            pass
        client.close()
