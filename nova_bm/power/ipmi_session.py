"""pyghmi's client session, made fully asynchronous for the IPMI loop.

The one module that touches pyghmi internals, pinned to the pyghmi version
in upper-constraints.txt. It fixes three things pyghmi 1.6.19 does that
silence healthy BMCs for whole timeouts under load (found with 200 fake
BMCs; each is explained where it is fixed):

* the last logon step (Set Session Privilege Level) runs a nested,
  synchronous wait inside a packet callback, stalling every other session:
  :class:`AsyncSession` sends it with a callback instead, and only when a
  command needs more than the USER privilege a session starts with;
* ``Session.wait_for_rsp`` can sleep its whole timeout with packets already
  received, and no other thread can wake it: :func:`pump`;
* ``_io_sendto`` switches sockets to blocking under pyghmi's reading I/O
  thread, which can then block in recvfrom(): :func:`install_fixes`.

It also gives pyghmi a clock that is not a system call of 10 ms
resolution (:func:`install_fixes`).

It keeps one BMC's packets from hurting the others: a packet that makes
pyghmi (or a callback) raise ends that session alone, at once, and tells
its owner (:attr:`AsyncSession.failure`); it never raises into the IPMI
loop, where it used to stall every other BMC's conversation.

And it retransmits the way a client on a real BMC network must
(:class:`AsyncSession`, "Retransmission"): pyghmi waits 0.5-1 s for any
answer, however fast or slow the BMC, and on a lost RAKP message starts the
whole logon again, so a BMC that answers each packet in 0.5 s, or a network
that loses a packet in three, is never read.
"""

import random
import select
import socket
import threading
import time
import traceback
import weakref

from oslo_log import log as logging
from pyghmi.ipmi.private import session as ipmisession
from pyghmi.ipmi.private import util as ipmiutil

from nova_bm.power import ipmi_messages
from nova_bm.common import safe_text

LOG = logging.getLogger(__name__)

_APP = 0x06
_SET_SESSION_PRIVILEGE = 0x3b
_INSUFFICIENT_PRIVILEGE = (0x80, 0x81)


# Retransmission timeouts (RTO), in seconds. A packet with no answer is
# sent again after the current RTO, which grows by BACKOFF at each loss up
# to MAX_RTO; once the BMC has answered a packet sent once, the RTO follows
# its round-trip time (RFC 6298: smoothed RTT plus four deviations), never
# below MIN_RTO. So a slow BMC is given the time it needs, and a packet
# lost on the way to a fast one is sent again within a fraction of a
# second. The growth is gentler than TCP's doubling: on a management
# network a loss means a lost packet, not congestion to back away from
# (FreeIPMI's ipmipower resends every 0.5 s, backing off only after 8).
INITIAL_RTO = 0.25
MIN_RTO = 0.15
MAX_RTO = 3.0
BACKOFF = 1.5
FLAT_COPIES = 3
# One packet is given up (pyghmi's timeout callback) after this long: the
# IPMI loop's own deadline normally ends a call well before.
GIVE_UP_AFTER = 60.0

# pyghmi's codes for the integrity algorithm it proposes in Open Session:
# 256 for HMAC-SHA256 (cipher suite 17), 1 for HMAC-SHA1 (suite 3).
_SUITE_HASH = {17: 256, 3: 1}
# (address, port) of BMCs that refused suite 17 in this process: their next
# logon asks for 3 at once. Bounded by the number of BMCs.
_REFUSED_SUITE_17 = set()
# How much of an unexpected error's text a failure reason quotes.
_MAX_ERROR_TEXT = 200


