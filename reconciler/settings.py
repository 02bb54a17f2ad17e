"""Resolve flags, environment and ``reconciler.yaml`` into the settings of one run, once.

The library never reads ``os.environ`` itself: the CLI passes the environment in here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reconciler.errors import ConfigError
from reconciler.model import ProjectSettings

DEFAULT_BASE_URL = "https://api.hubapi.com"
DEFAULT_TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN"
LOCAL_TARGET = "local"
DEFAULT_MAX_ARCHIVES = 50
DEFAULT_MAX_ARCHIVE_PERCENT = 10.0
#: The share rule applies only when more than this many records would be archived.
ARCHIVE_PERCENT_FLOOR = 5

#: HubSpot's burst limits per 10 seconds for a private app, by account tier
#: (../shared/hubspot-api-facts.md §2, the current usage guidelines).
TIER_REQUESTS_PER_10S: Mapping[str, int] = {
    "free": 100,
    "starter": 100,
    "professional": 190,
    "enterprise": 190,
    "api-limit-increase": 250,
}


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    requests_per_10s: int | None = 100
    search_per_second: int | None = 5
    concurrency: int = 4


@dataclass(frozen=True, slots=True)
class Target:
    """Where a run reads and writes: a portal, or the embedded emulator."""

    name: str
    embedded: bool  # True: start the emulator in-process (the `local` target)
    base_url: str | None
    token_env: str
    portal_id: int | None
    api_version: str
    state_path: Path
    protected: bool
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
    emulator_data: Path | None = None
    #: seconds to keep searching for a lost create's marker before resending it
    recovery_grace_seconds: float | None = None
    #: the project's ``id:`` (None: none yet; only ``local`` may then talk to a portal)
    project_id: str | None = None
    project_root: Path | None = None
    #: an apply archiving more than this many records stops unless --allow-archives
    max_archives: int = DEFAULT_MAX_ARCHIVES
    #: ... or more than this share (percent) of the managed records, when over 5 records
    max_archive_percent: float = DEFAULT_MAX_ARCHIVE_PERCENT

    @property
    def is_local(self) -> bool:
        return self.name == LOCAL_TARGET


def resolve_target(
    project: ProjectSettings,
    *,
    target_name: str | None,
    state_path: str | Path | None = None,
    base_url: str | None = None,
    environ: Mapping[str, str],
) -> Target:
    """Pick the target named by ``--target`` (or the project's default) and fill it in.

    ``--base-url`` (or ``HUBSPOT_BASE_URL``) points any target at another server; for
    ``local`` that means: use that server and start no embedded emulator.
    """
    root = Path(project.root)
    targets = dict(project.targets)
    name = target_name or project.default_target or LOCAL_TARGET
    if name not in targets and name != LOCAL_TARGET:
        known = ", ".join(sorted({LOCAL_TARGET, *targets})) or LOCAL_TARGET
        raise ConfigError(f"unknown target {name!r}; reconciler.yaml defines: {known}")
    raw: Mapping[str, Any] = targets.get(name, {})
    override = base_url or environ.get("HUBSPOT_BASE_URL") or None
    embedded = name == LOCAL_TARGET and not raw.get("base_url") and not override
    url = override or raw.get("base_url") or (None if embedded else DEFAULT_BASE_URL)
    if url is not None:
        check_base_url(url)
    state = Path(state_path) if state_path else root / str(
        raw.get("state") or f".reconciler/state/{name}.json"
    )
    api_version = str(raw.get("api_version", "v3"))
    if api_version not in ("v3", "2026-03"):
        raise ConfigError(f"target {name}: api_version must be v3 or 2026-03, not {api_version!r}")
    return Target(
        name=name,
        embedded=embedded,
        base_url=url,
        token_env=str(raw.get("token_env") or DEFAULT_TOKEN_ENV),
        portal_id=int(raw["portal_id"]) if raw.get("portal_id") is not None else None,
        api_version=api_version,
        state_path=state,
        protected=bool(raw.get("protected", False)),
        rate_limit=_rate_limit(raw.get("rate_limit") or {}, local=name == LOCAL_TARGET),
        emulator_data=root / ".reconciler" / "emulator.sqlite3" if embedded else None,
        recovery_grace_seconds=(
            float(raw["recovery_grace_seconds"])
            if raw.get("recovery_grace_seconds") is not None
            else None
        ),
        project_id=project.id,
        project_root=root,
        max_archives=_count(raw, "max_archives", DEFAULT_MAX_ARCHIVES, name),
        max_archive_percent=_percent(raw, name),
    )


def _count(raw: Mapping[str, Any], key: str, default: int, target: str) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"target {target}: {key} must be a whole number >= 0, not {value!r}")
    return value


def _percent(raw: Mapping[str, Any], target: str) -> float:
    value = raw.get("max_archive_percent", DEFAULT_MAX_ARCHIVE_PERCENT)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise ConfigError(
            f"target {target}: max_archive_percent must be a number from 0 to 100, not {value!r}"
        )
    return float(value)


def _rate_limit(raw: Mapping[str, Any], *, local: bool) -> RateLimitSettings:
    if local and not raw:
        # `local` is an emulator (embedded, or given by --base-url), which runs without
        # rate limits unless asked: a demo should be quick.
        return RateLimitSettings(requests_per_10s=None, search_per_second=None, concurrency=4)
    tier = str(raw.get("tier", "free"))
    if tier not in TIER_REQUESTS_PER_10S:
        raise ConfigError(
            f"rate_limit.tier must be one of {', '.join(TIER_REQUESTS_PER_10S)}, not {tier!r}"
        )
    return RateLimitSettings(
        requests_per_10s=int(raw.get("requests_per_10s", TIER_REQUESTS_PER_10S[tier])),
        search_per_second=int(raw.get("search_per_second", 5)),
        concurrency=int(raw.get("concurrency", 4)),
    )


def check_base_url(url: str) -> None:
    """Refuse plain http:// to anything but loopback: the token must not cross a network."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"base URL {url!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"refusing plain http:// to {parts.hostname}: the access token would cross the "
            "network unencrypted; use https://, or http:// only to 127.0.0.1/localhost"
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_token(target: Target, environ: Mapping[str, str]) -> str:
    """The access token, from the environment variable the target names (never a file).

    A token is printable ASCII without spaces (``pat-na1-…``); anything else (a pasted
    newline, a non-ASCII quote) is refused here, before any request, and the message never
    shows the token.
    """
    token = environ.get(target.token_env, "").strip()
    if not token:
        raise ConfigError(
            f"target {target.name} needs an access token: set the environment variable "
            f"{target.token_env} (a HubSpot private-app or OAuth access token)"
        )
    bad = next((c for c in token if not ("!" <= c <= "~")), None)
    if bad is not None:
        what = (
            "a line break" if bad in "\r\n" else "a space or tab" if bad in " \t"
            else "a non-ASCII character" if ord(bad) > 127 else "a control character"
        )
        raise ConfigError(
            f"the access token in {target.token_env} contains {what}, which no HubSpot token "
            "has; copy it again from the private app's page (the token is not shown here)"
        )
    return token
