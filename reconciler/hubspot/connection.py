"""The one place a request to HubSpot is sent: auth, deadline, rate limits, retries, errors.

``HubSpotConnection`` owns the one ``httpx.Client`` (keep-alive, HTTP/1.1, thread-safe),
the limiters (``reconciler.hubspot.ratelimit``) and the retry policy
(``reconciler.hubspot.retrying``); ``reconciler.hubspot.client`` builds HubSpot's endpoints
on top of it. httpx exceptions and error answers become ``reconciler.errors`` here: nothing
outside sees an httpx type.

Which failures are sent again (facts §2, §3)::

    answer / failure                kind="read": reads,   kind="write":      kind="create": batch
                                    archive               update, upsert,    create, calendar
                                                          associations       create
    429 TEN_SECONDLY / SECONDLY     retry (after Retry-After, or once our oldest request
                                    leaves the window; search: one second)
    429 DAILY                       RateLimitError at once: the apply stops
    423 Locked                      retry, >= 2 s later
    500 502 503 504 521 523 524     retry                 retry              AmbiguousWriteError
    connect error, first contact    UnreachableError at once (a wrong URL fails in seconds)
    connect error, later            retry                 retry              retry
    timeout, dropped connection     retry                 retry              AmbiguousWriteError
    deadline passed                 DeadlineError         AmbiguousWriteError
    2xx of the wrong shape          UnusableAnswerError   AmbiguousWriteError
    any other non-2xx               ApiError (InvalidPropertiesError for refused properties)

Every request has one overall deadline (``ClientSettings.timeout_seconds``): connecting,
sending, waiting and reading the whole answer, and every wait before and between its
attempts (our rate limiter, backoff, the pauses HubSpot asks for with a 429, a 423 or
``Retry-After``), each also capped (``reconciler.hubspot.deadline``). A wait that would pass the
deadline is not started: the request fails at once with a ``DeadlineError`` that names
the host (or, after a failure of its own, with that failure). Rate-limit headers are
believed only within HubSpot's ranges (``reconciler.hubspot.failures``). The time is read,
and every wait is made, on ``ClientSettings.clock`` (``reconciler.clock``): a test on a fake
clock sees a 10 s pause spend 10 s of the deadline in no time at all.

What each failure becomes is decided in ``reconciler.hubspot.failures``. The access token
is sent in the ``Authorization`` header only; ``reconciler.hubspot.token`` checks it before
any request and scrubs every printed form of it from error messages and log records.
"""

from __future__ import annotations

import functools
import json as jsonlib
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from reconciler import __version__
from reconciler.clock import SYSTEM_CLOCK, Clock
from reconciler.errors import ConfigError, ReconcilerError, TransportError
from reconciler.hubspot.deadline import Deadline, WaitTooLong
from reconciler.hubspot.failures import (
    Answer,
    FailureMapper,
    RequestKind,
    daily_remaining_header,
    rate_limit_headers,
)
from reconciler.hubspot.ratelimit import RollingWindowLimiter
from reconciler.hubspot.retrying import RetryableFailure, RetryPolicy, call_with_retries
from reconciler.hubspot.token import TokenScrubber, check_token, secret_forms
from reconciler.settings import check_base_url

if TYPE_CHECKING:
    import ssl

    import httpx

__all__ = [
    "RATE_LIMIT_HEADROOM",
    "ClientSettings",
    "HubSpotConnection",
    "check_token",
    "secret_forms",
]

log = logging.getLogger("reconciler.http")

#: Share of the burst limit left unused, against clock skew and requests in flight
#: (4 of 100, 7 of 190: about the requests a client has in flight at once). It was 8%
#: while the limiter also booked our own in-flight requests as another app's
#: (``ratelimit``), which capped an apply at 92% of the limit; 4% lets it reach 96%.
RATE_LIMIT_HEADROOM = 0.04
_DATE_VERSION = re.compile(r"^\d{4}-\d{2}$")


