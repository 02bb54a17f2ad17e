"""What HubSpot's answers and failed exchanges become: our errors, final or to be retried.

``HubSpotConnection`` (``reconciler.hubspot.connection``) sends; every non-2xx answer, unusable
2xx, dropped connection and passed deadline is turned into a ``reconciler.errors`` type
here, once (the retry table is in ``reconciler.hubspot.connection``). ``Answer`` is one whole
answer as read; ``rate_limit_headers`` and ``daily_remaining_header`` read HubSpot's
headers, believing only plain whole numbers within ranges that HubSpot's published limits
could produce (facts §2): anything else is ignored, with a note in the debug log.
"""

from __future__ import annotations

import json as jsonlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from reconciler.clock import SYSTEM_CLOCK, Clock
from reconciler.errors import (
    AmbiguousWriteError,
    ApiError,
    DeadlineError,
    InvalidPropertiesError,
    RateLimitError,
    ReconcilerError,
    TransportError,
    UnreachableError,
    UnusableAnswerError,
)
from reconciler.hubspot.deadline import WaitTooLong
from reconciler.hubspot.ratelimit import (
    BELIEVABLE_WINDOW_SECONDS,
    MAX_BELIEVABLE_LIMIT,
    RollingWindowLimiter,
)
from reconciler.hubspot.records import readable_message
from reconciler.hubspot.retrying import RetryableFailure, retry_after_seconds

if TYPE_CHECKING:  # imported by the first connection (connection.py), not by an offline plan
    import httpx

log = logging.getLogger("reconciler.http")

#: What a request may do, which decides what its failures become (the table in
#: ``reconciler.hubspot.connection``). "read": idempotent, retried on every transient
#: failure. "write": an idempotent write (update, upsert, associations), retried like a
#: read, but a write whose answer is lost or unusable is "outcome unknown". "create": may
#: not be resent once the server may have seen it (a duplicate record is worse than a
#: failed apply).
RequestKind = Literal["read", "write", "create"]

_RETRYABLE_5XX = frozenset({500, 502, 503, 504, 521, 523, 524})

#: What a read about an object type the portal does not know is answered with (HubSpot: 400
#: "Unable to infer object type"; 404 on some paths): that type holds nothing here.
UNKNOWN_TYPE_STATUSES = (400, 404)
#: The largest ``X-HubSpot-RateLimit-Daily-Remaining`` believed: HubSpot's daily limits
#: reach a few million (facts §2); the emulator shows 1,000,000,000 with its limit off.
MAX_BELIEVABLE_DAILY = 1_000_000_000
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,18}")
#: what an ignored header's value may look like to be quoted in the debug log: a value
#: cut short could carry a piece of the token past the log scrubber (which matches it
#: whole), so anything else is described, not quoted
_QUOTABLE = re.compile(r"[0-9+\-.,_eExX :]{0,30}")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: httpx.Headers
    content: bytes
    reason: str


