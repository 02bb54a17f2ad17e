"""Search lags writes: how long an empty search still proves nothing, and waiting it out.

"It may take a few moments for newly created or updated CRM objects to appear in search
results" (facts §7), and a request cut off on our side may still be processed on
HubSpot's. So a search for what a create may have made is repeated until a grace has
passed since it was sent (``search_until``), and only then does "not found" mean "not
made". Every wait is on the client's clock (``HubSpotClient.clock``, from
``ClientSettings.clock``: ``reconciler.clock``), and Ctrl-C (``stopped``) ends it at once.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.clock import Clock

#: How long after a create was sent an empty marker search still proves nothing. Tunable
#: with RECONCILER_RECOVERY_GRACE_SECONDS.
SEARCH_LAG_GRACE_SECONDS = 30.0
#: How often a search is repeated while waiting out the lag.
SEARCH_POLL_SECONDS = 1.0
#: The longest single sleep of a wait: ``stopped`` is asked at least this often.
STOP_CHECK_SECONDS = 0.1


def wait(clock: Clock, seconds: float, stopped: Callable[[], bool]) -> None:
    """Wait ``seconds`` on ``clock``; return early once ``stopped()`` (Ctrl-C)."""
    end = clock.monotonic() + seconds
    while not stopped():
        left = end - clock.monotonic()
        if left <= 0:
            return
        clock.sleep(min(left, STOP_CHECK_SECONDS))


def search_until(
    clock: Clock,
    deadline: float,
    attempt: Callable[[], bool],
    *,
    stopped: Callable[[], bool],
    poll_seconds: float = SEARCH_POLL_SECONDS,
) -> None:
    """Call ``attempt`` (one search; True: settled) until it settles or the wall-clock
    ``deadline`` has passed, waiting ``poll_seconds`` between calls. The last call is made
    at or after the deadline, so "not found" means "not in the index after the grace",
    never "not indexed yet". ``stopped`` ends it at once (no call after it is set)."""
    while not stopped():
        if attempt():
            return
        now = clock.time()
        if now >= deadline or stopped():
            return
        wait(clock, min(poll_seconds, deadline - now), stopped)


__all__ = [
    "SEARCH_LAG_GRACE_SECONDS",
    "SEARCH_POLL_SECONDS",
    "search_until",
    "wait",
]
