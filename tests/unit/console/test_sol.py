"""The SOL payload protocol, both ends, without sockets."""

import random

import testtools

from nova_bm.console import sol


class Wire:
    """Two channels joined by a lossy, in-order wire and a clock."""

    def __init__(self, loss=0.0, seed=1):
        self.client = sol.SolChannel(remote_is_bmc=True, rto=0.5)
        self.bmc = sol.SolChannel(remote_is_bmc=False, rto=0.5)
        self.received = {self.client: bytearray(), self.bmc: bytearray()}
        self.random = random.Random(seed)
        self.loss = loss
        self.now = 0.0

    def carry(self, sender, packets):
        receiver = self.bmc if sender is self.client else self.client
        for packet in packets:
            if self.random.random() < self.loss:
                continue
            characters, answers = receiver.receive(bytearray(packet),
                                                   self.now)
            self.received[receiver] += characters
            self.carry(receiver, answers)

    def run(self, seconds):
        end = self.now + seconds
        while self.now < end:
            self.now += 0.05
            for end_ in (self.client, self.bmc):
                self.carry(end_, end_.due(self.now))


class SolChannelTestCase(testtools.TestCase):

    def test_both_directions_in_order_in_chunks(self):
        wire = Wire()
        wire.carry(wire.client, wire.client.write(b'a' * 600, 0))
        wire.carry(wire.bmc, wire.bmc.write(b'login: ', 0))
        wire.run(1)
        self.assertEqual(b'a' * 600, wire.received[wire.bmc])
        self.assertEqual(b'login: ', wire.received[wire.client])
        self.assertTrue(wire.client.idle and wire.bmc.idle)

    def test_packets_are_numbered_1_to_15_and_carry_255_at_most(self):
        channel = sol.SolChannel(remote_is_bmc=True)
        seqs = []
        packets = channel.write(b'x' * (255 * 20), 0)
        for _ in range(20):
            packet = packets[0]
            self.assertLessEqual(len(packet) - 4, 255)
            seqs.append(packet[0])
            _, packets = channel.receive(
                bytes((0, packet[0], len(packet) - 4, 0)), 0)
        self.assertEqual(list(range(1, 16)) + list(range(1, 6)), seqs)

    def test_lost_packets_are_sent_again_and_delivered_once(self):
        wire = Wire(loss=0.3, seed=7)
        text = bytes(range(256)) * 8
        wire.carry(wire.client, wire.client.write(text, 0))
        wire.carry(wire.bmc, wire.bmc.write(text[::-1], 0))
        wire.run(60)
        self.assertEqual(text, bytes(wire.received[wire.bmc]))
        self.assertEqual(text[::-1], bytes(wire.received[wire.client]))

    def test_a_repeated_packet_with_more_characters_gives_only_the_new(self):
        channel = sol.SolChannel(remote_is_bmc=True)
        first, ack = channel.receive(bytes((3, 0, 0, 0)) + b'abc', 0)
        self.assertEqual(b'abc', first)
        self.assertEqual([bytes((0, 3, 3, 0))], ack)
        again, ack = channel.receive(bytes((3, 0, 0, 0)) + b'abcde', 0)
        self.assertEqual(b'de', again)
        self.assertEqual([bytes((0, 3, 5, 0))], ack)
        same, _ = channel.receive(bytes((3, 0, 0, 0)) + b'abcde', 0)
        self.assertEqual(b'', same)

    def test_nack_sends_the_rest_later(self):
        channel = sol.SolChannel(remote_is_bmc=True, rto=0.5)
        packet, = channel.write(b'hello', 0)
        # The BMC took 2 characters and asks for the rest later.
        _, packets = channel.receive(bytes((0, packet[0], 2, sol.NACK)), 0.1)
        self.assertEqual([], packets)
        self.assertEqual([], channel.due(0.3))
        packet, = channel.due(0.7)
        self.assertEqual(b'llo', packet[4:])

    def test_unacknowledged_packets_end_in_lost(self):
        channel = sol.SolChannel(remote_is_bmc=True, rto=0.5, max_tries=3)
        self.assertEqual(1, len(channel.write(b'x', 0)))
        self.assertEqual([], channel.due(0.4))
        self.assertEqual(1, len(channel.due(0.5)))
        self.assertEqual(1, len(channel.due(1.0)))
        self.assertFalse(channel.lost)
        self.assertEqual([], channel.due(1.5))
        self.assertTrue(channel.lost)
        self.assertIsNone(channel.next_deadline())

    def test_bit_4_means_deactivating_only_from_a_bmc(self):
        client = sol.SolChannel(remote_is_bmc=True)
        bmc = sol.SolChannel(remote_is_bmc=False)
        client.receive(bytes((0, 0, 0, sol.DEACTIVATING)), 0)
        bmc.receive(bytes((0, 0, 0, sol.DEACTIVATING)), 0)
        self.assertTrue(client.deactivated)
        self.assertFalse(bmc.deactivated)


