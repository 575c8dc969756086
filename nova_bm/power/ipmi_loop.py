"""One thread per process that owns every IPMI conversation.

Why a loop and not one pyghmi ``Command`` per thread: pyghmi keeps all its
sessions in process-wide tables and moves their packets from whichever
thread calls ``Session.wait_for_rsp``. Used synchronously from many threads
it contends (measured with 200 fake BMCs: 8 threads slower than one, and
healthy BMCs timing out behind another one's failed logon), and it gives up
on a dead BMC only after 5 to 28 s. Here a single thread drives every
session through pyghmi's callback API, enforces our own deadline on every
call, and keeps a breaker per BMC. Callers, native threads or eventlet green
threads alike, submit a :class:`~nova_bm.power.ipmi_messages.Request` and
wait on a ``concurrent.futures.Future``.

Guarantees a caller may rely on:

* every future is resolved: with the parsed result, or with a
  :class:`nova_bm.exception.BmcError` once its deadline has passed;
* one conversation per BMC at a time, at most ``parallelism`` BMCs at once;
  a slow or dead BMC holds only its own slot;
* sessions are kept and reused between calls; a session the BMC dropped is
  logged on again, within the same call;
* one BMC's packets cannot stall the others: a packet that makes pyghmi
  or a handler raise ends that BMC's session and fails its call alone
  (logged once for the session, see
  :class:`~nova_bm.power.ipmi_session.AsyncSession`), and the packets
  the session still gets are dropped unread; nothing a BMC sends raises
  into the loop;
* an unexpected error in the loop (a bug) is logged with its traceback
  at most once every ``_ERROR_LOG_INTERVAL`` seconds, those in between
  counted: a peer that triggers one at every packet costs no more than
  the error itself.
"""

import collections
import concurrent.futures
import functools
import heapq
import itertools
import threading
import time

from oslo_log import log as logging
from pyghmi import exceptions as pyghmi_exc

from nova_bm import exception
from nova_bm.common import log_throttle
from nova_bm.power import breaker as breaker_mod
from nova_bm.power import ipmi_messages
from nova_bm.power import ipmi_session

LOG = logging.getLogger(__name__)

# How long the loop sleeps at most when nothing is due: a safety net for a
# lost wake-up, and the pace of pyghmi's keepalives.
_IDLE_WAIT = 1.0
# Re-check soon when a session was busy with a keepalive.
_BUSY_WAIT = 0.01
# pyghmi reports that it gave up on a packet with this code.
_PYGHMI_TIMEOUT_CODE = 0xffff
# A BMC that reset forgets our session and ignores its packets, however
# often they are sent again. When a command sent on an established session
# has had no answer for this fraction of the call's timeout, the session is
# taken for forgotten and we log on again, once per call. The silence is
# counted from the command's first packet, not from the start of the call:
# a slow BMC's logon may take most of the timeout, and is not silence.
_RELOGON_AFTER = 0.5
# Sessions unused this long are logged out (checked every interval).
_SESSION_IDLE = 600.0
_IDLE_CHECK_INTERVAL = 60.0
# Words in pyghmi's logon errors that mean "credentials refused".
_AUTH_WORDS = ('password', 'nauthorized', 'RAKP', 'privilege', 'Kg')
# Unexpected errors are logged with their traceback at most this often.
_ERROR_LOG_INTERVAL = 60.0


class BmcTarget:
    """Address and credentials of one BMC; the password never prints."""

    __slots__ = ('address', 'port', 'username', 'password')

    def __init__(self, address, port, username, password):
        self.address = address
        self.port = int(port)
        self.username = username
        self.password = password

    @property
    def key(self):
        return (self.address, self.port, self.username, self.password)

    @property
    def label(self):
        return '%s:%d' % (self.address, self.port)

    def __repr__(self):
        return '<BmcTarget %s user %s>' % (self.label, self.username)


