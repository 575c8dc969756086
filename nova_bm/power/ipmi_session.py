"""pyghmi's client session, made fully asynchronous for the IPMI loop.

The one module that touches pyghmi internals, pinned to the pyghmi version
in upper-constraints.txt. It fixes three things pyghmi 1.6.19 does that
silence healthy BMCs for whole timeouts under load (found with 200 fake
BMCs; each is explained where it is fixed):

* the last logon step (Set Session Privilege Level) runs a nested,
  synchronous wait inside a packet callback, stalling every other session:
  :class:`AsyncSession` sends it with a callback instead;
* ``Session.wait_for_rsp`` can sleep its whole timeout with packets already
  received, and no other thread can wake it: :func:`pump`;
* ``_io_sendto`` switches sockets to blocking under pyghmi's reading I/O
  thread, which can then block in recvfrom(): :func:`install_fixes`.
"""

import random
import select

from pyghmi.ipmi.private import session as ipmisession
from pyghmi.ipmi.private import util as ipmiutil

_APP = 0x06
_SET_SESSION_PRIVILEGE = 0x3b
_ADMINISTRATOR = 4
_OPERATOR = 3
_INSUFFICIENT_PRIVILEGE = (0x80, 0x81)


class AsyncSession(ipmisession.Session):
    """A pyghmi client session whose logon never blocks the caller."""

    # The callback of the command in flight when pyghmi started a re-logon.
    _resume_callback = None

    def _relog(self):
        # A command that got no answer makes pyghmi log on again and resend
        # it (parked in onlogpayload); the logon replaces ipmicallback, so
        # keep the command's own callback for the resent command's answer.
        if self.sessioncontext == 'ESTABLISHED' and self.onlogpayload:
            self._resume_callback = self.ipmicallback
        return super()._relog()

    def _req_priv_level(self):
        # Same state changes as pyghmi's version, before the request.
        self.logged = 1
        self.logoutexpiry = None
        self.maxtimeout = 4
        self.logontries = 1
        self._send_privilege_request()

    def _send_privilege_request(self):
        self.incommand = False
        self.raw_command(netfn=_APP, command=_SET_SESSION_PRIVILEGE,
                         data=[self.privlevel],
                         callback=self._got_privilege_response)

    def _got_privilege_response(self, response):
        end_command(self)
        code = response.get('code', 0)
        if (code in _INSUFFICIENT_PRIVILEGE
                and self.privlevel == _ADMINISTRATOR):
            # Like pyghmi: some BMCs grant operator but not administrator.
            self.privlevel = _OPERATOR
            self._send_privilege_request()
            return
        resume, self._resume_callback = self._resume_callback, None
        if code or 'error' in response:
            self.logged = 0
            self.onlogpayload = None
            self.logging = False
            error = ipmiutil.get_ipmi_error(
                response, suffix=' while requesting privilege level %d'
                % self.privlevel) or response.get('error')
            self.onlogon({'error': error})
            return
        if resume is not None and self.onlogpayload:
            self.ipmicallback = resume
        self.logging = False
        with ipmiutil.protect(ipmisession.KEEPALIVE_SESSIONS):
            ipmisession.Session.keepalive_sessions[self] = {
                'ipmisession': self,
                'timeout': (ipmisession._monotonic_time()
                            + ipmisession.MAX_IDLE - random.random() * 4.9)}
        self.onlogon({'success': True})


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


def install_fixes():
    """Replace pyghmi's racy send (idempotent; call before any session)."""
    ipmisession._io_sendto = _sendto


def started():
    """Whether pyghmi's I/O thread runs (so there is anything to pump)."""
    return ipmisession.iothread is not None


def pump(timeout, wakeup):
    """Wait for packets, due retransmits or ``wakeup``; then run pyghmi.

    pyghmi's own ``Session.wait_for_rsp`` first checks for received packets
    and then registers its sleeper with pyghmi's I/O thread; packets the
    I/O thread queues between the two are left waiting for the whole
    timeout (seen: healthy BMCs "not answering" for 5 s under load), and
    no other thread can interrupt the sleep. Here the sleeper is
    ``wakeup``, registered *before* the check, so a packet queued at any
    moment, or a caller setting ``wakeup``, ends the wait; then one
    non-blocking pyghmi iteration handles what arrived, retransmits and
    keepalives.
    """
    now = ipmisession._monotonic_time()
    timeout = min(timeout, _next_pyghmi_deadline(now) - now)
    if timeout > 0 and not wakeup.is_set():
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
