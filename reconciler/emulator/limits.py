"""Rate limits as HubSpot applies them (facts §2).

A rolling 10-second window per token (``TEN_SECONDLY_ROLLING``), an optional daily
count (``DAILY``, reset at midnight in the account's time zone, as HubSpot resets it), and
a separate per-second limit for search (``SECONDLY``). Search
responses carry no rate-limit headers; every other admitted response carries
``X-HubSpot-RateLimit-Max/-Remaining/-Interval-Milliseconds`` and ``-Daily``,
``-Daily-Remaining``, as HubSpot's private-app answers do. With a limit off, its headers
still come, with a maximum no run reaches (``UNLIMITED_PER_10S``, ``UNLIMITED_DAILY``), so a
client's header handling is exercised in every run.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from reconciler.clock import SYSTEM_CLOCK, Clock
from reconciler.emulator.config import EmulatorConfig

WINDOW_SECONDS = 10.0
UNLIMITED_PER_10S = 1_000_000  # the Max shown when the burst limit is off
UNLIMITED_DAILY = 1_000_000_000  # the Daily shown when the daily limit is off


def rate_limit_body(policy: str, message: str) -> dict[str, Any]:
    """HubSpot's 429 body: note ``errorType`` and no ``category`` (facts §2)."""
    return {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy,
        "requestId": str(uuid.uuid4()),
    }


MESSAGES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "DAILY": "You have reached your daily limit.",
    "SECONDLY": "You have reached your secondly limit.",
}


class RateLimiter:
    """Counts requests per token, on the emulator's clock; thread-safe."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = {}
        self._search: dict[str, deque[float]] = {}
        self._daily: dict[str, int] = {}
        self._day: date | None = None  # the account's day the daily counts are for

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
            self._search.clear()
            self._daily.clear()
            self._day = None

    def daily_used(self, token: str) -> int:
        """Requests counted for a token today (what the API usage endpoint reports)."""
        with self._lock:
            return self._daily.get(token, 0)

    def _roll_day(self, config: EmulatorConfig) -> None:
        """Forget the daily counts once the account's day has changed."""
        today = datetime.fromtimestamp(self._clock.time(), ZoneInfo(config.time_zone)).date()
        if today != self._day:
            self._day = today
            self._daily.clear()

    def admit(
        self, token: str, config: EmulatorConfig, *, search: bool
    ) -> tuple[dict[str, str], str | None]:
        """Count one request. Returns its headers and the policy it broke (None: admitted)."""
        now = self._clock.monotonic()
        with self._lock:
            if search:
                return {}, self._admit_search(token, config, now)
            headers: dict[str, str] = {}
            self._roll_day(config)
            limit = config.rate_limit_per_10s
            window = self._windows.setdefault(token, deque())
            while window and window[0] <= now - WINDOW_SECONDS:
                window.popleft()
            daily_used = self._daily.get(token, 0)
            broken: str | None = None
            if config.daily_limit is not None and daily_used >= config.daily_limit:
                broken = "DAILY"
            elif limit is not None and len(window) >= limit:
                broken = "TEN_SECONDLY_ROLLING"
            if broken is None:
                window.append(now)
                self._daily[token] = daily_used = daily_used + 1
            shown = limit if limit is not None else UNLIMITED_PER_10S
            daily = config.daily_limit if config.daily_limit is not None else UNLIMITED_DAILY
            headers["X-HubSpot-RateLimit-Max"] = str(shown)
            headers["X-HubSpot-RateLimit-Remaining"] = str(max(0, shown - len(window)))
            headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(int(WINDOW_SECONDS * 1000))
            headers["X-HubSpot-RateLimit-Daily"] = str(daily)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, daily - daily_used))
            return headers, broken

    def _admit_search(self, token: str, config: EmulatorConfig, now: float) -> str | None:
        limit = config.search_per_second
        if limit is None:
            return None
        window = self._search.setdefault(token, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= limit:
            return "SECONDLY"
        window.append(now)
        return None