class _Call:
    """One request to one BMC, from submission to its future's result."""

    def __init__(self, target, request, timeout, retries, retry_interval):
        self.target = target
        self.request = request
        self.timeout = timeout
        self.retries = retries
        self.retry_interval = retry_interval
        self.future = concurrent.futures.Future()
        self.step = 0
        self.responses = []
        self.attempt = 0
        self.relogons = 0
        self.deadline = None
        # When a silent established session is given up for a new logon.
        self.relogon_at = None

    @property
    def command(self):
        return self.request.commands[self.step]


class _Connection:
    """Our side of one BMC: its session, its queue of calls, its breaker."""

    def __init__(self, target, breaker):
        self.target = target
        self.breaker = breaker
        self.session = None
        self.logged_on = False
        # Bumped whenever the session is replaced, so that late pyghmi
        # callbacks of an abandoned session are recognised and ignored.
        self.generation = 0
        self.queue = collections.deque()
        self.call = None
        self.waiting = False      # in the loop's queue for a slot
        self.last_used = 0.0


class IpmiLoop:
    """The IPMI loop of this process; see the module docstring."""

    def __init__(self, parallelism, breaker_threshold, breaker_cooldown,
                 clock=time.monotonic, cipher_suite=17):
        self.parallelism = parallelism
        self._session_class = type('AsyncSession', (
            ipmi_session.AsyncSession,), {'first_cipher_suite': cipher_suite})
        self._breaker_threshold = breaker_threshold
        self._breaker_cooldown = breaker_cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._incoming = collections.deque()
        self._wakeup = ipmi_session.Waker()
        self._stopping = False
        self._thread = None
        # Everything below is touched by the loop thread only.
        self._connections = {}
        self._waiting = collections.deque()   # connections wanting a slot
        self._active = set()                  # connections holding a slot
        self._events = collections.deque()    # pyghmi callbacks, deferred
        self._busy = []                       # sessions busy with keepalive
        self._backoff = []              # heap of (due, seq, conn, call)
        self._seq = itertools.count()
        self._next_idle_check = 0.0
        # Work for other users of the loop thread (the consoles' SOL
        # sessions): functions to run soon (from any thread), and timers.
        self._soon = collections.deque()
        self._timers = []                     # heap of (due, seq, function)
        # Unexpected errors: logged at most once per interval.
        self._error_log = log_throttle.Throttle(_ERROR_LOG_INTERVAL)

    # -- callers' side (any thread) -----------------------------------

    def submit(self, target, request, timeout, retries=0,
               retry_interval=0.5):
        """Queue ``request`` for ``target``; return its future."""
        return self.submit_many([(target, request)], timeout, retries,
                                retry_interval)[0]

    def submit_many(self, work, timeout, retries=0, retry_interval=0.5):
        """Queue ``(target, request)`` pairs at once; return their futures.

        One lock and one wake-up for the whole batch, so a sweep over
        thousands of BMCs starts at once.
        """
        calls = [_Call(target, request, timeout, retries, retry_interval)
                 for target, request in work]
        with self._lock:
            self._start()
            self._incoming.extend(calls)
        self._wake()
        return [call.future for call in calls]

    def call_soon(self, function, *args):
        """Run ``function(*args)`` on the loop thread, soon (any thread).

        For the other conversations pyghmi must have on this thread (SOL
        sessions): they share its sockets and its sessions' tables.
        """
        with self._lock:
            self._start()
            self._soon.append(functools.partial(function, *args))
        self._wake()

    def call_later(self, delay, function, *args):
        """Run ``function(*args)`` on the loop thread after ``delay``
        seconds. Only from the loop thread (use :meth:`call_soon` to get
        there)."""
        heapq.heappush(self._timers, (self._clock() + delay,
                                      next(self._seq),
                                      functools.partial(function, *args)))

    def new_session(self, target, onlogon, separate=False, on_failure=None):
        """An :class:`ipmi_session.AsyncSession` to ``target``, set up as
        the loop's own (cipher suite); on the loop thread only.

        ``on_failure(reason)`` is called once if the session stops taking
        the BMC's packets (one made pyghmi or a callback raise): from
        inside pyghmi's packet handling, so it must only note it.

        pyghmi hands out the session it already has with the same BMC and
        credentials instead of a new one. ``separate`` gets a session of
        its own (for SOL, whose life must not end the power calls' session
        or be ended by it): the same credentials with the BMC key Kg given
        as the password, which is what RMCP+ uses when no Kg is set (IPMI
        2.0 §13.31), so the BMC sees the same logon; pyghmi tells the two
        apart by the Kg it was given.
        """
        password = target.password.encode('utf-8')
        session = self._session_class(
            target.address, target.username.encode('utf-8'), password,
            port=target.port, onlogon=onlogon, keepalive=True,
            kg=password if separate else None)
        session.on_failure = on_failure
        return session

    def _start(self):
        # Under self._lock.
        if self._stopping:
            raise RuntimeError('the IPMI loop is closed')
        if self._thread is None:
            ipmi_session.install_fixes()
            self._thread = threading.Thread(
                target=self._run, name='nova-bm-ipmi', daemon=True)
            self._thread.start()

    def close(self, timeout=10):
        """Close every session (politely) and stop the loop thread."""
        with self._lock:
            self._stopping = True
            thread = self._thread
        self._wake()
        if thread is not None:
            thread.join(timeout)
            if not thread.is_alive():
                self._wakeup.close()

    def _wake(self):
        self._wakeup.set()

    # -- the loop thread ----------------------------------------------

    def _run(self):
        while True:
            self._wakeup.clear()
            with self._lock:
                incoming = list(self._incoming)
                self._incoming.clear()
                stopping = self._stopping
            try:
                if stopping:
                    self._shut_down(incoming)
                    return
                self._iterate(incoming)
                wait = self._next_wait()
                if ipmi_session.started():
                    ipmi_session.pump(wait, self._wakeup)
                else:
                    self._wakeup.wait(wait)
            except Exception as e:
                # Never let one surprise from pyghmi kill the loop: every
                # caller of this process would then wait forever.
                self._unexpected_error(e)
                time.sleep(_BUSY_WAIT)

    def _unexpected_error(self, error):
        """Log ``error`` (its text escaped: a BMC's bytes may be in it),
        or only count it: one every ``_ERROR_LOG_INTERVAL`` seconds."""
        unlogged = self._error_log.admit('error', self._clock())
        if unlogged is None:
            return
        LOG.error('Unexpected error in the IPMI loop: %(error)s (%(unlogged)d '
                  'more since the last one logged; the next is logged in '
                  '%(interval)d s at the earliest)\n%(frames)s',
                  {'error': ipmi_session.describe_error(error),
                   'unlogged': unlogged, 'interval': _ERROR_LOG_INTERVAL,
                   'frames': ipmi_session.error_frames(error)})

    def _guarded(self, function):
        """Run work of the loop's users (SOL sessions): its error is its
        own, the work queued after it still runs."""
        try:
            function()
        except Exception as e:
            self._unexpected_error(e)

    def _iterate(self, incoming):
        now = self._clock()
        for call in incoming:
            self._accept(call)
        while self._events:
            self._events.popleft()()
        while self._soon:
            self._guarded(self._soon.popleft())
        while self._timers and self._timers[0][0] <= now:
            self._guarded(heapq.heappop(self._timers)[2])
        busy, self._busy = self._busy, []
        for conn in busy:
            self._send(conn)
        while self._backoff and self._backoff[0][0] <= now:
            _, _, conn, call = heapq.heappop(self._backoff)
            if conn.call is not call:
                continue   # ended meanwhile (its session failed)
            call.deadline = now + call.timeout
            self._send(conn)
        self._expire(now)
        if now >= self._next_idle_check:
            self._close_idle_sessions(now)
        while self._waiting and len(self._active) < self.parallelism:
            conn = self._waiting.popleft()
            conn.waiting = False
            self._active.add(conn)
            self._start_next(conn)

    def _next_wait(self):
        now = self._clock()
        if self._events or self._busy or self._soon or (
                self._waiting and len(self._active) < self.parallelism):
            return _BUSY_WAIT if self._busy else 0
        wait = _IDLE_WAIT
        for conn in self._active:
            call = conn.call
            if call is not None and call.deadline is not None:
                wait = min(wait, call.deadline - now)
                if conn.logged_on and not call.relogons:
                    wait = min(wait, call.relogon_at - now)
        if self._backoff:
            wait = min(wait, self._backoff[0][0] - now)
        if self._timers:
            wait = min(wait, self._timers[0][0] - now)
        return max(0.0, wait)

    def _accept(self, call):
        conn = self._connections.get(call.target.key)
        if conn is None:
            conn = _Connection(call.target, breaker_mod.Breaker(
                self._breaker_threshold, self._breaker_cooldown,
                self._clock))
            self._connections[call.target.key] = conn
        if not call.future.set_running_or_notify_cancel():
            return
        conn.queue.append(call)
        if conn not in self._active and not conn.waiting:
            conn.waiting = True
            self._waiting.append(conn)

    def _start_next(self, conn):
        """Start the connection's next call, or give its slot back."""
        while conn.queue:
            call = conn.queue.popleft()
            if not conn.breaker.allow():
                call.future.set_exception(self._breaker_error(conn))
                continue
            call.deadline = self._clock() + call.timeout
            conn.call = call
            self._send(conn)
            return
        conn.call = None
        conn.last_used = self._clock()
        self._active.discard(conn)

    def _send(self, conn):
        """Send the current call's next command, logging on if needed."""
        call = conn.call
        session = conn.session
        if session is None or session.broken:
            self._log_on(conn)
            return
        if ipmi_session.is_busy(session):
            self._busy.append(conn)
            return
        command = call.command
        call.relogon_at = self._clock() + call.timeout * _RELOGON_AFTER
        try:
            if command.privilege > session.privilege:
                session.raise_privilege(
                    self._deferred(conn, self._on_privilege))
            else:
                session.raw_command(
                    command.netfn, command.command, data=command.data,
                    callback=self._deferred(conn, self._on_response,
                                            ends_command=True))
        except pyghmi_exc.IpmiException as e:
            # The BMC dropped the session since we last used it.
            self._drop_session(conn)
            if call.relogons >= 1:
                self._finish(conn, error=exception.BmcUnreachable(
                    bmc=conn.target.label, reason=str(e)))
                return
            call.relogons += 1
            self._log_on(conn)

    def _log_on(self, conn):
        self._drop_session(conn)
        target = conn.target
        try:
            conn.session = self.new_session(
                target, self._deferred(conn, self._on_logon),
                on_failure=self._deferred(conn, self._on_failure))
        except (pyghmi_exc.IpmiException, OSError) as e:
            conn.session = None
            self._finish(conn, error=exception.BmcUnreachable(
                bmc=target.label, reason=str(e)), whole_queue=True)

    def _deferred(self, conn, handler, ends_command=False):
        """A pyghmi callback that only records; the loop acts on it later.

        pyghmi calls back from deep inside its packet handling (and calls
        logon waiters before it marks a failed session broken), so starting
        new work from a callback would race pyghmi's own bookkeeping.
        """
        generation = conn.generation

        def callback(response):
            if generation != conn.generation:
                return   # from a session we abandoned
            if ends_command and conn.session is not None:
                ipmi_session.end_command(conn.session)
            self._events.append(functools.partial(
                self._handle, handler, conn, generation, response))
        return callback

    def _handle(self, handler, conn, generation, response):
        """Run a handler of a BMC's answer; one that raises (a bug met
        by this answer) ends that BMC's session and call, not the loop's
        iteration."""
        try:
            handler(conn, generation, response)
        except Exception as e:
            self._unexpected_error(e)
            self._on_failure(conn, generation,
                             'unexpected error: %s' % type(e).__name__)

    def _on_failure(self, conn, generation, reason):
        """The session stopped taking the BMC's packets (or its handling
        raised): drop it, and fail the call it was serving. Once per
        session: its later packets are dropped unread."""
        if generation != conn.generation:
            return
        LOG.warning('IPMI session with %(bmc)s dropped: %(reason)s',
                    {'bmc': conn.target.label, 'reason': reason})
        self._drop_session(conn)
        if conn.call is not None:
            self._finish(conn, error=exception.BmcError(
                bmc=conn.target.label, reason=reason))

    def _on_logon(self, conn, generation, response):
        if generation != conn.generation or conn.call is None:
            return
        if 'error' not in response:
            conn.logged_on = True
            self._send(conn)
            return
        self._drop_session(conn)
        reason = str(response['error'])
        if any(word in reason for word in _AUTH_WORDS):
            error = exception.BmcAuthFailed(bmc=conn.target.label,
                                            reason=reason)
        else:
            error = exception.BmcUnreachable(
                bmc=conn.target.label, reason='logon failed: %s' % reason)
        self._finish(conn, error=error, whole_queue=True)

    def _on_privilege(self, conn, generation, response):
        """The session was raised for a command that changes the machine.

        Or asked to ask again at a lower level: either way ``_send`` goes
        on from the session's privilege.
        """
        if generation != conn.generation or conn.call is None:
            return
        if 'error' not in response:
            self._send(conn)
            return
        if response.get('code') == _PYGHMI_TIMEOUT_CODE:
            self._drop_session(conn)
            self._finish(conn, error=self._timeout_error(conn))
            return
        # The account may read but not control: only this call fails, a
        # read queued behind it can still be answered.
        self._finish(conn, error=exception.BmcAuthFailed(
            bmc=conn.target.label, reason=str(response['error'])))

    def _on_response(self, conn, generation, response):
        if generation != conn.generation or conn.call is None:
            return
        call = conn.call
        command = call.command
        code = response.get('code', 0)
        if code == _PYGHMI_TIMEOUT_CODE:
            self._drop_session(conn)
            self._finish(conn, error=self._timeout_error(conn))
            return
        if code:
            if (code in ipmi_messages.RETRYABLE_CODES
                    and call.attempt < call.retries):
                call.attempt += 1
                call.deadline = None
                due = self._clock() + call.retry_interval * 2 ** (
                    call.attempt - 1)
                heapq.heappush(self._backoff,
                               (due, next(self._seq), conn, call))
                return
            self._finish(conn, error=exception.BmcCommandRefused(
                bmc=conn.target.label, command=command.name,
                reason=ipmi_messages.describe_code(code)))
            return
        call.responses.append(bytearray(response.get('data', b'')))
        call.step += 1
        if call.step < len(call.request.commands):
            self._send(conn)
            return
        try:
            result = call.request.parse(call.responses)
        except (IndexError, KeyError, ValueError) as e:
            self._finish(conn, error=exception.BmcCommandRefused(
                bmc=conn.target.label, command=command.name,
                reason='malformed response (%s)' % e))
            return
        self._finish(conn, result=result)

    def _expire(self, now):
        for conn in list(self._active):
            call = conn.call
            if call is None or call.deadline is None:
                continue
            if (now < call.deadline and conn.logged_on
                    and not call.relogons and now >= call.relogon_at):
                LOG.debug('%s is silent on an established session; '
                          'logging on again', conn.target.label)
                call.relogons += 1
                self._log_on(conn)
                continue
            if now < call.deadline:
                continue
            logged_on = conn.logged_on
            error = self._timeout_error(conn)
            self._drop_session(conn)
            # Calls queued behind a logon that never got an answer would
            # only wait for the same silence.
            self._finish(conn, error=error, whole_queue=not logged_on)

    def _close_idle_sessions(self, now):
        """Log out of BMCs not used for a while.

        BMCs have few session slots (often 4 to 16, shared with every other
        tool), and credentials change: a session nobody used for
        ``_SESSION_IDLE`` seconds is closed; the next call logs on again.
        """
        self._next_idle_check = now + _IDLE_CHECK_INTERVAL
        for key, conn in list(self._connections.items()):
            if (conn.call is None and not conn.queue and not conn.waiting
                    and now - conn.last_used > _SESSION_IDLE):
                self._drop_session(conn)
                if not conn.breaker.is_open:
                    del self._connections[key]

    def _timeout_error(self, conn):
        call = conn.call
        if not conn.logged_on and not call.relogons:
            return exception.BmcUnreachable(
                bmc=conn.target.label,
                reason='no answer to the session logon within %s s'
                % call.timeout)
        return exception.BmcTimeout(bmc=conn.target.label,
                                    command=call.command.name,
                                    timeout=call.timeout)

    def _breaker_error(self, conn):
        breaker = conn.breaker
        return exception.BmcBreakerOpen(
            bmc=conn.target.label, failures=breaker.failures,
            reason=breaker.last_error, remaining=round(breaker.remaining()))

    def _finish(self, conn, result=None, error=None, whole_queue=False):
        """Resolve the current call; then start the connection's next."""
        call = conn.call
        conn.call = None
        if error is None:
            conn.breaker.success()
            call.future.set_result(result)
        else:
            LOG.debug('IPMI %(request)s to %(bmc)s failed: %(error)s',
                      {'request': call.request.name,
                       'bmc': conn.target.label, 'error': error})
            if error.counts_against_bmc:
                conn.breaker.failure(str(error))
            else:
                conn.breaker.success()
            call.future.set_exception(error)
            if whole_queue:
                while conn.queue:
                    conn.queue.popleft().future.set_exception(error)
        self._start_next(conn)

    def _drop_session(self, conn):
        session, conn.session = conn.session, None
        conn.logged_on = False
        conn.generation += 1
        if session is not None and not session.broken:
            try:
                ipmi_session.abandon(session)
            except Exception:
                LOG.debug('Ignoring an error closing the session with %s',
                          conn.target.label, exc_info=True)

    def _shut_down(self, incoming):
        # Work handed to the loop before it closed (SOL sessions stopping).
        while self._soon:
            try:
                self._soon.popleft()()
            except Exception:
                LOG.exception('Unexpected error closing the IPMI loop')
        error = exception.BmcUnreachable(bmc='(any)',
                                         reason='the IPMI loop was closed')
        for call in incoming:
            if call.future.set_running_or_notify_cancel():
                call.future.set_exception(error)
        for conn in self._connections.values():
            self._drop_session(conn)
            calls = list(conn.queue) + ([conn.call] if conn.call else [])
            conn.queue.clear()
            conn.call = None
            for call in calls:
                call.future.set_exception(error)
        self._connections.clear()


_loop = None
_loop_lock = threading.Lock()


def get_loop():
    """The process's IPMI loop, created on first use from ``[baremetal]``.

    pyghmi's state is process-wide, so there is one loop per process.
    """
    global _loop
    from nova_bm.conf import CONF
    with _loop_lock:
        if _loop is None:
            group = CONF.baremetal
            _loop = IpmiLoop(group.ipmi_parallelism,
                             group.ipmi_breaker_threshold,
                             group.ipmi_breaker_cooldown,
                             cipher_suite=group.ipmi_cipher_suite)
        return _loop


def reset_loop():
    """Close the process's loop; the next ``get_loop()`` makes a new one.

    For tests and for tools that finish their work (``nova-bm-manage``
    logs out of every BMC before it exits).
    """
    global _loop
    with _loop_lock:
        loop, _loop = _loop, None
    if loop is not None:
        loop.close()