class ProtocolViolationTestCase(testtools.TestCase):
    """Whatever the other end sends, receive() never raises: a packet no
    SOL packet can be finishes the channel, and says why."""

    def assertFinished(self, channel):
        self.assertTrue(channel.finished)
        self.assertEqual([], channel.write(b'more', 10))
        self.assertEqual([], channel.due(100))
        self.assertIsNone(channel.next_deadline())
        # Not even a valid packet is taken any more.
        self.assertEqual((b'', []),
                         channel.receive(bytes((2, 0, 0, 0)) + b'ok', 100))

    def test_more_than_255_characters_is_a_violation(self):
        for remote_is_bmc in (True, False):
            channel = sol.SolChannel(remote_is_bmc=remote_is_bmc)
            self.assertEqual((b'', []), channel.receive(
                bytes((1, 0, 0, 0)) + b'x' * 600, 0))
            self.assertEqual('a packet of 600 characters (a packet carries '
                             'at most 255)', channel.violation)
            self.assertFinished(channel)

    def test_256_characters_are_refused_255_taken(self):
        channel = sol.SolChannel(remote_is_bmc=True)
        characters, packets = channel.receive(
            bytes((1, 0, 0, 0)) + b'y' * 255, 0)
        self.assertEqual(b'y' * 255, characters)
        self.assertEqual([bytes((0, 1, 255, 0))], packets)
        self.assertIsNone(channel.violation)
        # The same packet sent again, one character longer.
        self.assertEqual((b'', []), channel.receive(
            bytes((1, 0, 0, 0)) + b'y' * 256, 0))
        self.assertIn('256 characters', channel.violation)

    def test_a_packet_shorter_than_its_header_is_a_violation(self):
        for payload in (b'', b'\x01', b'\x01\x00\x00'):
            channel = sol.SolChannel(remote_is_bmc=True)
            self.assertEqual((b'', []), channel.receive(payload, 0))
            self.assertEqual('a packet of %d bytes, shorter than the 4-byte '
                             'SOL header' % len(payload), channel.violation)
            self.assertFinished(channel)

    def test_a_violation_stops_retransmissions(self):
        channel = sol.SolChannel(remote_is_bmc=True, rto=0.5)
        self.assertEqual(1, len(channel.write(b'hello', 0)))
        channel.receive(bytes((1, 0, 0, 0)) + b'z' * 300, 0.1)
        self.assertEqual([], channel.due(5))
        self.assertFalse(channel.lost)

    def test_lax_but_clear_packets_are_no_violation(self):
        channel = sol.SolChannel(remote_is_bmc=True)
        packet, = channel.write(b'abc', 0)
        # Characters in a packet numbered 0 (ignored, as ipmitool does);
        # an acknowledgement of more than was sent; reserved bits set.
        self.assertEqual((b'', []), channel.receive(
            bytes((0xf0, 0, 0, 0)) + b'ignored', 0))
        characters, packets = channel.receive(
            bytes((0xf1, packet[0], 200, 0x0f)) + b'ok', 0)
        self.assertEqual(b'ok', characters)
        self.assertEqual([bytes((0, 1, 2, 0))], packets)
        self.assertTrue(channel.idle)
        self.assertIsNone(channel.violation)

    def test_random_payloads_never_raise(self):
        rng = random.Random(20250)
        # Lengths around every edge: empty, the header, 255 characters.
        lengths = [0, 1, 3, 4, 5, 258, 259, 260, 600, 3000]
        for remote_is_bmc in (True, False):
            channel = sol.SolChannel(remote_is_bmc=remote_is_bmc, rto=0.1)
            now = 0.0
            for index in range(10000):
                now += rng.random() * 0.05
                if rng.random() < 0.5:
                    length = rng.choice(lengths)
                else:
                    length = rng.randrange(0, 300)
                payload = bytes(rng.getrandbits(8) for _ in range(length))
                if rng.random() < 0.5:
                    # Headers that mean something: small numbers.
                    header = (rng.randrange(16), rng.randrange(16),
                              rng.randrange(256),
                              rng.choice((0, sol.NACK, 0xff)))
                    payload = bytes(header[:length]) + payload[4:]
                if index % 7 == 0:
                    channel.write(b'w' * rng.randrange(600), now)
                characters, packets = channel.receive(
                    rng.choice((bytes, bytearray))(payload), now)
                packets += channel.due(now)
                impossible = len(payload) < 4 or len(payload) > 259
                self.assertEqual(impossible, channel.violation is not None,
                                 payload[:8])
                self.assertIsInstance(characters, bytes)
                self.assertLessEqual(len(characters), 255)
                for packet in packets:
                    self.assertIsInstance(packet, bytes)
                    self.assertLessEqual(len(packet), 259)
                    self.assertLessEqual(packet[0], 15)
                    self.assertLessEqual(packet[1], 15)
                if channel.finished:
                    channel = sol.SolChannel(remote_is_bmc=remote_is_bmc,
                                             rto=0.1)
