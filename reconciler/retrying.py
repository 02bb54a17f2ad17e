"""When a failed HubSpot request is sent again, and how long to wait first (via tenacity).

The client classifies every failed attempt (``reconciler.client``) and raises either a
final ``ReconcilerError`` or a ``RetryableFailure`` wrapping one. Only the latter is
retried here: with exponential backoff and full jitter, never sooner than the failure's
``min_wait`` (423 Locked asks for 2 s), and exactly after ``Retry-After`` when the server
sent one. When the retries run out the wrapped error is raised, never the wrapper.

What is retryable is decided by the client, because it depends on the request: a batch
create that got a 502 may have committed and must not be resent (facts §2, §3).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timezone
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from reconciler.errors import ReconcilerError

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
        #: The server asked for this pause (429, 423, Retry-After): it answered, so the
        #: wait does not count against the request's deadline.
        self.paced = paced


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 6
    initial_seconds: float = 0.5  # first backoff ceiling; doubles each attempt, full jitter
    max_seconds: float = 30.0
    max_retry_after_seconds: float = 120.0  # a longer Retry-After gives up instead


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Parse ``Retry-After`` (seconds, or an HTTP date); None if absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


def call_with_retries(
    attempt: Callable[[int], T],
    policy: RetryPolicy,
    *,
    on_retry: Callable[[RetryableFailure, float], None] | None = None,
    give_up: Callable[[RetryableFailure, float], bool] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``attempt(number)`` (1-based) until it returns, raises a final error, or the
    retries are spent; then the last wrapped error is raised. ``give_up(failure, pause)``
    ends the retries early (the request's deadline would pass during the pause)."""
    backoff = wait_random_exponential(multiplier=policy.initial_seconds, max=policy.max_seconds)

    def wait(state: RetryCallState) -> float:
        failure = _failure_of(state)
        if failure.retry_after is not None:
            return failure.retry_after
        return max(backoff(state), failure.min_wait)

    attempts_spent = stop_after_attempt(policy.max_retries + 1)

    def stop(state: RetryCallState) -> bool:
        # A Retry-After too long to sit through (477 Migration in Progress: up to 24 hours,
        # facts §2) ends the retries like spent attempts do.
        retry_after = _failure_of(state).retry_after
        too_long = retry_after is not None and retry_after > policy.max_retry_after_seconds
        if give_up is not None and give_up(_failure_of(state), state.upcoming_sleep):
            return True
        return too_long or attempts_spent(state)

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None:
            on_retry(_failure_of(state), state.upcoming_sleep)

    retrying = Retrying(
        retry=retry_if_exception_type(RetryableFailure),
        stop=stop,
        wait=wait,
        sleep=sleep,
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
