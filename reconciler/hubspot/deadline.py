"""One request's deadline, and the one place where a request waits.

Every request to HubSpot has one overall deadline (``ClientSettings.timeout_seconds``):
connecting, sending and reading, and every wait before and between its attempts, whoever
asked for it: our rate limiter, the backoff between retries, a pause the server asked
for (429, 423, ``Retry-After``). All of them wait through ``Deadline.wait``, which also
caps any single wait (``longest_wait``), so a server's headers can make a request fail
sooner, never hang it.

A wait that would pass the deadline or the cap is not started: ``WaitTooLong`` says how
long it would have been, and ``reconciler.hubspot.connection`` turns it into an error that names
the host. It reads the time and waits on the client's ``Clock`` (``reconciler.clock``), so
a test on a fake clock waits out a 10 s pause in no time and still sees it spend the deadline.
"""

from __future__ import annotations

import math

from reconciler.clock import SYSTEM_CLOCK, Clock


class WaitTooLong(Exception):
    """A wait was refused: ``seconds`` asked, at most ``allowed`` possible.
    ``capped``: refused for being longer than any single wait may be (else: the deadline)."""

    def __init__(self, seconds: float, allowed: float, *, capped: bool) -> None:
        super().__init__(f"a wait of {seconds:g} s was refused (at most {allowed:g} s)")
        self.seconds = seconds
        self.allowed = allowed
        self.capped = capped


class Deadline:
    """``seconds`` from now, for everything one request does; thread-confined."""

    def __init__(
        self,
        seconds: float,
        *,
        longest_wait: float = math.inf,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.seconds = seconds
        self.longest_wait = longest_wait
        self._clock = clock
        self._end = clock.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self._end - self._clock.monotonic()

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or raise ``WaitTooLong`` (without sleeping) when the wait
        is longer than ``longest_wait`` or would not end before the deadline."""
        if not seconds <= self.longest_wait:  # (also refuses NaN)
            raise WaitTooLong(seconds, self.longest_wait, capped=True)
        left = self.remaining()
        if not seconds < left:
            raise WaitTooLong(seconds, max(0.0, left), capped=False)
        if seconds > 0:
            self._clock.sleep(seconds)
