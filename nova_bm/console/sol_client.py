"""One node's Serial-over-LAN session, driven by the IPMI loop thread.

pyghmi must be driven from one thread (sending SOL data from another one
deadlocked when tried), and pyghmi's own ``Console`` waits for each
acknowledgement inside its send, which would stall every BMC conversation
of the process behind one slow console. So the session here is the power
layer's: an :class:`~nova_bm.power.ipmi_session.AsyncSession` run by the
:class:`~nova_bm.power.ipmi_loop.IpmiLoop` thread, every step a callback
or a timer of that loop, and the SOL packets are
:class:`~nova_bm.console.sol.SolChannel`'s.

What a caller may rely on:

* :meth:`SolClient.start`, :meth:`write` and :meth:`stop` may be called
  from any thread; ``on_output(bytes)`` is called on the loop thread, with
  the console's characters in order, each once: it must not block;
* activation deactivates a stale SOL payload first (a BMC allows one SOL
  session and keeps a dead one, for instance ours from before a restart
  of nova-compute);
* a session the BMC drops (SOL deactivated, taken over, the BMC reset,
  packets no longer acknowledged) is noticed within ``check_interval``
  plus ``timeout`` and opened again, after 1 s, then 2, 4 ... up to
  ``MAX_BACKOFF`` while it keeps failing; a session counts as working
  once the BMC has answered its first SOL check, and until then its
  failure is one more of the same streak;
* a BMC that breaks the SOL protocol (a packet no SOL packet can be: see
  :mod:`nova_bm.console.sol`), or sends a packet pyghmi or this module
  cannot handle, fails this console alone, at its first such packet: the
  session is ended and opened again as above, and the packets it still
  sends cost a check and nothing more; no such packet raises into the
  IPMI loop;
* a failure is logged once, not again while the console keeps failing
  for the same reason (reopened or not);
* characters typed while the session is not active are dropped (a
  serial line has no buffer for a disconnected terminal either);
* the BMC password never appears in a message or a log.
"""

import struct
import threading
import time

from oslo_log import log as logging

from nova_bm.console import sol
from nova_bm.power import ipmi_session

LOG = logging.getLogger(__name__)

_APP = 0x06
_ACTIVATE_PAYLOAD = 0x48
_DEACTIVATE_PAYLOAD = 0x49
_PAYLOAD_INSTANCE_INFO = 0x4b
# Payload type SOL, instance 1; encrypted and authenticated, serial
# alerts deferred while SOL is active, the BMC not asserting CTS: what
# ipmitool asks for (IPMI 2.0 table 24-2, auxiliary data byte 1).
_SOL_INSTANCE = (1, 1)
_ACTIVATE_DATA = (1, 1, 0x80 | 0x40 | 0x04 | 0x02, 0, 0, 0)
_DEACTIVATE_DATA = (1, 1, 0, 0, 0, 0)
_ACTIVATE_ERRORS = {
    0x80: 'SOL is active for another session',
    0x81: 'SOL is disabled on this BMC',
    0x82: "the BMC's SOL session limit is reached",
    0x83: 'the BMC cannot encrypt SOL',
    0x84: 'the BMC requires SOL without encryption',
}
MAX_BACKOFF = 30.0
#: Seconds between two checks that the BMC still gives SOL to us.
CHECK_INTERVAL = 15.0
_BUSY_RETRY = 0.01

CONNECTING, ACTIVE, WAITING, STOPPED = (
    'connecting', 'active', 'waiting', 'stopped')