@dataclass(frozen=True)
class ClientSettings:
    """How to reach one portal; checked when made (https, or http only to loopback)."""

    base_url: str  # e.g. "https://api.hubapi.com" or "http://127.0.0.1:8080"
    token: str = field(repr=False)  # never printed, logged, or written anywhere
    api_version: str = "v3"  # "v3" -> /crm/v3/objects/..., "2026-03" -> /crm/objects/2026-03/...
    #: One overall deadline per request: connect, send and read the whole answer, and
    #: every wait (rate limiter, backoff, pauses HubSpot asks for), retries included.
    timeout_seconds: float = 60.0
    connect_timeout_seconds: float = 10.0  # one connection attempt (TCP, then TLS)
    max_retries: int = 6
    requests_per_10s: int | None = 100  # the app's burst limit (tier); None = no limiter
    search_per_second: int | None = 5
    concurrency: int = 4  # worker threads for run_batches
    user_agent: str = f"hubspot-reconciler/{__version__}"
    retry_initial_seconds: float = 0.5  # backoff ceiling of the first retry (doubles, jittered)
    retry_max_seconds: float = 30.0
    max_retry_after_seconds: float = 120.0  # the longest single wait; a longer one fails
    token_env: str = "HUBSPOT_ACCESS_TOKEN"  # where the token came from, for error messages
    #: The time and every wait of the client (deadline, retries, rate limits) and of what
    #: runs on it (recovery, search-lag waits): a test passes a fake one.
    clock: Clock = field(default=SYSTEM_CLOCK, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_base_url(self.base_url)
        check_token(self.token, self.token_env)
        if self.api_version != "v3" and not _DATE_VERSION.match(self.api_version):
            raise ConfigError(
                f"api_version {self.api_version!r} is neither 'v3' nor a date version "
                "like '2026-03'"
            )
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, not {self.concurrency}")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must not be negative, not {self.max_retries}")
        if not self.timeout_seconds > 0 or not self.connect_timeout_seconds > 0:
            raise ConfigError("timeout_seconds and connect_timeout_seconds must be positive")


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS context, made once for every client of the process: making one
    reads the CA bundle, about 30 ms, longer than a request to a local emulator takes."""
    import httpx

    return httpx.create_ssl_context()


class _OutOfTime(Exception):
    """The request's deadline passed while sending or reading."""