class AsyncSession(ipmisession.Session):
    """A pyghmi client session whose logon never blocks the caller.

    Retransmission: every packet that expects an answer (the logon's
    Get Channel Authentication Capabilities, Open Session, RAKP 1 and 3,
    and every command) is sent again, unchanged, after the RTO when its
    answer does not come: one lost packet costs one RTO, not a new logon.
    A repeated command keeps its IPMI sequence number, so the BMC can tell
    it from a new one, and pyghmi drops a late duplicate answer. Open
    Session is repeated too (pyghmi crafted a new request, with a new tag,
    and then ignored a slow BMC's answers to the old one: a BMC slower
    than the retransmission timer could never be logged on to). A BMC that
    generates new random numbers for a repeated RAKP 1 (pyghmi's own BMC
    does) answers with a second RAKP 2; the session answers the latest
    one with a new RAKP 3, since only that one matches the BMC's state.

    Isolation: whatever a BMC sends, handling its packet never raises. A
    packet that makes pyghmi or a callback raise (a malformed or hostile
    one; or a bug met on the way), or a retransmission that raises, ends
    the session: :attr:`failure` says why, ``on_failure(reason)`` is
    called once, and every later packet of the session (as of a broken
    one) is dropped before any parsing or cryptography.
    """

    # Round-trip estimate (RFC 6298), and the packet in flight.
    _srtt = None
    _rttvar = None
    _rto = INITIAL_RTO
    _last_sent = None        # last transmission of the packet in flight
    _first_sent = None       # first transmission of the packet in flight
    _resending = False       # inside _timedout
    _retransmitted = False   # the packet in flight was sent more than once
    _rakp1_tag = None
    _copies = 1              # transmissions of the packet in flight
    _raised = None           # raise_privilege's callback, while it runs
    #: The session's privilege level: USER once logged on, then what
    #: :meth:`raise_privilege` obtained.
    privilege = 0
    #: The cipher suite asked for first (``[baremetal] ipmi_cipher_suite``).
    first_cipher_suite = 17
    #: Why the session stopped taking packets (None: it takes them).
    failure = None
    #: Set by the session's owner: called with :attr:`failure`, once, on
    #: the thread that pumps, from inside pyghmi's handling of a packet
    #: (so it must only note it: ending the session is for later).
    on_failure = None

    def _initsession(self):
        super()._initsession()
        if (self.bmc, self.port) in _REFUSED_SUITE_17:
            self.attemptedhash = _SUITE_HASH[3]
        else:
            self.attemptedhash = _SUITE_HASH[self.first_cipher_suite]

    def _got_rmcp_response(self, data):
        if (self.sessioncontext == 'OPENSESSION' and data[0] == self.rmcptag
                and data[1] != 0 and self.attemptedhash == _SUITE_HASH[17]):
            _REFUSED_SUITE_17.add((self.bmc, self.port))
        return super()._got_rmcp_response(data)

    def _xmit_packet(self, retry=True, delay_xmit=None, timeout=None):
        if retry and delay_xmit is None:
            now = ipmisession._monotonic_time()
            if self._resending:
                self._retransmitted = True
            else:
                # A new packet: its losses are its own, so it starts from
                # the BMC's round-trip estimate, not from a backed-off RTO.
                self._first_sent = now
                self._retransmitted = False
                self._copies = 1
                self._rto = self._base_rto()
            self._last_sent = now
            if timeout is None:
                timeout = self._rto
        return super()._xmit_packet(retry=retry, delay_xmit=delay_xmit,
                                    timeout=timeout)

    def _handle_ipmi_packet(self, data, sockaddr=None, qent=None):
        """Learn the BMC's round-trip time from the answers it accepts.

        A packet is the answer to the one in flight when pyghmi accepts it
        (it moves on: the payload in flight is cleared or replaced); stale
        and duplicate answers change nothing and teach nothing.
        """
        if self.failure is not None or self.broken:
            return None   # the session is over: its packets cost nothing
        in_flight = self.lastpayload
        sent = (self._first_sent, self._last_sent, self._retransmitted)
        now = ipmisession._monotonic_time()
        try:
            result = super()._handle_ipmi_packet(data, sockaddr, qent)
        except Exception as e:
            self._fail('a packet from the BMC could not be handled', e)
            return None
        if in_flight is not None and self.lastpayload is not in_flight:
            self._answered(now, *sent)
        return result

    def _fail(self, what, error):
        """End the session's use: note why, once, and tell its owner."""
        if self.failure is not None:
            return
        self.failure = '%s (%s)' % (what, describe_error(error))
        self.sol_handler = None
        # Once per session (every later packet is dropped unread).
        LOG.debug('IPMI session with %s:%s: %s\n%s', self.bmc, self.port,
                  self.failure, error_frames(error))
        callback = self.on_failure
        if callback is not None:
            try:
                callback(self.failure)
            except Exception:
                LOG.debug('The owner of the IPMI session with %s:%s could '
                          'not be told it failed', self.bmc, self.port,
                          exc_info=True)

    def _answered(self, now, first_sent, last_sent, retransmitted):
        if first_sent is None:
            return
        since_last = now - last_sent
        if not retransmitted:
            self._sample(since_last)
        elif since_last >= max(MIN_RTO, self._srtt or 0):
            # An answer to a packet sent more than once may be to an
            # earlier copy (Karn): the time since the last copy is only a
            # lower bound, which may raise the estimate, never lower it.
            self._sample(since_last)
        else:
            return
        if self.lastpayload is not None and not self._retransmitted:
            # The next packet went out before this sample: time it by it.
            self._rto = self._base_rto()
            with ipmiutil.protect(ipmisession.WAITING_SESSIONS):
                parms = ipmisession.Session.waiting_sessions.get(self)
                if parms is not None:
                    self.expiration = self._first_sent + self._rto
                    parms['timeout'] = self.expiration

    def _sample(self, rtt):
        if self._srtt is None:
            self._srtt, self._rttvar = rtt, rtt / 2
        else:
            self._rttvar = 0.75 * self._rttvar + 0.25 * abs(self._srtt - rtt)
            self._srtt = 0.875 * self._srtt + 0.125 * rtt

    def _base_rto(self):
        if self._srtt is None:
            return INITIAL_RTO
        return min(MAX_RTO, max(MIN_RTO, self._srtt + 4 * self._rttvar))

    def _timedout(self):
        """The packet in flight got no answer within the RTO: send it again.

        pyghmi's version gives up or starts a new logon after a few tries;
        here only the IPMI loop's deadline (or GIVE_UP_AFTER) ends a call.
        A retransmission that raises ends the session (:meth:`_fail`).
        """
        try:
            self._retransmit()
        except Exception as e:
            self._fail('a retransmission failed', e)

    def _retransmit(self):
        if not self.lastpayload or self.failure is not None:
            return
        if self.sessioncontext == 'FAILED':
            self.lastpayload = None
            self.onlogpayload = None
            return
        started = self._first_sent
        if started is not None and (ipmisession._monotonic_time() - started
                                    > GIVE_UP_AFTER):
            self.ipmicallback({'error': 'timeout', 'code': 0xffff})
            self._mark_broken()
            return
        self._copies += 1
        if self._copies > FLAT_COPIES:
            self._rto = min(MAX_RTO, self._rto * BACKOFF)
        self.nowait = True
        self._resending = True
        try:
            if self.sessioncontext == 'ESTABLISHED':
                self.hasretried = 1  # pyghmi: mind the sequence number
            self.send_payload()
        finally:
            self._resending = False
            self.nowait = False

    def _send_rakp1(self):
        super()._send_rakp1()
        self._rakp1_tag = self.rmcptag

    def _got_rakp2(self, data):
        if (self.sessioncontext == 'EXPECTINGRAKP4'
                and data[0] == self._rakp1_tag):
            # A later RAKP 2: the BMC answered a repeated RAKP 1 with new
            # random numbers. Answer it (RAKP 3 gets the same tag again).
            self.sessioncontext = 'EXPECTINGRAKP2'
            self.rmcptag = self._rakp1_tag
        return super()._got_rakp2(data)

    def _req_priv_level(self):
        """The logon ends here, at the USER privilege every session has.

        pyghmi asks for its full privilege (Set Session Privilege Level)
        before it calls the logon done: a round trip in six that a read
        never needs. Here a session starts at USER, as the BMC starts it
        (IPMI 2.0 §22.18; ipmitool skips the request for a USER session
        too), and :meth:`raise_privilege` asks for more when a command
        needs it: a cold sweep of power states costs five round trips per
        BMC instead of six.
        """
        # Same state changes as pyghmi's version.
        self.logged = 1
        self.logoutexpiry = None
        self.maxtimeout = 4
        self.logontries = 1
        self.logging = False
        self.privilege = ipmi_messages.USER
        with ipmiutil.protect(ipmisession.KEEPALIVE_SESSIONS):
            ipmisession.Session.keepalive_sessions[self] = {
                'ipmisession': self,
                'timeout': (ipmisession._monotonic_time()
                            + ipmisession.MAX_IDLE - random.random() * 4.9)}
        self.onlogon({'success': True})

    def raise_privilege(self, callback):
        """Ask for the session's full privilege; then call ``callback``.

        Administrator, or operator where the BMC grants no more (as
        pyghmi does). ``callback`` gets ``{'success': True}``,
        ``{'again': True}`` when the BMC refused administrator (call this
        again, from outside pyghmi's packet handling, for operator), or
        ``{'error': reason, 'code': code}``. The session keeps its
        privilege for its life: one round trip per session, not per
        command.
        """
        self._raised = callback
        self._send_privilege_request()

    def _send_privilege_request(self):
        self.incommand = False
        self.raw_command(netfn=_APP, command=_SET_SESSION_PRIVILEGE,
                         data=[self.privlevel],
                         callback=self._got_privilege_response)

    def _got_privilege_response(self, response):
        end_command(self)
        code = response.get('code', 0)
        callback, self._raised = self._raised, None
        if (code in _INSUFFICIENT_PRIVILEGE
                and self.privlevel == ipmi_messages.ADMINISTRATOR):
            # Like pyghmi: some BMCs grant operator but not administrator.
            # The caller asks again, outside this packet's handling: a
            # request sent from inside it loses its answer (pyghmi drops
            # the new request's entry once the callback returns).
            self.privlevel = ipmi_messages.OPERATOR
            callback({'again': True})
            return
        if code or 'error' in response:
            error = ipmiutil.get_ipmi_error(
                response, suffix=' while requesting privilege level %d'
                % self.privlevel) or response.get('error')
            callback({'error': error, 'code': code})
            return
        self.privilege = self.privlevel
        callback({'success': True})


