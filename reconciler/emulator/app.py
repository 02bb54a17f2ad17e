"""Everything behind the emulator's socket, for one request: route, bearer auth (401),
scopes (403), rate limits (429), an injected fault, the handler, and the request log.

``EmulatorApp`` holds the portal, the limits, the faults and the log, and answers
HubSpot's namespace; ``server`` puts it on a socket (and sends ``/__emulator/`` to
``inspection``). Every answer carries ``X-HubSpot-Correlation-Id``. Time comes from one
``Clock`` (``reconciler.clock``): slow answers, the rate-limit windows, the search lag and
the records' dates, so a test on a fake clock waits out none of them.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from reconciler.clock import SYSTEM_CLOCK, Clock
from reconciler.emulator import routing
from reconciler.emulator.config import EmulatorConfig, FaultConfig
from reconciler.emulator.faults import Fault, FaultInjector
from reconciler.emulator.http_types import ApiRequest, HubSpotError, Reply, error_body
from reconciler.emulator.limits import MESSAGES, RateLimiter, rate_limit_body
from reconciler.emulator.portal import Portal
from reconciler.emulator.store import Store

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. Read more about "
    "required scopes here: https://developers.hubspot.com/scopes."
)


class Dropped(Exception):
    """Close the connection without answering."""


class EmulatorApp:
    """Everything behind the socket: portal, limits, faults, request log, on one clock.
    Thread-safe."""

    def __init__(self, config: EmulatorConfig, clock: Clock = SYSTEM_CLOCK) -> None:
        self.initial_config = config
        self.clock = clock
        self.store = Store(config.data_path)
        self.limiter = RateLimiter(clock)
        self.portal = Portal(config, self.store, clock, self.limiter)
        self.faults = FaultInjector(config.faults, config.seed)
        self._log: deque[dict[str, Any]] = deque(maxlen=config.request_log_size)
        self._log_lock = threading.Condition()  # notified as each exchange is logged
        #: requests being answered now (a slow answer may outlive the client's wait)
        self._answering = 0
        self._answered = threading.Condition()

    @property
    def config(self) -> EmulatorConfig:
        return self.portal.config

    def set_config(self, **changes: Any) -> EmulatorConfig:
        """Swap in a new configuration (runtime knobs: lag, limits, scopes, faults...)."""
        config = replace(self.portal.config, **changes)
        self.portal.config = config
        if "faults" in changes or "seed" in changes:
            self.faults.configure(config.faults, changes.get("seed"))
        return config

    def set_faults(self, faults: FaultConfig, seed: int | None = None) -> None:
        self.portal.config = replace(self.portal.config, faults=faults)
        self.faults.configure(faults, seed)

    def reset(self, *, wait_seconds: float = 30.0) -> None:
        """Forget every record and request, and return to the configuration it started with,
        once the requests being answered are answered (at most ``wait_seconds``): a slow
        answer the client gave up on must not write into what comes after the reset."""
        with self._answered:
            self._answered.wait_for(lambda: self._answering == 0, wait_seconds)
        self.portal.config = self.initial_config
        self.portal.reset()
        self.faults.configure(self.initial_config.faults, self.initial_config.seed)
        self.limiter.reset()
        with self._log_lock:
            self._log.clear()

    def requests(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    def wait_for_request(
        self, match: Callable[[dict[str, Any]], bool], timeout: float
    ) -> dict[str, Any] | None:
        """The first logged exchange ``match`` accepts, waiting for one to be answered (at
        most ``timeout`` seconds of real time); None if none came."""
        found: dict[str, Any] | None = None

        def logged() -> bool:
            nonlocal found
            found = next((entry for entry in self._log if match(entry)), None)
            return found is not None

        with self._log_lock:
            self._log_lock.wait_for(logged, timeout)
        return found

    def _record(self, entry: dict[str, Any]) -> None:
        with self._log_lock:
            self._log.append(entry)
            self._log_lock.notify_all()

    # one request ---------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Any, raw_body: bytes) -> Reply:
        """Answer one request to HubSpot's namespace; raises ``Dropped`` to close the
        connection instead."""
        with self._answered:
            self._answering += 1
        try:
            return self._handle(method, target, headers, raw_body)
        finally:
            with self._answered:
                self._answering -= 1
                self._answered.notify_all()

    def _handle(self, method: str, target: str, headers: Any, raw_body: bytes) -> Reply:
        split = urlsplit(target)
        path = split.path
        query = parse_qs(split.query, keep_blank_values=True)
        correlation_id = str(uuid.uuid4())
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": split.query,
            "request_headers": {"content-type": headers.get("Content-Type", "")},
            "request_body": _parse_logged(raw_body),
            "status": None,
            "response_body": None,
            "response_headers": {},
            "dropped": None,
            "correlation_id": correlation_id,
            "time": self.clock.time(),
        }
        try:
            reply = self._answer(method, path, query, headers, raw_body, correlation_id, entry)
        except Dropped:
            self._record(entry)
            raise
        reply.headers["X-HubSpot-Correlation-Id"] = correlation_id
        if isinstance(reply.body, dict) and reply.body.get("status") == "error":
            reply.body.setdefault("correlationId", correlation_id)
        entry["status"] = reply.status
        entry["response_body"] = reply.body
        entry["response_headers"] = dict(reply.headers)
        self._record(entry)
        return reply

    def _answer(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any,
        raw_body: bytes, correlation_id: str, entry: dict[str, Any],
    ) -> Reply:
        config = self.portal.config
        found = routing.match(method, path)
        if found is None:
            return Reply(404, error_body("OBJECT_NOT_FOUND", f"No endpoint for {method} {path}"))
        if found == "method":
            return Reply(
                405, error_body("VALIDATION_ERROR", f"Method {method} is not allowed on {path}")
            )
        assert not isinstance(found, str)
        route, params = found
        token = _bearer(headers.get("Authorization", ""))
        if token is None or token != config.token:
            return Reply(401, error_body("INVALID_AUTHENTICATION", AUTH_MESSAGE))
        if config.scopes is not None:
            any_of = route.scope(self.portal, params)
            if any_of and not set(any_of) & set(config.scopes):
                return Reply(403, error_body(
                    "MISSING_SCOPES", SCOPES_MESSAGE,
                    errors=[{"message": "One or more of the following scopes are required.",
                             "context": {"requiredGranularScopes": list(any_of)}}],
                ))
        limit_headers, broken = self.limiter.admit(token, config, search=route.is_search)
        if broken is not None:
            return Reply(429, rate_limit_body(broken, MESSAGES[broken]), limit_headers)
        fault, delay, status = self.faults.decide()
        if delay:  # a slow answer: this thread waits on the emulator's clock
            self.clock.sleep(delay)
        if fault is Fault.ERROR_5XX:
            entry["fault"] = fault.value
            return Reply(status, error_body("INTERNAL_ERROR",
                                            "Internal error (injected by the emulator)"),
                         limit_headers)
        if fault is Fault.RATE_LIMIT_429:
            entry["fault"] = fault.value
            headers_429 = dict(limit_headers)
            if "X-HubSpot-RateLimit-Remaining" in headers_429:
                headers_429["X-HubSpot-RateLimit-Remaining"] = "0"
            policy = "SECONDLY" if route.is_search else "TEN_SECONDLY_ROLLING"
            return Reply(429, rate_limit_body(policy, MESSAGES[policy]), headers_429)
        if fault is Fault.DROP_BEFORE_WRITE:
            entry["dropped"] = "before_write"
            raise Dropped()
        try:
            body = json.loads(raw_body) if raw_body.strip() else None
        except (ValueError, UnicodeDecodeError) as exc:
            return Reply(
                400, error_body("VALIDATION_ERROR", f"Invalid input JSON: {exc}"), limit_headers
            )
        request = ApiRequest(method, path, params, query, body)
        try:
            reply = route.handler(self.portal, request)
        except HubSpotError as error:
            reply = Reply(error.status, error.body, dict(error.headers))
        if fault is Fault.DROP_AFTER_COMMIT:
            entry["dropped"] = "after_commit"
            entry["status"] = reply.status
            entry["response_body"] = reply.body
            raise Dropped()
        reply.headers.update(limit_headers)
        return reply


def _bearer(value: str) -> str | None:
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _parse_logged(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace")
