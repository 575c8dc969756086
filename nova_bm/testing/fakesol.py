"""Serial-over-LAN for the fake BMC: a console ``ipmitool sol activate``
(and nova-bm) can open.

A BMC with a QEMU machine bridges SOL to the machine's serial port (its
``serial.sock``); a BMC without one has a small scripted console: it
prints a banner when SOL is activated, echoes what is typed and answers
each line with a login prompt, so a client can see both directions work.

Like a real BMC, one SOL session at a time (Activate Payload answers 0x80
while one is active), the payload deactivated by any session of the BMC
(``ipmitool sol deactivate``), and characters the machine prints while no
SOL session is active are lost. A hostile BMC is one fault away
(``Faults.sol_flood``): SOL packets sent unasked, of any size, as fast as
told, to whichever client holds SOL, and on to the last one after it has
left. The packets are
:class:`nova_bm.console.sol.SolChannel`'s; everything here runs on the BMC
worker's pump thread (:class:`ConsoleHub` hands it the machines' output).
"""

import collections
import socket
import struct
import threading
import time

from nova_bm.console import sol

_SOL = 1                       # payload type
_ALREADY_ACTIVE = 0x80         # Activate Payload completion codes
_DISABLED = 0x81
_INVALID_DATA = 0xcc
# Characters per SOL packet the fake accepts (plus the 4-byte header).
_INBOUND = sol.MAX_CHUNK + 4
_OUTBOUND = sol.MAX_CHUNK + 4
_CONNECT_TIMEOUT = 30.0
_FLOOD_TEXT = b'flood! '


class ConsoleHub:
    """Runs work for the BMCs' consoles on the worker's pump thread.

    Machine readers (one thread per running machine) and the control
    socket hand their work here; :meth:`run` does it and the SOL
    retransmissions that are due, and says how soon to come back.
    """

    def __init__(self, wakeup):
        self._wakeup = wakeup
        self._work = collections.deque()
        self.consoles = []

    def call(self, function, *args):
        """Run ``function(*args)`` on the pump thread (any thread)."""
        self._work.append((function, args))
        self._wakeup.set()

    def run(self):
        """Do the queued work and due retransmissions; :returns: seconds
        until a retransmission may be due (None: nothing pending)."""
        while self._work:
            function, args = self._work.popleft()
            function(*args)
        now = time.monotonic()
        wait = None
        for console in self.consoles:
            deadline = console.tick(now)
            if deadline is not None:
                wait = deadline - now if wait is None else min(
                    wait, deadline - now)
        return None if wait is None else max(0.0, wait)