def describe_error(error):
    """``struct.error: unpack requires ...``: an error on one line, its
    text escaped and cut (a BMC's bytes may be in it)."""
    kind = type(error)
    name = kind.__qualname__
    if kind.__module__ != 'builtins':
        name = '%s.%s' % (kind.__module__, name)
    return '%s: %s' % (name, safe_text.escape(str(error), _MAX_ERROR_TEXT))


def error_frames(error):
    """Where ``error`` was raised: a traceback of code lines only, its
    message left out (see :func:`describe_error`)."""
    return 'Traceback (most recent call last):\n' + ''.join(
        traceback.format_tb(error.__traceback__))


def end_command(session):
    """What pyghmi requires of a raw_command callback: free the session."""
    session.incommand = False
    while session.evq:
        session.evq.popleft().set()


def is_busy(session):
    """Whether a raw_command now would block (keepalive or re-logon)."""
    return bool(session._isincommand()
                or (session.logging and not session.logged))


def abandon(session):
    """Stop using a session: forget its packet, close it, free its slot.

    Non-blocking: the close-session request (sent only if logged on) is
    fire-and-forget, and nothing waits for the command in flight.
    """
    session.lastpayload = None
    session.onlogpayload = None
    end_command(session)
    session._mark_broken('abandoned by nova-bm')