class SolClient:
    """The SOL session of one node; see the module docstring."""

    def __init__(self, loop, target, on_output, timeout=10.0,
                 check_interval=None, name=None):
        self.loop = loop
        self.target = target
        #: How log lines name the console: the node, and its BMC.
        self.label = ('node %s (BMC %s)' % (name, target.label) if name
                      else 'BMC %s' % target.label)
        self.on_output = on_output
        self.timeout = timeout
        self.check_interval = check_interval or CHECK_INTERVAL
        self.state = STOPPED
        #: Why the last session ended or failed (None while it works).
        self.last_error = None
        #: Sessions activated, the first included.
        self.activations = 0
        self.active = threading.Event()
        #: Set once the first attempt has ended, active or failed.
        self.settled = threading.Event()
        # Loop thread only.
        self._session = None
        self._channel = None
        self._generation = 0
        self._backoff = 1.0
        self._logged_error = None     # logged, and failing since
        self._output_failed = False   # on_output raised in this session
        self._retransmit_due = None
        self._checks = 0              # SOL checks answered

    # -- any thread -------------------------------------------------------

    def start(self):
        self.loop.call_soon(self._open)

    def write(self, data):
        try:
            self.loop.call_soon(self._write, bytes(data))
        except RuntimeError:
            pass   # the loop is closed: nothing can be sent anyway

    def stop(self):
        try:
            self.loop.call_soon(self._stop)
        except RuntimeError:
            pass

    # -- the loop thread ----------------------------------------------------

    def _callback(self, handler, ends_command=False):
        """A pyghmi callback that hands ``handler`` to the loop, for the
        current session only (pyghmi loses the answer to a request sent
        from inside one of its callbacks)."""
        generation = self._generation
        session = self._session

        def callback(response):
            if ends_command and session is not None:
                ipmi_session.end_command(session)
            self.loop.call_soon(self._if_current, generation, handler,
                                response)
        return callback

    def _if_current(self, generation, handler, *args):
        if generation == self._generation and self.state != STOPPED:
            try:
                handler(*args)
            except Exception as e:   # never leave a console half-open
                # Once a session (it ends here); the text escaped, as it
                # may hold the BMC's bytes.
                LOG.error('SOL of %s failed unexpectedly\n%s', self.label,
                          ipmi_session.error_frames(e))
                self._failed('unexpected error: %s'
                             % ipmi_session.describe_error(e))

    def _later(self, delay, handler, *args):
        self.loop.call_later(delay, self._if_current, self._generation,
                             handler, *args)

    def _open(self):
        if self.state in (CONNECTING, ACTIVE):
            return
        self._generation += 1
        self.state = CONNECTING
        try:
            # A session of its own: the power calls' session is closed
            # and opened again on its own schedule.
            self._session = self.loop.new_session(
                self.target, self._callback(self._logged_on), separate=True,
                on_failure=self._callback(self._failed))
        except Exception as e:
            self._failed('cannot open a session: %s' % e)
            return
        self._later(self.timeout, self._connect_deadline)

    def _connect_deadline(self):
        if self.state == CONNECTING:
            self._failed('SOL was not active within %s s' % self.timeout)

    def _logged_on(self, response):
        if 'error' in response:
            self._failed('logon failed: %s' % response['error'])
            return
        self._session.raise_privilege(self._callback(self._raised))

    def _raised(self, response):
        if 'again' in response:
            self._session.raise_privilege(self._callback(self._raised))
        elif 'error' in response:
            self._failed(str(response['error']))
        else:
            # A stale SOL payload (ours, from before a restart, or a
            # client that died) would refuse the activation: end it.
            self._command(_DEACTIVATE_PAYLOAD, _DEACTIVATE_DATA,
                          self._deactivated)

    def _command(self, command, data, handler):
        session = self._session
        if ipmi_session.is_busy(session):
            # pyghmi's keepalive is in flight: come back in a moment.
            self._later(_BUSY_RETRY, self._command, command, data, handler)
            return
        try:
            session.raw_command(_APP, command, data=data,
                                callback=self._callback(handler, True))
        except Exception as e:
            self._failed('the session ended: %s' % e)

    def _deactivated(self, response):
        # "Not active" (0x80) is the usual answer; any answer will do.
        self._command(_ACTIVATE_PAYLOAD, _ACTIVATE_DATA, self._activated)

    def _activated(self, response):
        code = response.get('code', 0)
        if code or 'error' in response:
            self._failed(_ACTIVATE_ERRORS.get(code) or 'activation failed: '
                         '%s' % (response.get('error') or hex(code)))
            return
        data = response.get('data', b'')
        inbound = (struct.unpack('<H', bytes(data[4:6]))[0]
                   if len(data) >= 6 else 0)
        # What the BMC accepts per packet, header included; some BMCs
        # give the size of the characters alone, which is then safe too.
        chunk = inbound - 4 if inbound > 4 else sol.MAX_CHUNK
        self._channel = sol.SolChannel(remote_is_bmc=True, chunk=chunk)
        self._session.sol_handler = self._from_bmc(self._generation)
        self.state = ACTIVE
        self.activations += 1
        self.last_error = None
        self._output_failed = False
        self.active.set()
        self.settled.set()
        LOG.info('Serial console of %s (SOL) active', self.label)
        self._later(self.check_interval, self._check)

    def _from_bmc(self, generation):
        # Called by pyghmi on the loop thread, for each SOL packet, from
        # inside its handling of the session: the session is only ended
        # (``_fail_soon``) once pyghmi is done with it.
        def handle(payload):
            if generation != self._generation or self.state != ACTIVE:
                return
            if isinstance(payload, dict):
                self._fail_soon(str(payload.get('error', payload)))
                return
            channel = self._channel
            characters, packets = channel.receive(payload, time.monotonic())
            if channel.violation is not None:
                # Not one more packet of this session reaches us.
                self._session.sol_handler = None
                self._fail_soon('the BMC broke the SOL protocol: %s'
                                % channel.violation)
                return
            self._send(packets)
            if characters:
                self._output(characters)
            if self._channel.deactivated:
                self._fail_soon('the BMC deactivated SOL')
        return handle

    def _fail_soon(self, reason):
        self.loop.call_soon(self._if_current, self._generation,
                            self._failed, reason)

    def _output(self, characters):
        try:
            self.on_output(characters)
        except Exception:
            # Once a session: the BMC may send hundreds of packets a second.
            if not self._output_failed:
                self._output_failed = True
                LOG.exception('The console of %s lost output (not logged '
                              'again for this session)', self.label)

    def _write(self, data):
        if self.state != ACTIVE:
            return
        self._send(self._channel.write(data, time.monotonic()))

    def _send(self, packets):
        for packet in packets:
            try:
                self._session.send_payload(bytearray(packet),
                                           payload_type=1, retry=False)
            except Exception as e:
                self._fail_soon('the session ended: %s' % e)
                return
        self._schedule_retransmit()

    def _schedule_retransmit(self):
        if self._channel is None or self.state != ACTIVE:
            return
        due = self._channel.next_deadline()
        if due is None or (self._retransmit_due is not None
                           and self._retransmit_due <= due):
            return
        self._retransmit_due = due
        self._later(max(0.0, due - time.monotonic()), self._retransmit)

    def _retransmit(self):
        self._retransmit_due = None
        if self.state != ACTIVE:
            return
        self._send(self._channel.due(time.monotonic()))
        if self._channel.lost:
            self._failed('the BMC stopped acknowledging SOL packets')

    def _check(self):
        """Ask the BMC who holds SOL: a BMC that dropped our payload (or
        gave it to another session) may not say so otherwise."""
        if self.state != ACTIVE:
            return
        self._command(_PAYLOAD_INSTANCE_INFO, _SOL_INSTANCE, self._checked)
        self._later(self.timeout, self._check_deadline, self.activations,
                    self._checks)

    def _check_deadline(self, activations, checks):
        if (self.state == ACTIVE and activations == self.activations
                and checks == self._checks):
            self._failed('no answer to the SOL check within %s s'
                         % self.timeout)

    def _checked(self, response):
        self._checks += 1
        code = response.get('code', 0)
        if code or 'error' in response:
            self._failed('the SOL check failed: %s'
                         % (response.get('error') or hex(code)))
            return
        data = bytes(response.get('data', b''))
        owner = struct.unpack('<I', data[:4])[0] if len(data) >= 4 else 0
        if owner != self._session.sessionid:
            self._failed('the BMC dropped SOL or gave it to another session')
            return
        # The session works: a failure from now on is news, and its
        # reopening starts from the shortest wait again.
        self._logged_error = None
        self._backoff = 1.0
        self._later(self.check_interval, self._check)

    def _failed(self, reason):
        """End this session; open a new one after the backoff."""
        if self.state == STOPPED:
            return
        if self._logged_error != reason:
            LOG.warning('Serial console of %s (SOL): %s; opening it again '
                        'in %d s', self.label, reason, self._backoff)
            self._logged_error = reason
        self.last_error = reason
        self.settled.set()
        self._close_session(deactivate=False)
        self.state = WAITING
        delay, self._backoff = self._backoff, min(MAX_BACKOFF,
                                                  self._backoff * 2)
        self.loop.call_later(delay, self._reopen, self._generation)

    def _reopen(self, generation):
        if generation == self._generation and self.state == WAITING:
            self._open()

    def _stop(self):
        self._close_session(deactivate=self.state == ACTIVE)
        self.state = STOPPED

    def _close_session(self, deactivate):
        session, self._session = self._session, None
        self._channel = None
        self._generation += 1
        self._retransmit_due = None
        self.active.clear()
        if session is None:
            return
        session.sol_handler = None
        if deactivate and not ipmi_session.is_busy(session):
            try:
                # Fire and forget: the next owner deactivates it anyway.
                session.raw_command(
                    _APP, _DEACTIVATE_PAYLOAD, data=_DEACTIVATE_DATA,
                    callback=lambda response: ipmi_session.end_command(
                        session))
            except Exception:
                LOG.debug('Could not deactivate SOL of %s', self.label,
                          exc_info=True)
        try:
            ipmi_session.abandon(session)
        except Exception:
            LOG.debug('Ignoring an error closing the SOL session of %s',
                      self.label, exc_info=True)
