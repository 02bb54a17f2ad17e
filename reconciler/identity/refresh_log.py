"""The refresh log: what the last refresh learned, so that the next one can be incremental.

It lives beside the state file (``<state>.refresh.json``): the newest
``hs_lastmodifieddate`` the portal returned (never the local clock), per-type counts, the
marked records the state does not map, the records that drifted, and what the last apply
wrote (``applied``: per type, the records and the span of modification times HubSpot's
answers gave them, ``refresh_watermark``), bound to the state's lineage and serial. It is a
cache: anything that is not a log of this format reads as no log, and the refresh is then
full (``reconciler.identity.refresh``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reconciler.state.journal import write_atomically

LOG_FORMAT_VERSION = 1
#: HubSpot's modification time of a record: the log's cutoff is one of these (epoch ms)
MODIFIED = "hs_lastmodifieddate"


@dataclass(frozen=True, slots=True)
class AppliedSpan:
    """What an apply wrote of one type: the records (their ids), and the first and last
    modification time HubSpot's answers gave them (epoch ms). The next refresh leaves the
    span out of its search for changes (the apply knows what it wrote) and checks by count
    that nothing else was modified in it (``refresh_survey``)."""

    first_ms: int
    last_ms: int
    ids: tuple[str, ...]
    #: local wall-clock time the apply ended (elapsed time only: once the search-lag
    #: margin has passed, a count that matches proves the span)
    at: float

    def to_json(self) -> dict[str, Any]:
        return {"from_ms": self.first_ms, "to_ms": self.last_ms, "at": self.at,
                "ids": list(self.ids)}

    @classmethod
    def from_json(cls, data: Any) -> AppliedSpan | None:
        try:
            span = cls(int(data["from_ms"]), int(data["to_ms"]),
                       tuple(str(i) for i in data["ids"]), float(data["at"]))
        except (KeyError, TypeError, ValueError):
            return None
        return span if span.first_ms <= span.last_ms else None


@dataclass(frozen=True, slots=True)
class RefreshLog:
    """What the last refresh learned, to make the next one incremental (a cache)."""

    lineage: str
    serial: int
    project_id: str
    #: every record modified before this (epoch ms, from HubSpot's hs_lastmodifieddate) has
    #: been compared with the state
    since_ms: int
    #: True: ``since_ms`` needs no margin (a full refresh read every record by id, or a
    #: refresh at least a margin later searched the window again)
    settled: bool
    #: local wall-clock time the refresh that set ``since_ms`` ran (elapsed time only)
    seen_at: float
    counts: Mapping[str, int] = field(default_factory=dict)
    #: marked records of this project the state does not map, by type (their ids)
    extras: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: ids modified exactly at ``since_ms`` that were read and matched the state (a batch
    #: shares one time: without this, the last batch an apply wrote is read every time)
    at_since: tuple[str, ...] = ()
    #: records whose portal values differed from the state, by type: read again by id by
    #: every refresh until they match (an apply puts them back)
    drifting: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: what an apply wrote since, by type: left out of the search for changes until a
    #: refresh has checked it (``AppliedSpan``)
    applied: Mapping[str, AppliedSpan] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": LOG_FORMAT_VERSION,
            "lineage": self.lineage,
            "serial": self.serial,
            "project_id": self.project_id,
            "since": _iso(self.since_ms),
            "since_ms": self.since_ms,
            "settled": self.settled,
            "seen_at": self.seen_at,
            "counts": dict(sorted(self.counts.items())),
            "extras": {k: list(v) for k, v in sorted(self.extras.items()) if v},
            "at_since": list(self.at_since),
            "drifting": {k: list(v) for k, v in sorted(self.drifting.items()) if v},
            "applied": {k: v.to_json() for k, v in sorted(self.applied.items())},
        }

    @classmethod
    def from_json(cls, data: Any) -> RefreshLog | None:
        """None for anything that is not a log of this format (it is only a cache)."""
        try:
            if data.get("format_version") != LOG_FORMAT_VERSION:
                return None
            log = cls(
                lineage=data["lineage"], serial=data["serial"], project_id=data["project_id"],
                since_ms=data["since_ms"], settled=data["settled"], seen_at=data["seen_at"],
                counts=dict(data.get("counts", {})),
                extras={
                    str(k): tuple(str(i) for i in v) for k, v in data.get("extras", {}).items()
                },
                at_since=tuple(str(i) for i in data.get("at_since", [])),
                drifting={
                    str(k): tuple(str(i) for i in v) for k, v in data.get("drifting", {}).items()
                },
                applied={
                    str(k): span for k, v in data.get("applied", {}).items()
                    if (span := AppliedSpan.from_json(v)) is not None
                },
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            return None
        kinds = (
            (log.lineage, str), (log.serial, int), (log.project_id, str), (log.since_ms, int),
            (log.settled, bool), (log.seen_at, (int, float)),
        )
        if not all(isinstance(v, k) and not (k is int and isinstance(v, bool)) for v, k in kinds):
            return None
        return log


def log_path_for(state_path: Path) -> Path:
    """The refresh log beside a state file."""
    return state_path.with_name(state_path.name + ".refresh.json")


def load_log(path: Path) -> RefreshLog | None:
    try:
        return RefreshLog.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, RecursionError):
        return None


def save_log(path: Path, log: RefreshLog) -> None:
    write_atomically(path, json.dumps(log.to_json(), indent=2) + "\n")


def modified_ms(text: str | None) -> int | None:
    """HubSpot's datetime (ISO 8601 or epoch ms) as epoch milliseconds."""
    if not text:
        return None
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


__all__ = [
    "AppliedSpan",
    "LOG_FORMAT_VERSION",
    "MODIFIED",
    "RefreshLog",
    "load_log",
    "log_path_for",
    "modified_ms",
    "save_log",
]
