"""The one place a request to HubSpot is sent: auth, deadline, rate limits, retries, errors.

``HubSpotConnection`` owns the one ``httpx.Client`` (keep-alive, HTTP/1.1, thread-safe),
the limiters (``reconciler.ratelimit``) and the retry policy (``reconciler.retrying``);
``reconciler.client`` builds HubSpot's endpoints on top of it. httpx exceptions and error
answers become ``reconciler.errors`` here: nothing outside sees an httpx type.

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
sending, waiting and reading the whole answer, retries and backoff included; only the
pauses HubSpot asks for (429, 423, Retry-After) and our own rate limiter do not count.

The access token is sent in the ``Authorization`` header only. It is checked before any
request (no whitespace, control or non-ASCII characters; the error names the environment
variable, never the value), and every printed form of it (raw, repr, JSON, URL-encoded,
bytes) is scrubbed from error messages and from the log records of ``reconciler``,
``httpx`` and ``httpcore``.
"""

from __future__ import annotations

import json as jsonlib
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, quote_plus, urlsplit

import httpx

from reconciler import __version__
from reconciler.crm_records import readable_message
from reconciler.errors import (
    AmbiguousWriteError,
    ApiError,
    ConfigError,
    DeadlineError,
    InvalidPropertiesError,
    RateLimitError,
    ReconcilerError,
    TransportError,
    UnreachableError,
    UnusableAnswerError,
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

#: Share of the burst limit left unused, against clock skew and requests in flight
#: (4 of 100, 7 of 190: about the requests a client has in flight at once). It was 8%
#: while the limiter also booked our own in-flight requests as another app's
#: (``ratelimit``), which capped an apply at 92% of the limit; 4% lets it reach 96%.
RATE_LIMIT_HEADROOM = 0.04
_RETRYABLE_5XX = frozenset({500, 502, 503, 504, 521, 523, 524})
_DATE_VERSION = re.compile(r"^\d{4}-\d{2}$")
#: The loggers whose records are scrubbed of the token (httpcore logs per module).
_SCRUBBED_LOGGERS = (
    "reconciler", "reconciler.http", "httpx", "httpcore.connection", "httpcore.http11",
    "httpcore.http2", "httpcore.proxy", "httpcore.socks",
)  # fmt: skip

#: "read": idempotent, retried on every transient failure. "write": an idempotent write
#: (update, upsert, associations), retried like a read, but a write whose answer is lost
#: or unusable is "outcome unknown". "create": may not be resent once the server may have
#: seen it (a duplicate record is worse than a failed apply).
RequestKind = Literal["read", "write", "create"]


@dataclass(frozen=True)
class ClientSettings:
    """How to reach one portal; checked when made (https, or http only to loopback)."""

    base_url: str  # e.g. "https://api.hubapi.com" or "http://127.0.0.1:8080"
    token: str = field(repr=False)  # never printed, logged, or written anywhere
    api_version: str = "v3"  # "v3" -> /crm/v3/objects/..., "2026-03" -> /crm/objects/2026-03/...
    #: One overall deadline per request: connect, send, wait and read the whole answer,
    #: retries included (pauses HubSpot asks for are not counted).
    timeout_seconds: float = 60.0
    connect_timeout_seconds: float = 10.0  # one connection attempt (TCP, then TLS)
    max_retries: int = 6
    requests_per_10s: int | None = 100  # the app's burst limit (tier); None = no limiter
    search_per_second: int | None = 5
    concurrency: int = 4  # worker threads for run_batches
    user_agent: str = f"hubspot-reconciler/{__version__}"
    retry_initial_seconds: float = 0.5  # backoff ceiling of the first retry (doubles, jittered)
    retry_max_seconds: float = 30.0
    max_retry_after_seconds: float = 120.0  # a longer Retry-After fails instead of waiting
    token_env: str = "HUBSPOT_ACCESS_TOKEN"  # where the token came from, for error messages

    def __post_init__(self) -> None:
        check_base_url(self.base_url)
        check_token(self.token, self.token_env)
        if self.api_version != "v3" and not _DATE_VERSION.match(self.api_version):
            raise ConfigError(
                f"api_version {self.api_version!r} is neither 'v3' nor a date version like '2026-03'"
            )
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, not {self.concurrency}")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must not be negative, not {self.max_retries}")
        if not self.timeout_seconds > 0 or not self.connect_timeout_seconds > 0:
            raise ConfigError("timeout_seconds and connect_timeout_seconds must be positive")


