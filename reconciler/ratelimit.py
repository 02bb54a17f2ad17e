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

"More than we sent" is counted against what we sent from a window before this request
left until now: the server counted at the request's arrival, so our requests that left
the window while it was in flight were still in the server's count. Compared with our
window at the answer's time instead, each answer at full pace looked like one or two
foreign requests, booked for a whole window: at 50,000 records under 190 requests / 10 s
an apply ran at 44% of the limit.

Hand-made rather than pyrate-limiter: no library found lets the server's remaining count
be folded into its bucket, and the whole algorithm is this page.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_right
from collections.abc import Callable

#: how long past the window a send time is kept: answers slower than this are compared
#: with our window at the answer's time (pessimistic: they book more, never fewer)
_KEEP_SECONDS = 30.0


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
        #: send times in order, kept ``_KEEP_SECONDS`` past the window (``observe``)
        self._sent: list[float] = []
        self._lock = threading.Lock()
        #: when this thread's last request was booked
        self._booked = threading.local()

    @property
    def limit(self) -> int:
        """Requests we allow ourselves per window (after headroom)."""
        return self._limit

    @property
    def window_seconds(self) -> float:
        return self._window

    def _effective(self, server_limit: int) -> int:
        return max(1, math.floor(server_limit * (1.0 - self._headroom)))

    def _prune(self, now: float) -> int:
        """Forget send times long gone; return the index of the first one in the window."""
        sent = self._sent
        old = bisect_right(sent, now - self._window - _KEEP_SECONDS)
        if old:
            del sent[:old]
        return bisect_right(sent, now - self._window)

    def acquire(self) -> float:
        """Block until a request may be sent; book it; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                first = self._prune(now)
                count = len(self._sent) - first
                if count < self._limit:
                    self._sent.append(now)
                    self._booked.at = now
                    return waited
                # The entry whose expiry brings the count below the limit.
                pause = self._sent[first + count - self._limit] + self._window - now
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
            first = self._prune(now)
            booked = getattr(self._booked, "at", None)
            if booked is not None:  # what we sent since a window before this request left
                first = min(first, bisect_right(self._sent, booked - self._window))
            counted_by_server = max(0, self._server_limit - remaining)
            missing = counted_by_server - (len(self._sent) - first)
            # Requests someone else sent with the same app: book them as sent now
            # (pessimistic: they expire a whole window from now).
            for _ in range(missing):
                self._sent.append(now)

    def exhausted(self) -> None:
        """The server said the window is spent (a 429): book up to its limit."""
        self._booked.at = None  # (counted against the window as it is now)
        self.observe(server_limit=None, remaining=0, window_seconds=None)

    def until_oldest_expires(self) -> float:
        """Seconds until the oldest booked request leaves the window (0 if none)."""
        with self._lock:
            now = self._clock()
            first = self._prune(now)
            sent = self._sent
            return max(0.0, sent[first] + self._window - now) if first < len(sent) else 0.0

    def in_window(self) -> int:
        """Requests booked in the current window (for tests and summaries)."""
        with self._lock:
            return len(self._sent) - self._prune(self._clock())
