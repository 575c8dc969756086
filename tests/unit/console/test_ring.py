"""The console log's ring buffer."""

import testtools

from nova_bm.console import ring


class RingBufferTestCase(testtools.TestCase):

    def test_keeps_the_last_bytes(self):
        buffer = ring.RingBuffer(10)
        buffer.write(b'0123456')
        self.assertEqual(b'0123456', buffer.read())
        buffer.write(b'789abc')
        self.assertEqual(b'3456789abc', buffer.read())
        buffer.write(b'x' * 25 + b'END')
        self.assertEqual(b'xxxxxxxEND', buffer.read())
        self.assertEqual(41, buffer.total)

    def test_clear_and_bad_size(self):
        buffer = ring.RingBuffer(4)
        buffer.write(b'abc')
        buffer.clear()
        self.assertEqual((b'', 0), (buffer.read(), buffer.total))
        self.assertRaises(ValueError, ring.RingBuffer, 0)