def check_token(token: str, source: str) -> None:
    """Refuse a token that cannot be a HubSpot access token, before it is ever sent.

    HubSpot's tokens are printable ASCII without spaces. Anything else (a pasted line
    break, a non-breaking space, a smart quote) would fail in the HTTP layer, whose error
    prints the header, token included. The message names ``source``, never the value.
    """
    if not token or not token.strip():
        raise ConfigError(f"no HubSpot access token given ({source} is empty)")
    if any(c in "\r\n" for c in token):
        problem = "a line break"
    elif any(c.isspace() for c in token):
        problem = "a space or other whitespace"
    elif not token.isascii():
        problem = "a non-ASCII character"
    elif any(ord(c) < 0x20 or ord(c) == 0x7F for c in token):
        problem = "a control character"
    else:
        return
    raise ConfigError(
        f"the access token in {source} contains {problem}, so it cannot be a HubSpot token "
        f"and was not sent. Set {source} again to the token exactly as HubSpot shows it "
        "(private app > Access token), without quotes or line breaks."
    )


#: A "token" shorter than this (a test's "t") is no secret, and scrubbing it would
#: garble every message it occurs in.
_MIN_SECRET_LENGTH = 6


def secret_forms(secret: str) -> list[str]:
    """Every way ``secret`` may be printed: raw, repr-escaped, JSON-escaped, URL-encoded,
    and as a bytes repr (``b'Bearer ...'``), longest first."""
    if len(secret) < _MIN_SECRET_LENGTH:
        return []
    forms = {
        secret,
        repr(secret)[1:-1],
        secret.encode("unicode_escape").decode("ascii"),
        jsonlib.dumps(secret)[1:-1],
        jsonlib.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        repr(secret.encode("utf-8", "backslashreplace"))[2:-1],
    }
    return sorted((f for f in forms if f), key=len, reverse=True)


class _Scrubber(logging.Filter):
    """Replaces every form of the token in a log record (installed per connection)."""

    def __init__(self, scrub: Callable[[str], str]) -> None:
        super().__init__()
        self._scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's business
            return True
        clean = self._scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


@dataclass
class _Clock:
    """One request's deadline: starts with its first attempt; pauses the server asked
    for (and our own limiter's waits) push it back."""

    seconds: float
    deadline: float | None = None

    def start(self) -> None:
        if self.deadline is None:
            self.deadline = time.monotonic() + self.seconds

    def extend(self, seconds: float) -> None:
        if self.deadline is not None:
            self.deadline += seconds

    def remaining(self) -> float:
        self.start()
        assert self.deadline is not None
        return self.deadline - time.monotonic()


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: httpx.Headers
    content: bytes
    reason: str


class _OutOfTime(Exception):
    """The request's deadline passed while sending or reading."""


