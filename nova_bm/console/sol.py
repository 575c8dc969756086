"""The Serial-over-LAN payload protocol, without I/O (IPMI 2.0 §15).

Both ends of an SOL session speak the same packets: a client (nova-bm's
:mod:`nova_bm.console.sol_client`) and a BMC (the fake BMC). Each end sends
its characters in numbered packets, one packet in flight at a time, and
acknowledges the other end's packets. :class:`SolChannel` is that logic
alone: callers feed it the packets that arrive and the clock, and send
what it returns, so it is tested without sockets and shared by both ends.

SOL payload (table 15-2), four header bytes then the characters:

1. packet sequence number, 1-15 (0: the packet only acknowledges);
2. the sequence number it acknowledges (0: none);
3. how many characters of that packet were accepted;
4. operation/status: bit 6 NACK (the rest was not accepted: send it
   again later); from a BMC, bit 5 "character transfer unavailable" and
   bit 4 "SOL deactivating".

The other end may be anything that answers on its UDP port: a packet
that cannot be an SOL packet (shorter than its header, or with more
characters than a packet can carry, which one byte could not even
acknowledge) is a protocol violation. It ends the channel, never raises:
see :attr:`SolChannel.violation`.
"""

NACK = 0x40
TRANSFER_UNAVAILABLE = 0x20
DEACTIVATING = 0x10
# A packet carries at most this many characters (one byte counts them).
MAX_CHUNK = 255


class SolChannel:
    """One end of an SOL session: what to send, what was received.

    What a caller may rely on:

    * :meth:`write` queues characters; :meth:`receive` and :meth:`due`
      return the packets to send now (bytes, to be sent as SOL payloads,
      unreliably); characters leave in order, each at most once accepted;
    * a packet not acknowledged within ``rto`` seconds is sent again,
      unchanged; after ``max_tries`` sends :attr:`lost` is set (the other
      end is gone) and nothing more is sent;
    * :meth:`receive` returns the other end's new characters once each,
      however often a packet is repeated;
    * ``status`` is or'ed into every packet sent (a BMC's bits 5 and 4);
    * no packet makes :meth:`receive` raise: one that cannot be an SOL
      packet sets :attr:`violation`, and the channel is then finished
      (nothing more is received, sent or sent again); the work per packet
      is bounded by its size (at most ``MAX_CHUNK`` characters are kept).
    """

    def __init__(self, remote_is_bmc, chunk=MAX_CHUNK, rto=0.5,
                 max_tries=10):
        # Bit 4 means "deactivating" from a BMC, "send a break" to one.
        self.remote_is_bmc = remote_is_bmc
        self.chunk = max(1, min(chunk, MAX_CHUNK))
        self.rto = rto
        self.max_tries = max_tries
        self.status = 0
        self.lost = False
        #: The other end said it is deactivating the session.
        self.deactivated = False
        #: Why the other end's last packet could not be an SOL packet
        #: (None: it never sent one); then the channel is finished.
        self.violation = None
        self._outbox = bytearray()
        self._seq = 0
        self._in_flight = None     # (seq, characters)
        self._sent_at = 0.0
        self._tries = 0
        self._remote_seq = 0
        self._remote_len = 0
        self._nacked = False

    @property
    def idle(self):
        """Nothing waiting to go out and nothing unacknowledged."""
        return self._in_flight is None and not self._outbox

    @property
    def finished(self):
        """The other end is gone (:attr:`lost`) or broke the protocol."""
        return self.lost or self.violation is not None

    def write(self, data, now):
        """Queue ``data``; :returns: the packets to send now."""
        if self.finished:
            return []
        self._outbox += data
        return self.due(now)

    def receive(self, payload, now):
        """Take one SOL payload from the other end.

        :returns: ``(characters, packets)``: its new characters (may be
            empty) and the packets to send now (its acknowledgement, and
            the next packet of ours if it acknowledged the last); nothing
            when the packet breaks the protocol (:attr:`violation` says
            why) or the channel is finished.
        """
        if self.finished:
            return b'', []
        self.violation = _violation(payload)
        if self.violation is not None:
            return b'', []
        seq, acked, accepted = payload[0] & 0xf, payload[1] & 0xf, payload[2]
        operation = payload[3]
        data = bytes(payload[4:])
        packets = []
        new = b''
        if self.remote_is_bmc and operation & DEACTIVATING:
            self.deactivated = True
        if seq:
            if seq == self._remote_seq:
                # Sent again (our acknowledgement was lost), perhaps with
                # more characters: only those beyond the first copy's.
                new = data[self._remote_len:]
                self._remote_len = max(self._remote_len, len(data))
            else:
                new = data
                self._remote_seq = seq
                self._remote_len = len(data)
            packets.append(bytes((0, seq, len(data), self.status)))
        if acked and self._in_flight is not None and (
                acked == self._in_flight[0]):
            sent = self._in_flight[1]
            self._in_flight = None
            if operation & NACK and accepted < len(sent):
                # Not accepted (yet): the rest goes first, later.
                self._outbox[:0] = sent[accepted:]
                self._sent_at = now
                self._nacked = True
            packets.extend(self.due(now))
        return new, packets

    def due(self, now):
        """:returns: the packets to send at ``now`` (a repeat or the next)."""
        if self.finished:
            return []
        if self._in_flight is not None:
            if now - self._sent_at < self.rto:
                return []
            if self._tries >= self.max_tries:
                self.lost = True
                return []
            self._tries += 1
            self._sent_at = now
            return [self._packet()]
        if not self._outbox:
            return []
        if self._nacked and now - self._sent_at < self.rto:
            return []   # the other end asked us to wait a little
        self._nacked = False
        self._seq = self._seq % 15 + 1
        characters = bytes(self._outbox[:self.chunk])
        del self._outbox[:self.chunk]
        self._in_flight = (self._seq, characters)
        self._sent_at = now
        self._tries = 1
        return [self._packet()]

    def next_deadline(self):
        """When :meth:`due` may next return a packet (None: not on time)."""
        if self.finished:
            return None
        if self._in_flight is not None or (self._outbox and self._nacked):
            return self._sent_at + self.rto
        return None

    def _packet(self):
        seq, characters = self._in_flight
        return bytes((seq, 0, 0, self.status)) + characters


def _violation(payload):
    """Why ``payload`` cannot be an SOL packet; None when it can be.

    Only the impossible is refused; what a lax BMC may send and is still
    clear (characters in a packet numbered 0, ignored as ipmitool does;
    an acknowledgement of more characters than were sent, taken as all
    of them; reserved bits) is accepted.
    """
    if len(payload) < 4:
        return ('a packet of %d bytes, shorter than the 4-byte SOL header'
                % len(payload))
    if len(payload) - 4 > MAX_CHUNK:
        return ('a packet of %d characters (a packet carries at most %d)'
                % (len(payload) - 4, MAX_CHUNK))
    return None
