"""A per-BMC circuit breaker.

After ``threshold`` consecutive failures the breaker opens: calls fail at
once, without touching the network, for ``cooldown`` seconds. Then it lets
exactly one probe through; the probe's success closes it, its failure opens
it for another cool-down. A BMC that is down therefore costs one timeout per
cool-down, not one per call.

Not thread-safe by itself: the IPMI loop is its only user, from one thread.
"""

import time


class Breaker:
    """The health record of one BMC."""

    def __init__(self, threshold, cooldown, clock=time.monotonic):
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self.failures = 0
        self.last_error = None
        self._open_until = None
        self._probing = False

    def allow(self):
        """Whether a call may go to the BMC now.

        While open it returns False; after the cool-down it returns True
        once (the probe) and False again until that probe is reported.
        """
        if self._open_until is None:
            return True
        if self._probing or self._clock() < self._open_until:
            return False
        self._probing = True
        return True

    def remaining(self):
        """Seconds left in the cool-down (0 when closed or probing)."""
        if self._open_until is None:
            return 0.0
        return max(0.0, self._open_until - self._clock())

    def success(self):
        self.failures = 0
        self.last_error = None
        self._open_until = None
        self._probing = False

    def failure(self, error):
        self.failures += 1
        self.last_error = error
        self._probing = False
        if self.failures >= self.threshold:
            self._open_until = self._clock() + self.cooldown

    def release_probe(self):
        """The probe ended without telling anything about the BMC."""
        self._probing = False

    @property
    def is_open(self):
        return self._open_until is not None