class HubSpotConnection:
    """Sends requests; counts ``requests_sent``, ``retries`` and ``rate_limited``."""

    def __init__(
        self, settings: ClientSettings, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.settings = settings
        self._secrets = secret_forms(settings.token)
        parts = urlsplit(settings.base_url)
        self.host = parts.netloc or settings.base_url
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
        self._scrubber = _Scrubber(self.scrub)
        for name in _SCRUBBED_LOGGERS:
            logging.getLogger(name).addFilter(self._scrubber)
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
        #: ``X-HubSpot-RateLimit-Daily-Remaining`` of the latest answer that carried it
        #: (search answers and OAuth calls carry none): the daily budget check reads it
        self.daily_remaining: int | None = None
        #: Whether the server has answered anything yet: until it has, a refused
        #: connection or an unknown host is a wrong URL, not a hiccup worth retrying.
        self.reached = False

    def close(self) -> None:
        self._http.close()
        for name in _SCRUBBED_LOGGERS:
            logging.getLogger(name).removeFilter(self._scrubber)

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
        clock = _Clock(self.settings.timeout_seconds)

        def attempt(number: int) -> Any:
            return self._attempt(
                method, path, json=json, params=params, kind=kind, search=search,
                trace_ids=trace_ids, number=number, clock=clock,
            )

        def on_retry(failure: RetryableFailure, pause: float) -> None:
            # No log line of its own: the next attempt's line carries its number.
            with self._stats_lock:
                self.retries += 1
            if failure.paced:
                clock.extend(pause)

        def give_up(failure: RetryableFailure, pause: float) -> bool:
            return not failure.paced and clock.remaining() - pause <= 0

        try:
            return call_with_retries(attempt, self._policy, on_retry=on_retry, give_up=give_up)
        except TransportError as error:
            # A read whose retries ran into the deadline says so, naming the host. (A
            # write's last error already says whether it may have been committed.)
            if (
                kind == "read"
                and type(error) is TransportError
                and clock.deadline is not None
                and clock.remaining() <= 0
            ):
                raise self._out_of_time(method, path, kind, trace_ids) from None
            raise

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

    def scrub(self, text: str) -> str:
        """``text`` with every printed form of the token replaced by ``***``."""
        for form in self._secrets:
            if form in text:
                text = text.replace(form, "***")
        return text

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
        clock: _Clock,
    ) -> Any:
        limiter = self.search_limiter if search else self.rate_limiter
        if limiter is not None:
            # Our own pacing is not the server's slowness: it does not eat the deadline.
            clock.extend(limiter.acquire())
        clock.start()
        with self._stats_lock:
            self.requests_sent += 1
        started = time.monotonic()
        try:
            answer = self._exchange(method, path, json=json, params=params, clock=clock)
        except _OutOfTime:
            log.debug("%s %s -> deadline passed after %.0f ms (attempt %d)", method, path,
                      (time.monotonic() - started) * 1000, number)
            raise self._out_of_time(method, path, kind, trace_ids) from None
        except httpx.DecodingError as error:  # an answer came, in an encoding that is broken
            self.reached = True
            raise self.unusable(method, path, kind, f"its body cannot be decoded: {error}",
                                trace_ids) from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as error:
            elapsed = (time.monotonic() - started) * 1000
            log.debug("%s %s -> %s in %.0f ms (attempt %d)", method, path,
                      type(error).__name__, elapsed, number)
            raise self._transport_failure(error, method, path, kind, trace_ids, clock) from None
        self.reached = True
        elapsed = (time.monotonic() - started) * 1000
        log.debug("%s %s -> %d in %.0f ms (attempt %d)", method, path,
                  answer.status, elapsed, number)
        daily = _int_header(answer.headers, "X-HubSpot-RateLimit-Daily-Remaining")
        if daily is not None:
            self.daily_remaining = daily
        if limiter is not None and not search and answer.status != 429:
            # A 429's Remaining=0 is handled by its retry wait, not booked as requests.
            limiter.observe(**_rate_limit_headers(answer.headers))
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
        raise self._status_failure(answer, method, path, kind, trace_ids, limiter, search)

    def _exchange(
        self, method: str, path: str, *, json: Any, params: Mapping[str, str] | None, clock: _Clock
    ) -> _Answer:
        """One request and its whole answer, all within what is left of the deadline.

        httpx's timeouts bound each network operation, not the exchange: each phase gets
        what remains of the deadline, and the body is read chunk by chunk so a server that
        answers a byte at a time cannot hold the request open past it.
        """
        remaining = clock.remaining()
        if remaining <= 0:
            raise _OutOfTime
        timeout = httpx.Timeout(
            remaining, connect=min(remaining, self.settings.connect_timeout_seconds)
        )
        request = self._http.build_request(method, path, json=json, params=params, timeout=timeout)
        response = self._http.send(request, stream=True)
        try:
            remaining = clock.remaining()
            if remaining <= 0:
                raise _OutOfTime
            # httpcore reads the body's read timeout from this dict when the body starts.
            response.request.extensions["timeout"] = httpx.Timeout(remaining).as_dict()
            chunks = []
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                if clock.remaining() <= 0:
                    raise _OutOfTime
            return _Answer(response.status_code, response.headers, b"".join(chunks),
                           response.reason_phrase)
        finally:
            response.close()

    # ---- failures ---------------------------------------------------------------------------

    def _out_of_time(
        self, method: str, path: str, kind: RequestKind, trace_ids: Sequence[str]
    ) -> ReconcilerError:
        seconds = f"{self.settings.timeout_seconds:g}"
        if kind != "read":
            return AmbiguousWriteError(
                f"{method} {path}: no whole answer from {self.host} within {seconds} s; the "
                "write may or may not have been committed",
                trace_ids=list(trace_ids),
            )
        return DeadlineError(
            f"{method} {path}: no whole answer from {self.host} within {seconds} s (retries "
            f"included). Check that {self.host} is HubSpot's API (or your emulator) and that "
            "it answers, and your network or proxy; then run the command again."
        )

    def _status_failure(
        self,
        answer: _Answer,
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
        retry_after = retry_after_seconds(answer.headers.get("Retry-After"))
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
                return RetryableFailure(error, retry_after=retry_after, paced=True)
            if search:
                # No headers on search answers; HubSpot's search window is one second.
                if limiter is not None:
                    limiter.exhausted()  # its next slot is a window away
                    return RetryableFailure(error, paced=True)
                return RetryableFailure(error, min_wait=1.0, paced=True)
            interval = _int_header(answer.headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
            if interval is None:
                return RetryableFailure(error, paced=True)  # no hint at all: plain backoff
            # The rolling window is spent: a slot frees when the oldest request in it
            # leaves; ours is the best estimate we have (at most one interval away).
            wait_for = limiter.until_oldest_expires() if limiter is not None else interval / 1000
            return RetryableFailure(error, min_wait=min(wait_for, interval / 1000), paced=True)
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

    def _transport_failure(
        self,
        error: Exception,
        method: str,
        path: str,
        kind: RequestKind,
        trace_ids: Sequence[str],
        clock: _Clock,
    ) -> Exception:
        reason = self.scrub(f"{type(error).__name__}: {error}".rstrip(": "))
        # Connect errors (and waiting for a pooled connection) happen before a byte of
        # the request is sent: safe to resend even for a create.
        never_sent = isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout)) and not self.reached:
            return self._unreachable(error, reason)
        if isinstance(error, httpx.TimeoutException) and not never_sent and clock.remaining() <= 0:
            return self._out_of_time(method, path, kind, trace_ids)
        transient = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
        if isinstance(error, transient):
            if kind == "create" and not never_sent:
                return AmbiguousWriteError(
                    f"{method} {path}: no answer from {self.host} ({reason}); the write may "
                    "or may not have been committed",
                    trace_ids=list(trace_ids),
                )
            final: ReconcilerError
            if kind == "write" and not never_sent:
                final = AmbiguousWriteError(
                    f"{method} {path}: no answer from {self.host} ({reason}); the write may "
                    "or may not have been committed",
                    trace_ids=list(trace_ids),
                )
            else:
                final = TransportError(f"{method} {path}: no answer from {self.host} ({reason})")
            return RetryableFailure(final)
        return TransportError(f"{method} {path} to {self.host}: {reason}")

    def _unreachable(self, error: Exception, reason: str) -> UnreachableError:
        """The first connection of this client failed: most likely a wrong URL."""
        text = str(error).lower()
        if "name or service not known" in text or "nodename nor servname" in text or (
            "getaddrinfo" in text or "name resolution" in text or "no address" in text
        ):
            cause = f"the host name {self.host.rsplit(':', 1)[0]!r} is unknown (DNS lookup failed)"
        elif "refused" in text:
            cause = "the connection was refused: nothing listens at that address and port"
        elif isinstance(error, httpx.ConnectTimeout):
            cause = (f"no connection within {self.settings.connect_timeout_seconds:g} s "
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


def _error_message(body: Any, answer: _Answer, scrub: Callable[[str], str]) -> str:
    """HubSpot's message, or the start of a body that is not HubSpot's JSON (scrubbed
    before it is cut, so no piece of the token survives)."""
    message = _field(body, "message")
    if message:
        return scrub(message)
    text = scrub(answer.content.decode("utf-8", "replace").strip())
    if text and body is None:
        return text[:300]
    return answer.reason or f"HTTP {answer.status}"


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
