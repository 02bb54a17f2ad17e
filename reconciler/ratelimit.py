"""A rolling-window request limiter, shared by every thread of one ``HubSpotClient``.

HubSpot's burst limit is a *rolling* window (policy ``TEN_SECONDLY_ROLLING``: at most N
requests in any 10 s, ../shared/hubspot-api-facts.md §2), so the limiter keeps the send
times of the last requests and lets a request go only while fewer than ``limit`` of them
fall inside the window. A token bucket would allow a burst of N right after a quiet
spell plus refills, which a rolling window counts against us.

It is corrected by what the server reports: each answer's ``X-HubSpot-RateLimit-Max``,
``-Remaining`` and ``-Interval-Milliseconds`` resize the window, and when the server has
counted more requests than we sent (another process using the same app), the difference
is booked as if sent now, so we slow down instead of collecting 429s.

Hand-made rather than pyrate-limiter: no library found lets the server's remaining count
be folded into its bucket, and the whole algorithm is this page.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class RollingWindowLimiter:
    """At most ``limit`` acquisitions in any ``window_seconds``; thread-safe.

    ``headroom`` is the share of the server's limit left unused (0.08 = use 92%), so
    clock skew and requests in flight do not tip us over the server's count.
    """

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        *,
        headroom: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError("a limiter needs limit >= 1 and a positive window")
        self._headroom = headroom
        self._server_limit = limit
        self._limit = self._effective(limit)
        self._window = window_seconds
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        """Requests we allow ourselves per window (after headroom)."""
        return self._limit

    @property
    def window_seconds(self) -> float:
        return self._window

    def _effective(self, server_limit: int) -> int:
        return max(1, math.floor(server_limit * (1.0 - self._headroom)))

    def _prune(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - self._window:
            self._sent.popleft()

    def acquire(self) -> float:
        """Block until a request may be sent; book it; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._prune(now)
                if len(self._sent) < self._limit:
                    self._sent.append(now)
                    return waited
                # The entry whose expiry brings the count below the limit.
                pause = self._sent[len(self._sent) - self._limit] + self._window - now
            pause = max(pause, 0.001)
            self._sleep(pause)
            waited += pause

    def observe(
        self,
        *,
        server_limit: int | None,
        remaining: int | None,
        window_seconds: float | None,
    ) -> None:
        """Fold in what one answer's rate-limit headers say (any of them may be absent)."""
        with self._lock:
            if window_seconds is not None and window_seconds > 0:
                self._window = window_seconds
            if server_limit is not None and server_limit >= 1:
                self._server_limit = server_limit
                self._limit = self._effective(server_limit)
            if remaining is None:
                return
            now = self._clock()
            self._prune(now)
            counted_by_server = max(0, self._server_limit - remaining)
            missing = counted_by_server - len(self._sent)
            # Requests someone else sent with the same app: book them as sent now
            # (pessimistic: they expire a whole window from now).
            for _ in range(missing):
                self._sent.append(now)

    def exhausted(self) -> None:
        """The server said the window is spent (a 429): book up to its limit."""
        self.observe(server_limit=None, remaining=0, window_seconds=None)

    def until_oldest_expires(self) -> float:
        """Seconds until the oldest booked request leaves the window (0 if none)."""
        with self._lock:
            now = self._clock()
            self._prune(now)
            return max(0.0, self._sent[0] + self._window - now) if self._sent else 0.0

    def in_window(self) -> int:
        """Requests booked in the current window (for tests and summaries)."""
        with self._lock:
            self._prune(self._clock())
            return len(self._sent)