class HubSpotConnection:
    """Sends requests; counts ``requests_sent``, ``retries`` and ``rate_limited``."""

    def __init__(
        self, settings: ClientSettings, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.clock = settings.clock
        # httpx (and the rich and pygments its own command line brings) is imported by the
        # first connection, not at import: an offline plan never makes one (~70 ms).
        import httpx

        parts = urlsplit(settings.base_url)
        self.host = parts.netloc or settings.base_url
        self._http = httpx.Client(
            base_url=settings.base_url.rstrip("/"),
            transport=transport,
            verify=_tls_context(),
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
        self._token = TokenScrubber(settings.token)
        self._token.install()
        self._failures = FailureMapper(
            self.host, settings.timeout_seconds, settings.connect_timeout_seconds, self.scrub,
            settings.clock,
        )
        self._policy = RetryPolicy(
            max_retries=settings.max_retries,
            initial_seconds=settings.retry_initial_seconds,
            max_seconds=settings.retry_max_seconds,
        )
        self.rate_limiter: RollingWindowLimiter | None = (
            RollingWindowLimiter(settings.requests_per_10s, 10.0, headroom=RATE_LIMIT_HEADROOM,
                                 clock=settings.clock)
            if settings.requests_per_10s
            else None
        )
        # Search answers carry no rate-limit headers (facts §2): a fixed, slightly
        # stretched window keeps network jitter from packing N+1 into HubSpot's second.
        self.search_limiter: RollingWindowLimiter | None = (
            RollingWindowLimiter(settings.search_per_second, 1.1, clock=settings.clock)
            if settings.search_per_second
            else None
        )
        self._stats_lock = threading.Lock()
        self.requests_sent = 0
        self.retries = 0
        self.rate_limited = 0
        #: ``X-HubSpot-RateLimit-Daily-Remaining`` of the latest answer that carried it
        #: (search answers and OAuth calls carry none): the daily budget check reads it
        self.daily_remaining: int | None = None
        #: Whether the server has answered anything yet: until it has, a refused
        #: connection or an unknown host is a wrong URL, not a hiccup worth retrying.
        self.reached = False

    def close(self) -> None:
        self._http.close()
        self._token.remove()

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
        """Send one request with retries, within its deadline; return the decoded JSON
        body (None for 204 or an empty body)."""
        deadline = self._deadline()
        previous: RetryableFailure | None = None  # the last failure, if any

        def attempt(number: int) -> Any:
            if number > 1:
                with self._stats_lock:
                    self.retries += 1
            return self._attempt(
                method, path, json=json, params=params, kind=kind, search=search,
                trace_ids=trace_ids, number=number, deadline=deadline,
            )

        def on_retry(failure: RetryableFailure, pause: float) -> None:
            # No log line of its own: the next attempt's line carries its number.
            nonlocal previous
            previous = failure

        try:
            return call_with_retries(attempt, self._policy, deadline=deadline, on_retry=on_retry)
        except WaitTooLong as refused:
            raise self._failures.wait_refused(
                method, path, kind, trace_ids, refused, previous
            ) from None
        except TransportError as error:
            # A read whose retries ran into the deadline says so, naming the host. (A
            # write's last error already says whether it may have been committed.)
            if kind == "read" and type(error) is TransportError and deadline.remaining() <= 0:
                raise self._failures.out_of_time(method, path, kind, trace_ids) from None
            raise

    def _deadline(self) -> Deadline:
        """A new request's deadline: every wait of the request goes through it."""
        return Deadline(
            self.settings.timeout_seconds,
            longest_wait=self.settings.max_retry_after_seconds,
            clock=self.clock,
        )

    def unusable(
        self, method: str, path: str, kind: RequestKind, reason: str, trace_ids: Sequence[str] = ()
    ) -> ReconcilerError:
        """The error for a 2xx whose body cannot be used: for a write, "outcome unknown"
        (settle by marker, never resend blind); for a read, an error, never "no records"."""
        return self._failures.unusable(method, path, kind, reason, trace_ids)

    def scrub(self, text: str) -> str:
        """``text`` with every printed form of the token replaced by ``***``."""
        return self._token.scrub(text)


    # ---- one attempt ----------------------------------------------------------------------

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
        deadline: Deadline,
    ) -> Any:
        import httpx  # loaded by __init__ already: a dictionary lookup

        limiter = self.search_limiter if search else self.rate_limiter
        if limiter is not None:
            limiter.acquire(deadline.wait)  # (a wait past the deadline raises WaitTooLong)
        with self._stats_lock:
            self.requests_sent += 1
        started = self.clock.monotonic()
        try:
            answer = self._exchange(method, path, json=json, params=params, deadline=deadline)
        except _OutOfTime:
            log.debug("%s %s -> deadline passed after %.0f ms (attempt %d)", method, path,
                      (self.clock.monotonic() - started) * 1000, number)
            raise self._failures.out_of_time(method, path, kind, trace_ids) from None
        except httpx.DecodingError as error:  # an answer came, in an encoding that is broken
            self.reached = True
            raise self.unusable(method, path, kind, f"its body cannot be decoded: {error}",
                                trace_ids) from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as error:
            elapsed = (self.clock.monotonic() - started) * 1000
            log.debug("%s %s -> %s in %.0f ms (attempt %d)", method, path,
                      type(error).__name__, elapsed, number)
            raise self._failures.transport_failure(
                error, method, path, kind, trace_ids, deadline.remaining, self.reached
            ) from None
        self.reached = True
        elapsed = (self.clock.monotonic() - started) * 1000
        log.debug("%s %s -> %d in %.0f ms (attempt %d)", method, path,
                  answer.status, elapsed, number)
        daily = daily_remaining_header(answer.headers)
        if daily is not None:
            self.daily_remaining = daily
        if limiter is not None and not search and answer.status != 429:
            # A 429's Remaining=0 is handled by its retry wait, not booked as requests.
            limiter.observe(**rate_limit_headers(answer.headers))
        if 200 <= answer.status < 300:
            if answer.status == 204 or not answer.content.strip():
                return None
            try:
                return jsonlib.loads(answer.content)
            except ValueError:
                raise self.unusable(
                    method, path, kind, f"HubSpot answered {answer.status} with a body that is "
                    "not JSON", trace_ids,
                ) from None
        if answer.status == 429:
            with self._stats_lock:
                self.rate_limited += 1
        raise self._failures.status_failure(
            answer, method, path, kind, trace_ids, limiter, search
        )

    def _exchange(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        params: Mapping[str, str] | None,
        deadline: Deadline,
    ) -> Answer:
        """One request and its whole answer, all within what is left of the deadline.

        httpx's timeouts bound each network operation, not the exchange: each phase gets
        what remains of the deadline, and the body is read chunk by chunk so a server that
        answers a byte at a time cannot hold the request open past it.
        """
        import httpx  # loaded by __init__ already

        remaining = deadline.remaining()
        if remaining <= 0:
            raise _OutOfTime
        timeout = httpx.Timeout(
            remaining, connect=min(remaining, self.settings.connect_timeout_seconds)
        )
        request = self._http.build_request(method, path, json=json, params=params, timeout=timeout)
        response = self._http.send(request, stream=True)
        try:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise _OutOfTime
            # httpcore reads the body's read timeout from this dict when the body starts.
            response.request.extensions["timeout"] = httpx.Timeout(remaining).as_dict()
            chunks = []
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                if deadline.remaining() <= 0:
                    raise _OutOfTime
            return Answer(response.status_code, response.headers, b"".join(chunks),
                           response.reason_phrase)
        finally:
            response.close()