def _sendto(sock, packet, sockaddr):
    """pyghmi's ``_io_sendto``, without switching the socket to blocking.

    pyghmi 1.6.19 sets a socket blocking for each send while its I/O thread
    reads the same socket after setting it non-blocking. When a send lands
    between the I/O thread's setblocking(0) and its recvfrom(), the I/O
    thread blocks in recvfrom() until that one BMC sends another packet,
    and every other session of the process goes deaf meanwhile (seen: fake
    BMCs with replies queued in the kernel, unread, for the whole timeout).
    UDP sends on a non-blocking socket only fail when the send buffer is
    full; then wait briefly for room, once.
    """
    raw = getattr(sock, 'fd', sock)   # eventlet's GreenSocket wraps it
    for _ in range(2):
        try:
            raw.sendto(packet, sockaddr)
            return
        except BlockingIOError:
            select.select([], [raw], [], 0.05)
        except OSError:
            return   # like pyghmi: a lost datagram is retransmitted


# Local port of each of pyghmi's sockets, learnt once: getsockname() is a
# system call, and pyghmi made one for every packet received.
_socket_ports = weakref.WeakKeyDictionary()


def _graball(mysockets, iowaiters):
    """pyghmi's ``_io_graball``, with the system calls per wake-up cut.

    pyghmi's own version switched every socket of the process (one per 64
    BMCs) to non-blocking and tried to read it at each wake-up, and asked
    each packet's socket for its port: for a sweep of 1,000 BMCs about 50
    system calls per packet that arrives alone. Here one ``select`` with no
    wait finds the sockets that hold packets (:func:`_read_sockets` reads
    them). Only used if pyghmi's own I/O thread runs (see
    :func:`install_fixes`).
    """
    try:
        readable, _, _ = select.select(mysockets, (), (), 0)
    except (OSError, ValueError):
        readable = mysockets  # a closed socket: read them all, as pyghmi
    return _read_sockets(readable, iowaiters)