@dataclass(frozen=True)
class FailureMapper:
    """Turns one connection's failures into our errors, naming its ``host``."""

    host: str
    timeout_seconds: float
    connect_timeout_seconds: float
    scrub: Callable[[str], str]
    clock: Clock = SYSTEM_CLOCK  # the wall time a Retry-After date is counted from

    def unusable(
        self, method: str, path: str, kind: RequestKind, reason: str, trace_ids: Sequence[str] = ()
    ) -> ReconcilerError:
        """The error for a 2xx whose body cannot be used: for a write, "outcome unknown"
        (settle by marker, never resend blind); for a read, an error, never "no records"."""
        reason = self.scrub(reason)
        if kind == "read":
            return UnusableAnswerError(method, path, reason)
        return AmbiguousWriteError(
            f"{method} {path}: the answer cannot be used ({reason}); the write may or may "
            "not have been committed",
            trace_ids=list(trace_ids),
        )

    def out_of_time(
        self, method: str, path: str, kind: RequestKind, trace_ids: Sequence[str]
    ) -> ReconcilerError:
        seconds = f"{self.timeout_seconds:g}"
        if kind != "read":
            return AmbiguousWriteError(
                f"{method} {path}: no whole answer from {self.host} within {seconds} s; the "
                "write may or may not have been committed",
                trace_ids=list(trace_ids),
            )
        return DeadlineError(
            f"{method} {path}: no whole answer from {self.host} within {seconds} s (retries "
            f"and waits included). Check that {self.host} is HubSpot's API (or your "
            "emulator) and that it answers, and your network or proxy; then run the "
            "command again."
        )

    def wait_refused(
        self,
        method: str,
        path: str,
        kind: RequestKind,
        trace_ids: Sequence[str],
        refused: WaitTooLong,
        previous: RetryableFailure | None,
    ) -> ReconcilerError:
        """The error for a request that stopped because a wait before its next attempt
        would pass its deadline (or the longest wait); ``previous``: its last failure."""
        if previous is not None and not previous.paced:
            # Backoff after a failure of our own: that failure says what went wrong (a
            # write that may have committed stays "outcome unknown").
            if kind == "read" and type(previous.error) is TransportError:
                return self.out_of_time(method, path, kind, trace_ids)
            return previous.error
        if previous is None:
            what = "a free slot under the rate limit"
        else:
            status = getattr(previous.error, "status", None)
            what = f"the pause {self.host} asked for" + (f" (HTTP {status})" if status else "")
        if refused.capped:
            why = (f"longer than any wait the reconciler takes ({refused.allowed:g} s, "
                   "max_retry_after_seconds)")
        else:
            why = (f"past the request's deadline ({self.timeout_seconds:g} s, "
                   f"{refused.allowed:.1f} s left)")
        return DeadlineError(
            f"{method} {path}: gave up: waiting {refused.seconds:,.1f} s for {what} would be "
            f"{why}; nothing more was sent to {self.host}. Run the command again later; if "
            f"{self.host} is a proxy, check that it passes HubSpot's rate-limit headers "
            "unchanged."
        )

    def status_failure(
        self,
        answer: Answer,
        method: str,
        path: str,
        kind: RequestKind,
        trace_ids: Sequence[str],
        limiter: RollingWindowLimiter | None,
        search: bool,
    ) -> Exception:
        """The error for a non-2xx answer: final, or wrapped to be retried."""
        status = answer.status
        body = _json_or_none(answer.content)
        message, problems = readable_message(_error_message(body, answer, self.scrub))
        fields: dict[str, Any] = {
            "category": _field(body, "category") or _field(body, "errorType"),
            "correlation_id": _field(body, "correlationId")
            or answer.headers.get("X-HubSpot-Correlation-Id"),
            "method": method,
            "path": path,
        }
        retry_after = retry_after_seconds(answer.headers.get("Retry-After"),
                                          now=self.clock.time())
        if retry_after is None and answer.headers.get("Retry-After", "").strip():
            log.debug("ignored Retry-After: %s (seconds or an HTTP date expected)",
                      _quoted(answer.headers["Retry-After"]))
        if status == 429:
            policy = _field(body, "policyName")
            if policy == "DAILY":
                return RateLimitError(
                    status,
                    f"{message} HubSpot's daily request limit for this account is used up; "
                    "the apply stopped. Run it again after the daily limit resets (midnight "
                    "in the account's time zone).",
                    policy=policy, **fields,
                )
            error = RateLimitError(status, message, policy=policy, **fields)
            if retry_after is not None:
                return RetryableFailure(error, retry_after=retry_after, paced=True)
            if search:
                # No headers on search answers; HubSpot's search window is one second.
                if limiter is not None:
                    limiter.exhausted()  # its next slot is a window away
                    return RetryableFailure(error, paced=True)
                return RetryableFailure(error, min_wait=1.0, paced=True)
            window = rate_limit_headers(answer.headers)["window_seconds"]
            if window is None:
                return RetryableFailure(error, paced=True)  # no hint at all: plain backoff
            # The rolling window is spent: a slot frees when the oldest request in it
            # leaves; ours is the best estimate we have (at most one interval away).
            wait_for = limiter.until_oldest_expires() if limiter is not None else window
            return RetryableFailure(error, min_wait=min(wait_for, window), paced=True)
        api_error: ApiError
        if problems:
            api_error = InvalidPropertiesError(status, message, problems=problems, **fields)
        else:
            api_error = ApiError(status, message, **fields)
        if status == 423:
            return RetryableFailure(api_error, retry_after=retry_after, min_wait=2.0, paced=True)
        if status in _RETRYABLE_5XX:
            if kind == "create":
                return AmbiguousWriteError(
                    f"{method} {path}: HubSpot answered {status} ({message}); the write may or "
                    "may not have been committed",
                    trace_ids=list(trace_ids),
                )
            return RetryableFailure(api_error, retry_after=retry_after)
        return api_error

    def transport_failure(
        self,
        error: Exception,
        method: str,
        path: str,
        kind: RequestKind,
        trace_ids: Sequence[str],
        time_left: Callable[[], float],
        reached: bool,
    ) -> Exception:
        """The error for a request that got no answer: final, or wrapped to be retried.
        ``reached``: whether the server has answered this connection before."""
        import httpx  # loaded by the connection already

        reason = self.scrub(f"{type(error).__name__}: {error}".rstrip(": "))
        # Connect errors (and waiting for a pooled connection) happen before a byte of
        # the request is sent: safe to resend even for a create.
        never_sent = isinstance(
            error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
        )
        if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout)) and not reached:
            return self._unreachable(error, reason)
        if isinstance(error, httpx.TimeoutException) and not never_sent and time_left() <= 0:
            return self.out_of_time(method, path, kind, trace_ids)
        transient = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
        if isinstance(error, transient):
            if kind != "read" and not never_sent:
                ambiguous = AmbiguousWriteError(
                    f"{method} {path}: no answer from {self.host} ({reason}); the write may "
                    "or may not have been committed",
                    trace_ids=list(trace_ids),
                )
                # A create is never resent; an idempotent write is, and stays "outcome
                # unknown" if its retries run out.
                return ambiguous if kind == "create" else RetryableFailure(ambiguous)
            final = TransportError(f"{method} {path}: no answer from {self.host} ({reason})")
            return RetryableFailure(final)
        return TransportError(f"{method} {path} to {self.host}: {reason}")

    def _unreachable(self, error: Exception, reason: str) -> UnreachableError:
        """The first connection of this client failed: most likely a wrong URL."""
        import httpx  # loaded by the connection already

        text = str(error).lower()
        if "name or service not known" in text or "nodename nor servname" in text or (
            "getaddrinfo" in text or "name resolution" in text or "no address" in text
        ):
            cause = f"the host name {self.host.rsplit(':', 1)[0]!r} is unknown (DNS lookup failed)"
        elif "refused" in text:
            cause = "the connection was refused: nothing listens at that address and port"
        elif isinstance(error, httpx.ConnectTimeout):
            cause = (f"no connection within {self.connect_timeout_seconds:g} s "
                     "(a firewall, a proxy, or a wrong address)")
        else:
            cause = f"the connection failed ({reason})"
        return UnreachableError(
            f"cannot reach {self.host}: {cause}. Check the base URL (--base-url, "
            "HUBSPOT_BASE_URL or the target's base_url in reconciler.yaml), that the server "
            "is running, and your network or proxy settings."
        )


