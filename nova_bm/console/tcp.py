"""The TCP end of the serial consoles: what nova-serialproxy connects to.

One thread serves every node's endpoint (a listening socket on
``[serial_console] proxyclient_address`` and at most one client), so a
proxy with a thousand consoles has one thread for them, not a thousand.
What a caller may rely on:

* :meth:`ConsoleServer.open` binds the endpoint before it returns (a port
  that cannot be bound is an ``OSError`` there, not later);
* only allowed clients are served: those of ``[baremetal]
  console_allowed_clients``, loopback and ``[DEFAULT] my_ip`` (see
  :func:`allowed_clients`). A connection from anywhere else is reset as
  soon as it is accepted, before a byte is read from it or written to it,
  and the client connected keeps the console;
* one client per endpoint: a second allowed client *replaces* the first,
  which is told so and disconnected. nova-serialproxy holds one TCP
  connection per browser session, and a session that was closed without
  a goodbye (a laptop put to sleep) would otherwise keep the console from
  its owner until TCP noticed, which can take hours;
* :meth:`send` never blocks its caller (the IPMI loop thread): a client
  that does not read loses the oldest output beyond ``MAX_BACKLOG``, as a
  terminal that was not watched;
* what a client types goes to ``on_input(bytes)``, on this module's
  thread;
* what a client can cost is bounded: a connection is a few system calls,
  refusals and takeovers are logged at most once per ``LOG_INTERVAL``
  (per source, per console), and a listener that cannot accept for want
  of a resource (``EMFILE``) rests ``ACCEPT_PAUSE`` instead of spinning.
"""

import collections
import errno
import ipaddress
import selectors
import socket
import struct
import threading
import time

from oslo_log import log as logging

from nova_bm.common import addresses
from nova_bm.conf import CONF
from nova_bm import exception
from nova_bm.common import log_throttle
from nova_bm.common import safe_text

LOG = logging.getLogger(__name__)

MAX_BACKLOG = 256 * 1024
TAKEN_OVER = b'\r\n[nova-bm: another client took over this console]\r\n'

#: Always allowed: this host itself.
LOOPBACK = (ipaddress.ip_network('127.0.0.0/8'),
            ipaddress.ip_network('::1/128'))
#: A refused source, or a console's takeovers, is logged at most once in
#: this many seconds; the next line says how many were not logged.
LOG_INTERVAL = log_throttle.INTERVAL
#: And at most this many refused sources are logged per LOG_INTERVAL
#: (an IPv6 network holds many addresses); beyond, refusals are counted.
LOG_SOURCES = 64
#: Connections taken from one listener per wake-up: a queue filled by
#: refused connections is drained quickly, without starving the others.
ACCEPT_BATCH = 8
#: How long a listener rests when accept() fails for want of a resource.
ACCEPT_PAUSE = 1.0
#: How long the thread rests after an unexpected error, so that a
#: repeating one cannot spin it (or flood the log).
ERROR_PAUSE = 0.5

# accept(2) errors that belong to the connection being accepted (Linux
# passes its pending network errors on): it is gone, the next may work.
_CONNECTION_ERRORS = frozenset(
    getattr(errno, name) for name in (
        'ECONNABORTED', 'ECONNRESET', 'EPROTO', 'EPERM', 'ENETDOWN',
        'ENOPROTOOPT', 'EHOSTDOWN', 'ENONET', 'EHOSTUNREACH',
        'EOPNOTSUPP', 'ENETUNREACH')
    if hasattr(errno, name))
# Reset, not closed: nothing is sent, and no TIME_WAIT is kept here.
_RESET = struct.pack('ii', 1, 0)

_OPTION = '[baremetal] console_allowed_clients'


def allowed_clients(conf=None):
    """The networks whose clients a console endpoint serves.

    ``[baremetal] console_allowed_clients`` (addresses or CIDR networks,
    IPv4-mapped IPv6 ones taken as IPv4), loopback and ``[DEFAULT]
    my_ip``. Empty entries (a trailing comma) are ignored.

    :raises: ConfigInvalid naming the first entry that is not an address
        or a network, in one line.
    """
    conf = conf or CONF
    networks = list(LOOPBACK)
    networks.append(parse_network(conf.my_ip, '[DEFAULT] my_ip'))
    networks.extend(parse_network(entry, _OPTION)
                    for entry in conf.baremetal.console_allowed_clients
                    if entry)
    return networks


def parse_network(text, option=_OPTION):
    """``'192.0.2.0/24'`` (or an address: a network of one) as a network.

    :raises: ConfigInvalid naming ``option`` and the value.
    """
    try:
        network = ipaddress.ip_network(text)
    except (ValueError, TypeError):
        try:
            # 192.0.2.10/24: the host or the network? Allow no more than
            # meant: the operator says which.
            meant = ipaddress.ip_network(text, strict=False)
        except (ValueError, TypeError):
            raise exception.ConfigInvalid(
                reason='%s: %s is not an IP address or a CIDR network '
                       '(such as 192.0.2.10, 192.0.2.0/24 or '
                       '2001:db8::/64); host names are not resolved'
                       % (option, safe_text.quote(text))) from None
        raise exception.ConfigInvalid(
            reason='%s: %s has host bits set: write the address alone, or '
                   'the network %s' % (option, safe_text.quote(text),
                                       meant)) from None
    mapped = getattr(network.network_address, 'ipv4_mapped', None)
    if mapped is not None and network.prefixlen >= 96:
        network = ipaddress.ip_network('%s/%d' % (mapped,
                                                  network.prefixlen - 96))
    return network


