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

What a server says is believed only within bounds: a ``Max`` above
``MAX_BELIEVABLE_LIMIT``, a window outside ``BELIEVABLE_WINDOW_SECONDS`` or a negative
``Remaining`` is ignored (``reconciler.hubspot.failures`` notes it in the debug log). The
limiter's memory does not depend on the numbers either: requests are held as (time,
count) entries, one per request we send and one per answer that books others' requests,
so a server that claims a billion requests costs one entry, and every entry is forgotten
``_KEEP_SECONDS`` after it leaves the window.

Time is read, and waited, on the client's ``Clock`` (``reconciler.clock``).

Hand-made rather than pyrate-limiter: no library found lets the server's remaining count
be folded into its bucket, and the whole algorithm is this page.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_right
from collections.abc import Callable

from reconciler.clock import SYSTEM_CLOCK, Clock

#: how long past the window a send time is kept: answers slower than this are compared
#: with our window at the answer's time (pessimistic: they book more, never fewer)
_KEEP_SECONDS = 30.0

#: The largest ``X-HubSpot-RateLimit-Max`` (and ``-Remaining``) believed. HubSpot
#: publishes at most 250 per 10 s (facts §2); the emulator shows 1,000,000 with its limit
#: off. A larger number is a proxy's or a broken server's, not a limit.
MAX_BELIEVABLE_LIMIT = 1_000_000
#: Windows believed from ``-Interval-Milliseconds``, in seconds. HubSpot's is 10 s (1 s
#: for the deprecated secondly limit); a longer one would stall every request for it.
BELIEVABLE_WINDOW_SECONDS = (1.0, 60.0)


def believable_limit(value: int) -> bool:
    return 1 <= value <= MAX_BELIEVABLE_LIMIT


def believable_window(seconds: float) -> bool:
    low, high = BELIEVABLE_WINDOW_SECONDS
    return low <= seconds <= high


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
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError("a limiter needs limit >= 1 and a positive window")
        self._headroom = headroom
        self._server_limit = limit
        self._limit = self._effective(limit)
        self._window = window_seconds
        self._clock = clock
        #: when each entry was booked, in order, kept ``_KEEP_SECONDS`` past the window
        self._times: list[float] = []
        #: requests booked up to and including each entry, counted since the limiter began
        #: (a running total: the requests between two entries are a subtraction)
        self._totals: list[int] = []
        #: requests booked in entries already forgotten, and in all entries
        self._forgotten = 0
        self._total = 0
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

    def _before(self, index: int) -> int:
        """Requests booked before entry ``index``."""
        return self._totals[index - 1] if index else self._forgotten

    def _book(self, now: float, count: int) -> None:
        self._total += count
        if self._times and self._times[-1] == now:
            self._totals[-1] = self._total  # the same moment: one entry
        else:
            self._times.append(now)
            self._totals.append(self._total)

    def _prune(self, now: float) -> int:
        """Forget entries long gone; return the index of the first one in the window."""
        old = bisect_right(self._times, now - self._window - _KEEP_SECONDS)
        if old:
            self._forgotten = self._totals[old - 1]
            del self._times[:old]
            del self._totals[:old]
        return bisect_right(self._times, now - self._window)

    def acquire(self, wait: Callable[[float], None] | None = None) -> float:
        """Block until a request may be sent; book it; return the seconds waited.

        ``wait(seconds)`` does the waiting (a request's deadline, which raises rather than
        wait past it); the limiter's clock by default.
        """
        pause_for = wait if wait is not None else self._clock.sleep
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock.monotonic()
                first = self._prune(now)
                count = self._total - self._before(first)
                if count < self._limit:
                    self._book(now, 1)
                    self._booked.at = now
                    return waited
                # The entry whose expiry brings the count below the limit.
                freeing = bisect_right(self._totals, self._total - self._limit, lo=first)
                pause = self._times[freeing] + self._window - now
            pause = max(pause, 0.001)
            pause_for(pause)
            waited += pause

    def observe(
        self,
        *,
        server_limit: int | None,
        remaining: int | None,
        window_seconds: float | None,
    ) -> None:
        """Fold in what one answer's rate-limit headers say (any of them may be absent;
        numbers outside the believable ranges are ignored)."""
        with self._lock:
            if window_seconds is not None and believable_window(window_seconds):
                self._window = window_seconds
            if server_limit is not None and believable_limit(server_limit):
                self._server_limit = server_limit
                self._limit = self._effective(server_limit)
            if remaining is None or not 0 <= remaining <= MAX_BELIEVABLE_LIMIT:
                return
            now = self._clock.monotonic()
            first = self._prune(now)
            booked = getattr(self._booked, "at", None)
            if booked is not None:  # what we sent since a window before this request left
                first = min(first, bisect_right(self._times, booked - self._window))
            counted_by_server = max(0, self._server_limit - remaining)
            missing = counted_by_server - (self._total - self._before(first))
            # Requests someone else sent with the same app: book them as sent now
            # (pessimistic: they expire a whole window from now).
            if missing > 0:
                self._book(now, missing)

    def exhausted(self) -> None:
        """The server said the window is spent (a 429): book up to its limit."""
        self._booked.at = None  # (counted against the window as it is now)
        self.observe(server_limit=None, remaining=0, window_seconds=None)

    def until_oldest_expires(self) -> float:
        """Seconds until the oldest booked request leaves the window (0 if none)."""
        with self._lock:
            now = self._clock.monotonic()
            first = self._prune(now)
            times = self._times
            return max(0.0, times[first] + self._window - now) if first < len(times) else 0.0

    def in_window(self) -> int:
        """Requests booked in the current window (for tests and summaries)."""
        with self._lock:
            return self._total - self._before(self._prune(self._clock.monotonic()))

    def entries_held(self) -> int:
        """Entries held in memory (for tests: bounded by what we send, not by headers)."""
        with self._lock:
            return len(self._times)