#: Packets read from one socket per wake-up of the IPMI loop.
_MAX_PACKETS_PER_READ = 256


def _read_sockets(sockets, iowaiters=None):
    """Read every packet waiting on ``sockets`` and queue it for its
    session, as pyghmi's I/O thread does; each socket's port and
    non-blocking mode are set up once (pyghmi asked the kernel for them
    at every packet). What is done with each packet is pyghmi's."""
    sockaddrs = []
    for mysocket in sockets:
        myport = _socket_ports.get(mysocket)
        if myport is None:
            try:
                mysocket.setblocking(0)
                myport = mysocket.getsockname()[1]
            except OSError:
                continue
            _socket_ports[mysocket] = myport
        # At most so many a socket a wake-up: a peer flooding one socket
        # faster than it is read cannot keep the loop here; the rest
        # waits in the kernel's bounded buffer (or is dropped there).
        for _ in range(_MAX_PACKETS_PER_READ):
            try:
                rdata = mysocket.recvfrom(3000)
            except OSError:
                break
            if len(rdata[0]) < 4:
                continue  # too short to be IPMI: a wake-up
            rdata = rdata + (mysocket,)
            relsession = None
            handlers = ipmisession.Session.bmc_handlers
            if rdata[1] in handlers and myport in handlers[rdata[1]]:
                rdata = rdata + (True,)   # a client session's packet
                relsession = handlers[rdata[1]][myport]
            elif rdata[2] in handlers:
                rdata = rdata + (False,)  # pyghmi as a BMC: sessionless
                relsession = handlers[rdata[2]][0]
            if relsession is not None:
                relsession.pktqueue.append(rdata)
                ipmisession.sessionqueue.append(relsession)
            if iowaiters and rdata[1] in iowaiters:
                for waiter in iowaiters[rdata[1]]:
                    waiter[1].set()
                del iowaiters[rdata[1]]
            sockaddrs.append(rdata[1])
    return sockaddrs


class _InlineIO:
    """Stands in for pyghmi's I/O thread, which then never starts: the
    thread that pumps (the IPMI loop's) reads the sockets itself.

    pyghmi's design hands every packet from its I/O thread to the thread
    that runs the sessions (an event set, a thread switch), twice per
    round trip; a cold sweep of 1,000 BMCs is 12,000 packets. Reading in
    the pumping thread, as FreeIPMI's ipmipower does in its one loop,
    saves those switches. pyghmi code that would wait for its I/O thread
    (``_io_wait``) reads the sockets instead (:func:`_inline_io_wait`).
    """

    daemon = True
    name = 'nova-bm inline I/O'

    @staticmethod
    def is_alive():
        return True


_INLINE = _InlineIO()


def _inline_io_wait(timeout, myaddr=None, evq=None):
    """pyghmi's ``_io_wait`` without its I/O thread: wait up to
    ``timeout`` for packets, and queue what arrived."""
    _select_and_read(timeout)


def _select_and_read(timeout, waker=None):
    """Wait up to ``timeout`` for a packet on pyghmi's sockets or for
    ``waker``; read and queue every packet waiting."""
    sockets = list(ipmisession.iosockets)
    wanted = sockets + [waker] if waker is not None else sockets
    try:
        readable, _, _ = select.select(wanted, (), (), max(timeout, 0))
    except (OSError, ValueError):
        readable = sockets  # a closed socket: try them all
    if waker is not None:
        readable = [s for s in readable if s is not waker]
    if readable:
        _read_sockets(readable)


def inline_io():
    """Whether this process reads pyghmi's sockets in the pumping thread.
    """
    return ipmisession.iothread is _INLINE


