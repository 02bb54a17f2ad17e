"""When a failed HubSpot request is sent again, and how long to wait first (via tenacity).

The client classifies every failed attempt (``reconciler.hubspot.client``) and raises either a
final ``ReconcilerError`` or a ``RetryableFailure`` wrapping one. Only the latter is
retried here: with exponential backoff and full jitter, never sooner than the failure's
``min_wait`` (423 Locked asks for 2 s), and exactly after ``Retry-After`` when the server
sent one. When the retries run out the wrapped error is raised, never the wrapper. Every
pause goes through the request's ``Deadline`` (``reconciler.hubspot.deadline``): one that would
pass it, or is longer than any wait may be, raises ``WaitTooLong`` instead.

What is retryable is decided by the client, because it depends on the request: a batch
create that got a 502 may have committed and must not be resent (facts §2, §3).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timezone
from typing import TYPE_CHECKING, TypeVar

from reconciler.clock import SYSTEM_CLOCK
from reconciler.errors import ReconcilerError
from reconciler.hubspot.deadline import Deadline

if TYPE_CHECKING:  # tenacity is imported by the first request, not by an offline command
    from tenacity import RetryCallState

T = TypeVar("T")


class RetryableFailure(Exception):
    """One attempt failed in a way that sending it again may fix."""

    def __init__(
        self,
        error: ReconcilerError,
        *,
        retry_after: float | None = None,
        min_wait: float = 0.0,
        paced: bool = False,
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after
        self.min_wait = min_wait
        #: The server asked for this pause (429, 423): if it is longer than the request's
        #: deadline allows, the request fails naming the pause, not this error.
        self.paced = paced


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 6
    initial_seconds: float = 0.5  # first backoff ceiling; doubles each attempt, full jitter
    max_seconds: float = 30.0


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Parse ``Retry-After`` (seconds, or an HTTP date); None if absent or unreadable
    (``inf`` and ``nan`` are unreadable). A huge one is returned as it is: the request's
    deadline refuses to wait for it. ``now``: the wall time an HTTP date is counted from
    (the client's clock; the system's by default)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    import email.utils  # (only for an HTTP date: most answers send seconds)

    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now if now is not None else SYSTEM_CLOCK.time()
    return max(0.0, when.timestamp() - current)


def call_with_retries(
    attempt: Callable[[int], T],
    policy: RetryPolicy,
    *,
    deadline: Deadline,
    on_retry: Callable[[RetryableFailure, float], None] | None = None,
) -> T:
    """Run ``attempt(number)`` (1-based) until it returns, raises a final error, or the
    retries are spent; then the last wrapped error is raised. ``on_retry(failure, pause)``
    hears of each failure to be retried before its pause; ``deadline.wait`` pauses, and
    raises ``WaitTooLong`` (ending the retries) for a pause it cannot allow."""
    from tenacity import (
        Retrying,
        retry_if_exception_type,
        stop_after_attempt,
        wait_random_exponential,
    )

    backoff = wait_random_exponential(multiplier=policy.initial_seconds, max=policy.max_seconds)

    def wait(state: RetryCallState) -> float:
        failure = _failure_of(state)
        if failure.retry_after is not None:
            return failure.retry_after
        return max(backoff(state), failure.min_wait)

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None:
            on_retry(_failure_of(state), state.upcoming_sleep)

    retrying = Retrying(
        retry=retry_if_exception_type(RetryableFailure),
        stop=stop_after_attempt(policy.max_retries + 1),
        wait=wait,
        sleep=deadline.wait,
        before_sleep=before_sleep,
        reraise=True,
    )
    number = 0

    def counted() -> T:
        nonlocal number
        number += 1
        return attempt(number)

    try:
        return retrying(counted)
    except RetryableFailure as failure:
        raise failure.error from None


def _failure_of(state: RetryCallState) -> RetryableFailure:
    assert state.outcome is not None
    error = state.outcome.exception()
    assert isinstance(error, RetryableFailure)
    return error
