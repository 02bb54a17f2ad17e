"""What an emulator is set up to be: the portal it pretends to be and the faults it injects.

Everything here is a frozen value; the running server swaps whole values at runtime
(``Emulator.set_faults``, ``Emulator.set_config``) instead of mutating them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.errors import ConfigError


@dataclass(frozen=True)
class Owner:
    """A HubSpot owner (a user who can own records), in HubSpot's owner shape. ``archived``:
    a deactivated user, listed only with ``archived=true`` (owners guide)."""

    id: str
    email: str
    first_name: str
    last_name: str
    user_id: int
    archived: bool = False


DEFAULT_OWNERS: tuple[Owner, ...] = (
    Owner("1001", "alice@example.com", "Alice", "Anders", 5001),
    Owner("1002", "bob@example.com", "Bob", "Berg", 5002),
    Owner("1003", "carol@example.com", "Carol", "Chen", 5003),
)


@dataclass(frozen=True)
class FaultConfig:
    """Shares (0..1) of HubSpot-namespace requests that misbehave, rolled per request.

    ``error_5xx``: answered 500/502/503/504 before anything is written.
    ``drop_before_write``: the connection is closed with no answer and nothing written.
    ``drop_after_commit``: the write commits, then the connection is closed with no answer
    (the ambiguous case that makes naive clients create duplicates).
    ``rate_limit_429``: answered 429 TEN_SECONDLY_ROLLING as if the window were spent.
    ``slow``: answered after ``slow_seconds`` more.
    """

    error_5xx: float = 0.0
    drop_before_write: float = 0.0
    drop_after_commit: float = 0.0
    rate_limit_429: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 1.0

    def __post_init__(self) -> None:
        for name in ("error_5xx", "drop_before_write", "drop_after_commit", "rate_limit_429",
                     "slow"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"fault share {name}={value} must be between 0 and 1")
        if self.slow_seconds < 0:
            raise ConfigError(f"slow_seconds={self.slow_seconds} must not be negative")
        if (
            self.error_5xx + self.drop_before_write + self.drop_after_commit + self.rate_limit_429
            > 1.0
        ):
            raise ConfigError("fault shares 5xx + drop_before + drop_after_commit + 429 exceed 1")

    @property
    def any(self) -> bool:
        return any(
            (self.error_5xx, self.drop_before_write, self.drop_after_commit,
             self.rate_limit_429, self.slow)
        )


@dataclass(frozen=True)
class EmulatorConfig:
    """The portal the emulator pretends to be. Defaults: no limits, no faults, in memory."""

    token: str = "emulator-token"
    data_path: str | None = None  # SQLite file; None = in memory
    rate_limit_per_10s: int | None = None  # None = off; HubSpot free private app = 100
    daily_limit: int | None = None  # None = off
    search_per_second: int | None = None  # None = off; HubSpot = 5
    search_lag_seconds: float = 0.0  # indexing lag before search sees a write
    faults: FaultConfig = field(default_factory=FaultConfig)
    seed: int = 0
    portal_id: int = 1234567  # what GET /account-info/v3/details answers as portalId
    time_zone: str = "US/Eastern"  # the account's timeZone (an IANA name)
    scopes: tuple[str, ...] | None = None  # None = every scope
    custom_object_types: tuple[str, ...] = ("p_widgets",)
    owners: tuple[Owner, ...] = DEFAULT_OWNERS
    shuffle_results: bool = True
    # Echo each input's objectWriteTraceId on its batch result. The spec allows it, but
    # HubSpot's documented 207 example has none (facts §3), so it is off unless switched on.
    echo_trace_ids: bool = False
    request_log_size: int = 2000  # the newest exchanges kept for inspection

    def __post_init__(self) -> None:
        if (
            isinstance(self.portal_id, bool)
            or not isinstance(self.portal_id, int)
            or not 0 < self.portal_id < 2**31
        ):
            raise ConfigError(
                f"portal_id={self.portal_id!r} must be a positive whole number (a HubSpot hub id)"
            )
        try:
            ZoneInfo(self.time_zone)
        except (ValueError, ZoneInfoNotFoundError):
            raise ConfigError(
                f"time_zone={self.time_zone!r} is not a known IANA time zone"
            ) from None


_FAULT_KEYS = {
    "5xx": "error_5xx",
    "error_5xx": "error_5xx",
    "drop_before": "drop_before_write",
    "drop_before_write": "drop_before_write",
    "drop_after_commit": "drop_after_commit",
    "drop_after": "drop_after_commit",
    "429": "rate_limit_429",
    "rate_limit_429": "rate_limit_429",
    "slow": "slow",
}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)?$")


def parse_faults(text: str) -> tuple[FaultConfig, int | None]:
    """Parse the CLI/runtime form of faults, e.g. ``"5xx=0.1,drop_after_commit=0.05,429=0.3,
    slow=0.1:2s,seed=7"``. Returns the faults and the seed (None if not given).

    ``off`` or ``""`` means no faults. Keys: ``5xx``, ``drop_before``, ``drop_after_commit``,
    ``429``, ``slow`` (``share[:duration]``, duration like ``2s`` or ``500ms``), ``seed``.
    """
    values: dict[str, float] = {}
    seed: int | None = None
    text = text.strip()
    if text in ("", "off", "none"):
        return FaultConfig(), None
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, raw = item.partition("=")
        key = key.strip().lower()
        raw = raw.strip()
        if not sep:
            raise ConfigError(f"faults: {item!r} is not KEY=VALUE (e.g. 5xx=0.1)")
        if key == "seed":
            try:
                seed = int(raw)
            except ValueError:
                raise ConfigError(f"faults: seed={raw!r} is not an integer") from None
            continue
        if key not in _FAULT_KEYS:
            known = ", ".join(
                sorted({"5xx", "drop_before", "drop_after_commit", "429", "slow", "seed"})
            )
            raise ConfigError(f"faults: unknown key {key!r} (known: {known})")
        share_text, _, duration = raw.partition(":")
        try:
            share = float(share_text)
        except ValueError:
            raise ConfigError(f"faults: {key}={raw!r} is not a share between 0 and 1") from None
        values[_FAULT_KEYS[key]] = share
        if duration:
            if key != "slow":
                raise ConfigError(f"faults: only slow takes a duration, not {key}")
            match = _DURATION.match(duration.strip())
            if not match:
                raise ConfigError(f"faults: slow duration {duration!r} is not like 2s or 500ms")
            number = float(match.group(1))
            values["slow_seconds"] = number / 1000 if match.group(2) == "ms" else number
    return FaultConfig(**values), seed


_RATE = re.compile(r"^(\d+)(?:/(\d+)s)?$")


def parse_rate_limit(text: str) -> int | None:
    """``"100/10s"`` or ``"100"`` → 100 per rolling 10 s; ``"off"`` → None.

    HubSpot's burst window is always 10 seconds (facts §2), so only ``/10s`` is accepted.
    """
    text = text.strip().lower()
    if text in ("off", "none", ""):
        return None
    match = _RATE.match(text)
    if not match or (match.group(2) is not None and match.group(2) != "10"):
        raise ConfigError(f"rate limit {text!r} is not like 100/10s or off")
    return int(match.group(1))


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