def install_fixes():
    """Replace pyghmi's racy send, its clock and its packet reader
    (idempotent; call before any session exists, so that every time
    pyghmi keeps is on one clock).

    pyghmi reads the time with ``os.times()[4]``: a system call (costly
    in a sandbox: 38 % of the IPMI loop's time in a cold sweep of 1,000
    BMCs, profiled with py-spy) with a 10 ms resolution, too coarse for
    retransmission timers of 150 ms. ``time.monotonic`` is neither. For
    the reader, see :class:`_InlineIO` and :func:`_graball`.
    """
    ipmisession._io_sendto = _sendto
    ipmisession._io_graball = _graball
    ipmisession._monotonic_time = time.monotonic
    ipmiutil._monotonic_time = time.monotonic
    if ipmisession.iothread is None:
        # No pyghmi session yet: its I/O thread never starts.
        ipmisession.iothread = _INLINE
        ipmisession.iothreadready = True
        ipmisession._io_wait = _inline_io_wait


def started():
    """Whether pyghmi has sockets (so there is anything to pump)."""
    return bool(ipmisession.iosockets)


class Waker:
    """A ``threading.Event`` that ``select`` can wait for, with sockets.

    What other threads set to wake the IPMI loop; :func:`pump` waits for
    it and for pyghmi's sockets in one ``select``.
    """

    def __init__(self):
        self._read, self._write = socket.socketpair()
        self._read.setblocking(False)
        self._write.setblocking(False)
        self._flag = False
        self._lock = threading.Lock()

    def fileno(self):
        return self._read.fileno()

    def is_set(self):
        return self._flag

    def set(self):
        with self._lock:
            if self._flag:
                return
            self._flag = True
        try:
            self._write.send(b'\0')
        except OSError:
            pass  # full: a byte is waiting already

    def clear(self):
        with self._lock:
            self._flag = False
            try:
                while self._read.recv(4096):
                    pass
            except OSError:
                pass

    def wait(self, timeout=None):
        if not self._flag:
            select.select([self._read], (), (), timeout)
        return self._flag

    def close(self):
        self._read.close()
        self._write.close()


def pump(timeout, wakeup):
    """Wait for packets, due retransmits or ``wakeup``; then run pyghmi.

    With inline I/O (:class:`_InlineIO`), one ``select`` waits for
    pyghmi's sockets and ``wakeup`` (a :class:`Waker`) together, and the
    packets are read here. Otherwise pyghmi's own ``Session.wait_for_rsp``
    would first check for received packets and then register its sleeper
    with pyghmi's I/O thread; packets the I/O thread queues between the
    two are left waiting for the whole timeout (seen: healthy BMCs "not
    answering" for 5 s under load), and no other thread can interrupt the
    sleep. Then the sleeper is ``wakeup``, registered *before* the check,
    so a packet queued at any moment, or a caller setting ``wakeup``, ends
    the wait. Either way, one non-blocking pyghmi iteration then handles
    what arrived, retransmits and keepalives.
    """
    now = ipmisession._monotonic_time()
    timeout = min(timeout, _next_pyghmi_deadline(now) - now)
    if inline_io():
        if ipmisession.sessionqueue or wakeup.is_set():
            timeout = 0
        _select_and_read(timeout, wakeup)
    elif timeout > 0 and not wakeup.is_set():
        deadline = now + timeout
        ipmisession.ioqueue.append((deadline, wakeup, None))
        if deadline < ipmisession.selectdeadline:
            # The I/O thread sleeps past our deadline: make it re-plan.
            sock = ipmisession.iosockets[0]
            raw = getattr(sock, 'fd', sock)   # eventlet's GreenSocket
            try:
                raw.sendto(b'\x01',
                           (ipmisession.myself, sock.getsockname()[1]))
            except OSError:
                pass
        if not ipmisession.sessionqueue:
            wakeup.wait(timeout + 1.0)
    ipmisession.Session.wait_for_rsp(timeout=0)


def _next_pyghmi_deadline(now):
    """When pyghmi next wants to retransmit or send a keepalive."""
    due = now + 3600
    cls = ipmisession.Session
    with ipmiutil.protect(ipmisession.WAITING_SESSIONS):
        for parms in list(cls.waiting_sessions.values()):
            due = min(due, parms['timeout'])
    with ipmiutil.protect(ipmisession.KEEPALIVE_SESSIONS):
        for parms in list(cls.keepalive_sessions.values()):
            due = min(due, parms['timeout'])
    return due
