"""The one place a request to HubSpot is sent: auth, rate limits, retries, error mapping.

``HubSpotConnection`` owns the one ``httpx.Client`` (keep-alive, HTTP/1.1, thread-safe),
the limiters (``reconciler.ratelimit``) and the retry policy (``reconciler.retrying``);
``reconciler.client`` builds HubSpot's endpoints on top of it. httpx exceptions and error
answers become ``reconciler.errors`` here: nothing outside sees an httpx type.

Which failures are sent again (facts §2, §3)::

    answer / failure                      kind="read": reads, update,  kind="create": batch
                                          upsert, archive, association  create, single create,
                                          writes                        calendar create
    429 TEN_SECONDLY_ROLLING / SECONDLY   retry (after Retry-After, or once our oldest request
                                          leaves the window; search: one second)
    429 DAILY                             RateLimitError at once: the apply stops
    423 Locked                            retry, >= 2 s later
    500 502 503 504 521 523 524           retry                         AmbiguousWriteError
    connect error (nothing was sent)      retry                         retry
    read timeout, dropped connection      retry                         AmbiguousWriteError
    any other non-2xx                     ApiError

The access token is sent in the ``Authorization`` header only; it is never part of a
``repr``, a log line or an error message (messages are scrubbed of it as well).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from reconciler import __version__
from reconciler.errors import (
    AmbiguousWriteError,
    ApiError,
    ConfigError,
    RateLimitError,
    TransportError,
)
from reconciler.ratelimit import RollingWindowLimiter
from reconciler.retrying import (
    RetryableFailure,
    RetryPolicy,
    call_with_retries,
    retry_after_seconds,
)
from reconciler.settings import check_base_url

log = logging.getLogger("reconciler.http")

#: Share of the burst limit left unused, against clock skew and requests in flight.
RATE_LIMIT_HEADROOM = 0.08
_RETRYABLE_5XX = frozenset({500, 502, 503, 504, 521, 523, 524})
_DATE_VERSION = re.compile(r"^\d{4}-\d{2}$")

#: "read": idempotent, retried on every transient failure. "create": may not be resent
#: once the server may have seen it (a duplicate record is worse than a failed apply).
RequestKind = Literal["read", "create"]


@dataclass(frozen=True)
class ClientSettings:
    """How to reach one portal; checked when made (https, or http only to loopback)."""

    base_url: str  # e.g. "https://api.hubapi.com" or "http://127.0.0.1:8080"
    token: str = field(repr=False)  # never printed, logged, or written anywhere
    api_version: str = "v3"  # "v3" -> /crm/v3/objects/..., "2026-03" -> /crm/objects/2026-03/...
    timeout_seconds: float = 30.0
    max_retries: int = 6
    requests_per_10s: int | None = 100  # the app's burst limit (tier); None = no limiter
    search_per_second: int | None = 5
    concurrency: int = 4  # worker threads for run_batches
    user_agent: str = f"hubspot-reconciler/{__version__}"
    retry_initial_seconds: float = 0.5  # backoff ceiling of the first retry (doubles, jittered)
    retry_max_seconds: float = 30.0
    max_retry_after_seconds: float = 120.0  # a longer Retry-After fails instead of waiting

    def __post_init__(self) -> None:
        check_base_url(self.base_url)
        if not self.token or not self.token.strip():
            raise ConfigError("no HubSpot access token given (it must not be empty)")
        if self.api_version != "v3" and not _DATE_VERSION.match(self.api_version):
            raise ConfigError(
                f"api_version {self.api_version!r} is neither 'v3' nor a date version like '2026-03'"
            )
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, not {self.concurrency}")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must not be negative, not {self.max_retries}")


class HubSpotConnection:
    """Sends requests; counts ``requests_sent``, ``retries`` and ``rate_limited``."""

    def __init__(
        self, settings: ClientSettings, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.settings = settings
        self._token = settings.token
        self._http = httpx.Client(
            base_url=settings.base_url.rstrip("/"),
            transport=transport,
            timeout=httpx.Timeout(settings.timeout_seconds),
            headers={
                "Authorization": f"Bearer {settings.token}",
                "User-Agent": settings.user_agent,
                "Accept": "application/json",
            },
            limits=httpx.Limits(
                max_connections=max(10, settings.concurrency * 2),
                max_keepalive_connections=max(10, settings.concurrency * 2),
            ),
            follow_redirects=False,
        )
        self._policy = RetryPolicy(
            max_retries=settings.max_retries,
            initial_seconds=settings.retry_initial_seconds,
            max_seconds=settings.retry_max_seconds,
            max_retry_after_seconds=settings.max_retry_after_seconds,
        )
        self.rate_limiter: RollingWindowLimiter | None = (
            RollingWindowLimiter(settings.requests_per_10s, 10.0, headroom=RATE_LIMIT_HEADROOM)
            if settings.requests_per_10s
            else None
        )
        # Search answers carry no rate-limit headers (facts §2): a fixed, slightly
        # stretched window keeps network jitter from packing N+1 into HubSpot's second.
        self.search_limiter: RollingWindowLimiter | None = (
            RollingWindowLimiter(settings.search_per_second, 1.1)
            if settings.search_per_second
            else None
        )
        self._stats_lock = threading.Lock()
        self.requests_sent = 0
        self.retries = 0
        self.rate_limited = 0

    def close(self) -> None:
        self._http.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        kind: RequestKind = "read",
        search: bool = False,
        trace_ids: Sequence[str] = (),
    ) -> Any:
        """Send one request with retries; return the decoded JSON body (None for 204)."""

        def attempt(number: int) -> Any:
            return self._attempt(
                method, path, json=json, params=params, kind=kind, search=search,
                trace_ids=trace_ids, number=number,
            )

        def on_retry(failure: RetryableFailure, pause: float) -> None:
            # No log line of its own: the next attempt's line carries its number.
            with self._stats_lock:
                self.retries += 1

        return call_with_retries(attempt, self._policy, on_retry=on_retry)

    def _attempt(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        params: Mapping[str, str] | None,
        kind: RequestKind,
        search: bool,
        trace_ids: Sequence[str],
        number: int,
    ) -> Any:
        limiter = self.search_limiter if search else self.rate_limiter
        if limiter is not None:
            limiter.acquire()
        with self._stats_lock:
            self.requests_sent += 1
        started = time.monotonic()
        try:
            response = self._http.request(method, path, json=json, params=params)
        except httpx.HTTPError as error:
            elapsed = (time.monotonic() - started) * 1000
            log.debug("%s %s -> %s in %.0f ms (attempt %d)", method, path,
                      type(error).__name__, elapsed, number)
            raise self._transport_failure(error, method, path, kind, trace_ids) from None
        elapsed = (time.monotonic() - started) * 1000
        log.debug("%s %s -> %d in %.0f ms (attempt %d)", method, path,
                  response.status_code, elapsed, number)
        if limiter is not None and not search and response.status_code != 429:
            # A 429's Remaining=0 is handled by its retry wait, not booked as requests.
            limiter.observe(**_rate_limit_headers(response.headers))
        if response.is_success:
            if response.status_code == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise TransportError(
                    f"{method} {path}: HubSpot answered {response.status_code} with a body "
                    "that is not JSON"
                ) from None
        raise self._status_failure(response, method, path, kind, trace_ids, limiter, search)

    def _status_failure(
        self,
        response: httpx.Response,
        method: str,
        path: str,
        kind: RequestKind,
        trace_ids: Sequence[str],
        limiter: RollingWindowLimiter | None,
        search: bool,
    ) -> Exception:
        """The error for a non-2xx answer: final, or wrapped to be retried."""
        status = response.status_code
        body = _json_or_none(response)
        message = self._scrub(_error_message(body, response))
        fields: dict[str, Any] = {
            "category": _field(body, "category") or _field(body, "errorType"),
            "correlation_id": _field(body, "correlationId")
            or response.headers.get("X-HubSpot-Correlation-Id"),
            "method": method,
            "path": path,
        }
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if status == 429:
            policy = _field(body, "policyName")
            with self._stats_lock:
                self.rate_limited += 1
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
                return RetryableFailure(error, retry_after=retry_after)
            if search:
                # No headers on search answers; HubSpot's search window is one second.
                if limiter is not None:
                    limiter.exhausted()  # its next slot is a window away
                    return RetryableFailure(error)
                return RetryableFailure(error, min_wait=1.0)
            interval = _int_header(response.headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
            if interval is None:
                return RetryableFailure(error)  # no hint at all: plain backoff
            # The rolling window is spent: a slot frees when the oldest request in it
            # leaves; ours is the best estimate we have (at most one interval away).
            wait_for = limiter.until_oldest_expires() if limiter is not None else interval / 1000
            return RetryableFailure(error, min_wait=min(wait_for, interval / 1000))
        api_error = ApiError(status, message, **fields)
        if status == 423:
            return RetryableFailure(api_error, retry_after=retry_after, min_wait=2.0)
        if status in _RETRYABLE_5XX:
            if kind == "create":
                return AmbiguousWriteError(
                    f"{method} {path}: HubSpot answered {status} ({message}); the write may or "
                    "may not have been committed",
                    trace_ids=list(trace_ids),
                )
            return RetryableFailure(api_error, retry_after=retry_after)
        return api_error

    def _transport_failure(
        self,
        error: httpx.HTTPError,
        method: str,
        path: str,
        kind: RequestKind,
        trace_ids: Sequence[str],
    ) -> Exception:
        reason = self._scrub(f"{type(error).__name__}: {error}".rstrip(": "))
        # Connect errors (and waiting for a pooled connection) happen before a byte of
        # the request is sent: safe to resend even for a create.
        never_sent = isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        if isinstance(error, (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)):
            if kind == "create" and not never_sent:
                return AmbiguousWriteError(
                    f"{method} {path}: no answer from HubSpot ({reason}); the write may or may "
                    "not have been committed",
                    trace_ids=list(trace_ids),
                )
            return RetryableFailure(TransportError(f"{method} {path}: {reason}"))
        return TransportError(f"{method} {path}: {reason}")

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text



# ---- helpers ------------------------------------------------------------------------------


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _field(body: Any, name: str) -> str | None:
    if isinstance(body, dict) and body.get(name) is not None:
        return str(body[name])
    return None


def _error_message(body: Any, response: httpx.Response) -> str:
    message = _field(body, "message")
    if message:
        return message
    text = response.text.strip()
    if text and body is None:
        return text[:300]
    return response.reason_phrase or f"HTTP {response.status_code}"


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _rate_limit_headers(headers: httpx.Headers) -> dict[str, Any]:
    interval = _int_header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
    return {
        "server_limit": _int_header(headers, "X-HubSpot-RateLimit-Max"),
        "remaining": _int_header(headers, "X-HubSpot-RateLimit-Remaining"),
        "window_seconds": interval / 1000 if interval else None,
    }