# ---- helpers ------------------------------------------------------------------------------


def _json_or_none(content: bytes) -> Any:
    try:
        return jsonlib.loads(content) if content.strip() else None
    except ValueError:
        return None


def _field(body: Any, name: str) -> str | None:
    if isinstance(body, dict) and body.get(name) is not None:
        return str(body[name])
    return None


def _error_message(body: Any, answer: Answer, scrub: Callable[[str], str]) -> str:
    """HubSpot's message, or the start of a body that is not HubSpot's JSON (scrubbed
    before it is cut, so no piece of the token survives)."""
    message = _field(body, "message")
    if message:
        return scrub(message)
    text = scrub(answer.content.decode("utf-8", "replace").strip())
    if text and body is None:
        return text[:300]
    return answer.reason or f"HTTP {answer.status}"


def believable_header(headers: httpx.Headers, name: str, low: int, high: int) -> int | None:
    """Header ``name`` as a whole number from ``low`` to ``high``; None if it is absent,
    and (with a debug note) if it is not a plain number or is out of that range."""
    value = headers.get(name)
    if value is None:
        return None
    text = value.strip()
    if _WHOLE_NUMBER.fullmatch(text) and low <= int(text) <= high:
        return int(text)
    log.debug("ignored %s: %s (a whole number from %s to %s expected)",
              name, _quoted(value), f"{low:,}", f"{high:,}")
    return None


def _quoted(value: str) -> str:
    return repr(value) if _QUOTABLE.fullmatch(value) else f"a value of {len(value)} characters"


def rate_limit_headers(headers: httpx.Headers) -> dict[str, Any]:
    """The burst limit's headers, as ``RollingWindowLimiter.observe`` takes them."""
    low, high = BELIEVABLE_WINDOW_SECONDS
    interval = believable_header(
        headers, "X-HubSpot-RateLimit-Interval-Milliseconds", int(low * 1000), int(high * 1000)
    )
    return {
        "server_limit": believable_header(headers, "X-HubSpot-RateLimit-Max", 1,
                                          MAX_BELIEVABLE_LIMIT),
        "remaining": believable_header(headers, "X-HubSpot-RateLimit-Remaining", 0,
                                       MAX_BELIEVABLE_LIMIT),
        "window_seconds": interval / 1000 if interval is not None else None,
    }


def daily_remaining_header(headers: httpx.Headers) -> int | None:
    """``X-HubSpot-RateLimit-Daily-Remaining``; None (unknown) if absent or unbelievable."""
    return believable_header(
        headers, "X-HubSpot-RateLimit-Daily-Remaining", 0, MAX_BELIEVABLE_DAILY
    )
