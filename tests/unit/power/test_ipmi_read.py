"""The IPMI loop's socket reader against a flood: bounded per wake-up."""

import socket

from nova_bm.power import ipmi_session
from tests import base


class ReadSocketsTestCase(base.TestCase):

    def test_a_flooded_socket_is_read_a_bounded_batch_at_a_time(self):
        reader = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(reader.close)
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        reader.bind(('127.0.0.1', 0))
        flooder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(flooder.close)
        flooder.bind(('127.0.0.1', 0))
        packets = 3 * ipmi_session._MAX_PACKETS_PER_READ
        for _ in range(packets):
            # Not a session's: queued for no one, but read all the same.
            flooder.sendto(b'\x06\x00\xff\x07junk', reader.getsockname())
        batches = []
        while sum(batches) < packets:
            batch = ipmi_session._read_sockets([reader])
            self.assertTrue(batch, 'packets lost: %d read' % sum(batches))
            batches.append(len(batch))
        self.assertEqual([ipmi_session._MAX_PACKETS_PER_READ] * 3, batches)
