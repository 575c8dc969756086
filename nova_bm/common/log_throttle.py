"""Log lines a hostile peer cannot multiply.

A machine on the provisioning network, a BMC or a console client can
repeat what gets it refused as fast as it likes; a line per refusal would
flood the log and cost the proxy more than the refusal. A
:class:`Throttle` says when to log: at most once per interval for one key
(a source address, a console), for a bounded number of keys, and how many
were left out since the last line, which the next line says.
"""

import threading
import time

#: Seconds between two lines of one key, by default.
INTERVAL = 60.0


class Throttle:
    """Whether to log an event now: at most once per ``interval`` for one
    key, for at most ``keys`` keys at once (None: any number).

    Memory and work per event are bounded whatever the events' sources.
    Safe to call from any thread.
    """

    def __init__(self, interval=INTERVAL, keys=None):
        self.interval = interval
        self.keys = keys
        self._logged = {}   # key -> when logged, oldest first
        self._skipped = 0
        self._lock = threading.Lock()

    def admit(self, key, now=None):
        """:returns: None: do not log (the event is counted); else how many
        events were not logged since the last one that was."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return self._admit(key, now)

    def _admit(self, key, now):
        while self._logged:
            oldest = next(iter(self._logged))
            if now - self._logged[oldest] < self.interval:
                break
            del self._logged[oldest]
        if key in self._logged or (self.keys is not None
                                   and len(self._logged) >= self.keys):
            self._skipped += 1
            return None
        self._logged[key] = now
        skipped, self._skipped = self._skipped, 0
        return skipped


def not_logged(skipped):
    """What a line adds about the events left out before it."""
    if not skipped:
        return ''
    return ' (%d more not logged since the last such line)' % skipped