#: The IP address of an ``accept()``ed peer (see nova_bm.common).
client_address = addresses.peer_ip


class _Endpoint:

    def __init__(self, key, listener, on_input):
        self.key = key
        self.listener = listener
        self.on_input = on_input
        self.client = None
        self.backlog = bytearray()
        self.resume_at = None   # when accept() failed: when to try again


class ConsoleServer:
    """Every endpoint of this process, served by one thread."""

    def __init__(self, allowed=None):
        """``allowed``: addresses or CIDR networks whose clients are
        served, exactly these (nothing implicit); by default those of
        :func:`allowed_clients`, read from the configuration now, so that
        nova-compute does not start with a bad value.

        :raises: ConfigInvalid when an entry is not an address or network.
        """
        if allowed is None:
            self._allowed = allowed_clients()
        else:
            self._allowed = [parse_network(entry, 'allowed clients')
                             for entry in allowed]
        self._lock = threading.Lock()
        self._endpoints = {}
        self._paused = {}                      # key: endpoint resting
        self._outgoing = collections.deque()   # (key, data), any thread
        self._changes = collections.deque()    # functions for the thread
        self._selector = None
        self._wake_read = self._wake_write = None
        self._thread = None
        self._refusals = log_throttle.Throttle(keys=LOG_SOURCES)
        self._takeovers = log_throttle.Throttle()
        self._accept_errors = log_throttle.Throttle()

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

    def allows(self, address):
        """Whether a client at ``address`` (as ``accept()`` gives it) is
        served."""
        ip = client_address(address)
        return ip is not None and any(ip in network
                                      for network in self._allowed)

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
                time.sleep(ERROR_PAUSE)

    def _iterate(self):
        timeout = 5
        if self._paused:
            soonest = min(e.resume_at for e in self._paused.values())
            timeout = min(timeout, max(0, soonest - time.monotonic()))
        for selected, events in self._selector.select(timeout=timeout):
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
        if self._paused:
            self._resume(time.monotonic())
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
            if self._paused.pop(key, None) is None:
                self._selector.unregister(endpoint.listener)
            endpoint.listener.close()
        if done is not None:
            done.set()

    def _accept(self, endpoint):
        for _ in range(ACCEPT_BATCH):
            try:
                client, address = endpoint.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in _CONNECTION_ERRORS:
                    continue
                self._pause(endpoint, e)
                return
            if self.allows(address):
                self._serve(endpoint, client, address)
            else:
                self._refuse(endpoint, client, address)

    def _refuse(self, endpoint, client, address):
        try:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        except OSError:
            pass
        client.close()
        source = safe_text.escape(str(address[0]), limit=100)
        skipped = self._refusals.admit(source)
        if skipped is not None:
            LOG.warning('Serial console %(key)s: refused a connection from '
                        '%(source)s, not an allowed client (%(option)s)'
                        '%(skipped)s',
                        {'key': endpoint.key, 'source': source,
                         'option': _OPTION,
                         'skipped': log_throttle.not_logged(skipped)})

    def _serve(self, endpoint, client, address):
        if endpoint.client is not None:
            skipped = self._takeovers.admit(endpoint.key)
            if skipped is not None:
                LOG.info('Serial console %(key)s: a new client (%(source)s) '
                         'replaces the one connected%(skipped)s',
                         {'key': endpoint.key,
                          'source': safe_text.escape(str(address[0]),
                                                     limit=100),
                          'skipped': log_throttle.not_logged(skipped)})
            try:
                endpoint.client.send(TAKEN_OVER)
            except OSError:
                pass
            self._drop_client(endpoint)
        client.setblocking(False)
        endpoint.client = client
        endpoint.backlog.clear()
        self._selector.register(client, selectors.EVENT_READ, endpoint)

    def _pause(self, endpoint, error):
        """accept() failed for want of a resource (EMFILE, ENOBUFS…): the
        connection waits in the kernel's queue while the listener rests,
        instead of failing again at once, forever."""
        self._selector.unregister(endpoint.listener)
        endpoint.resume_at = time.monotonic() + ACCEPT_PAUSE
        self._paused[endpoint.key] = endpoint
        skipped = self._accept_errors.admit(error.errno)
        if skipped is not None:
            LOG.warning('Serial console %(key)s: cannot accept a client '
                        '(%(error)s); trying again in %(pause)gs%(skipped)s',
                        {'key': endpoint.key,
                         'error': error.strerror or error,
                         'pause': ACCEPT_PAUSE,
                         'skipped': log_throttle.not_logged(skipped)})

    def _resume(self, now):
        for key, endpoint in list(self._paused.items()):
            if endpoint.resume_at <= now:
                del self._paused[key]
                endpoint.resume_at = None
                self._selector.register(endpoint.listener,
                                        selectors.EVENT_READ, endpoint)

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
