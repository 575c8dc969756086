"""A bounded byte buffer: the last N bytes of a node's console."""

import threading


class RingBuffer:
    """Keeps the last ``size`` bytes written; safe from any thread.

    ``get_console_output`` reads it while the SOL session appends to it.
    ``total`` counts every byte ever written, so a reader can tell how
    much it missed.
    """

    def __init__(self, size):
        if size < 1:
            raise ValueError('a console log needs at least one byte')
        self.size = size
        self.total = 0
        self._data = bytearray()
        self._lock = threading.Lock()

    def write(self, data):
        with self._lock:
            self.total += len(data)
            if len(data) >= self.size:
                self._data[:] = data[-self.size:]
                return
            self._data += data
            overflow = len(self._data) - self.size
            if overflow > 0:
                del self._data[:overflow]

    def read(self):
        """The bytes kept, oldest first."""
        with self._lock:
            return bytes(self._data)

    def clear(self):
        with self._lock:
            self._data.clear()
            self.total = 0
