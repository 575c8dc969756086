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