class FakeConsole:
    """The SOL side of one fake BMC."""

    def __init__(self, bmc, hub):
        self.bmc = bmc
        self.hub = hub
        self.owner = None          # the server session that activated SOL
        self.channel = None
        self.activations = 0
        self.received = bytearray()   # what SOL clients typed, for tests
        self.flooded = 0           # flood packets sent (``sol_flood``)
        self._serial = None        # the machine's serial socket
        self._line = bytearray()
        self._flood_seq = 0
        self._flood_due = 0.0
        self._flood_target = None  # the last SOL client, once it has gone
        hub.consoles.append(self)

    # -- IPMI commands (pump thread) ------------------------------------

    def activate(self, request, session):
        data = request['data']
        if len(data) < 2 or data[0] != _SOL or data[1] != 1:
            return session.send_ipmi_response(code=_INVALID_DATA)
        if self.bmc.faults.sol_disabled:
            return session.send_ipmi_response(code=_DISABLED)
        if self.owner is not None:
            return session.send_ipmi_response(code=_ALREADY_ACTIVE)
        self.owner = session
        self.activations += 1
        self.channel = sol.SolChannel(remote_is_bmc=False)
        session.sol_handler = self._from_owner(session)
        session.send_ipmi_response(data=(
            [0, 0, 0, 0] + list(struct.pack('<HHH', _INBOUND, _OUTBOUND,
                                           self.bmc.port)) + [0xff, 0xff]))
        if self.bmc.machine is None:
            self._print(b'\r\nnova-bm fake BMC %d: serial console\r\n'
                        % self.bmc.port)

    def deactivate(self, request, session):
        data = request['data']
        if len(data) < 2 or data[0] != _SOL:
            return session.send_ipmi_response(code=_INVALID_DATA)
        if self.owner is None:
            return session.send_ipmi_response(code=_ALREADY_ACTIVE)
        owner = self.owner
        self.drop()
        if owner is not session:
            # Tell the session that loses SOL (as BMCs do).
            self._send(owner, [bytes((0, 0, 0, sol.DEACTIVATING))])
        session.send_ipmi_response()

    def instance_info(self, request, session):
        """Get Payload Instance Info: which session holds SOL."""
        owner = 0 if self.owner is None else self.owner.localsid
        session.send_ipmi_response(data=list(struct.pack('<I', owner))
                                   + [0] * 8)

    def activation_status(self, request, session):
        active = 0 if self.owner is None else 1
        session.send_ipmi_response(data=[1, active, 0])

    def drop(self):
        """Forget the SOL session without telling its client (as a BMC
        that reset, or lost it, does)."""
        if self.owner is not None:
            self.owner.sol_handler = None
            # A flood does not stop at a goodbye (see _flood).
            self._flood_target = self.owner
        self.owner = None
        self.channel = None

    # -- packets (pump thread) --------------------------------------------

    def _from_owner(self, session):
        def handle(payload):
            if session is not self.owner or isinstance(payload, dict):
                return
            characters, packets = self.channel.receive(
                bytearray(payload), time.monotonic())
            if self.channel.violation is not None:
                # What a BMC may do with a client that breaks SOL.
                self.drop()
                return
            self._send(session, packets)
            if characters:
                self.received += characters
                self._typed(characters)
        return handle

    def _send(self, session, packets):
        for packet in packets:
            try:
                session.send_payload(bytearray(packet), payload_type=_SOL,
                                     retry=False)
            except Exception:   # a session that closed meanwhile
                self.drop()
                return

    def tick(self, now):
        flood_due = self._flood(now)
        if self.channel is not None:
            self._send(self.owner, self.channel.due(now))
        if self.channel is not None and self.channel.lost:
            # The client stopped acknowledging: it is gone.
            self.drop()
        due = [deadline for deadline in (
            None if self.channel is None else self.channel.next_deadline(),
            flood_due) if deadline is not None]
        return min(due) if due else None

    def flood_changed(self):
        """``Faults.sol_flood`` changed: the next flood packet goes now."""
        self._flood_due = 0.0

    def _flood(self, now):
        """The ``sol_flood`` fault: a packet of N characters every P
        seconds to the SOL client, numbered but not waiting for any
        acknowledgement, N not bounded by the 255 a packet can carry; and
        to the last one still when it has gone (ended SOL, or its
        session), as long as its session's keys can sign a packet.

        :returns: when the next one is due (None: no flood).
        """
        flood = self.bmc.faults.sol_flood
        target = self.owner if self.owner is not None else (
            self._flood_target)
        if not flood or target is None:
            return None
        characters, interval = flood
        if now >= self._flood_due:
            self._flood_seq = self._flood_seq % 15 + 1
            self._flood_due = now + interval
            text = _FLOOD_TEXT * (characters // len(_FLOOD_TEXT) + 1)
            try:
                target.send_payload(
                    bytearray((self._flood_seq, 0, 0, 0)) + text[:characters],
                    payload_type=_SOL, retry=False)
            except Exception:   # that session cannot send any more
                if target is self._flood_target:
                    self._flood_target = None
                return None
            self.flooded += 1
        return self._flood_due

    def _print(self, characters):
        """Characters the machine (or the script) prints."""
        if self.channel is not None:
            self._send(self.owner, self.channel.write(characters,
                                                      time.monotonic()))

    def _typed(self, characters):
        if self.bmc.machine is not None:
            if self._serial is not None:
                try:
                    self._serial.sendall(characters)
                except OSError:
                    pass   # the machine went off meanwhile
            return
        # The scripted console: echo, and a prompt for each line.
        for char in characters:
            if char in (0x0d, 0x0a):
                self._print(b'\r\nfake-%d login: ' % self.bmc.port)
                self._line.clear()
            else:
                self._line.append(char)
                self._print(bytes((char,)))

    # -- the machine's serial port ----------------------------------------

    def machine_started(self):
        """Connect to the machine's serial port (QEMU waits for us)."""
        threading.Thread(target=self._read_machine, daemon=True,
                         name='console %d' % self.bmc.port).start()

    def _read_machine(self):
        machine = self.bmc.machine
        path = machine.serial_socket
        deadline = time.monotonic() + _CONNECT_TIMEOUT
        serial = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while True:
            try:
                serial.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline or not machine.is_on():
                    serial.close()
                    return
                time.sleep(0.005)
        self.hub.call(setattr, self, '_serial', serial)
        with serial:
            while True:
                try:
                    data = serial.recv(4096)
                except OSError:
                    data = b''
                if not data:
                    break
                self.hub.call(self._print, data)
        self.hub.call(self._serial_closed, serial)

    def _serial_closed(self, serial):
        if self._serial is serial:
            self._serial = None
