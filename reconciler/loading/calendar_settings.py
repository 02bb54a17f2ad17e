"""The ``calendar:`` block of ``reconciler.yaml``: the team's working week, read and checked.

It is opt-in (a project without it keeps the times it had). With it, generated meetings,
calls, notes, tasks and emails are placed on their owners' calendars
(``reconciler.generate.calendar``): business hours, weights by weekday and hour, a gap
between one owner's activities, a placement grid, a country's public holidays; and
hand-written activity times that land on a day off through whole days (``-1d 09:30``)
move to a business day (``non_business_days: roll``)::

    calendar:
      business_hours: "08:30-17:30"
      weekdays: {mon: 1.0, tue: 1.3, wed: 1.3, thu: 1.2, fri: 0.6}   # absent: 0
      hours: {"09": 1.0, "10": 1.4, "12": 0.3, "14": 1.3}          # absent: 1
      gap: 10m
      grid: 5m
      holidays: {country: DE, subdiv: BE, extra: ["2026-12-24"]}
      non_business_days: roll                                      # or keep
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from reconciler.loading.business_days import BusinessDays, country_holidays
from reconciler.loading.issues import PathPart, did_you_mean

#: Object types placed on an owner's calendar (and rolled off days off when hand-written).
ACTIVITY_TYPES = frozenset({"meetings", "calls", "notes", "tasks", "emails"})
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_MINUTES = re.compile(r"(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?", re.IGNORECASE)


@dataclass(frozen=True)
class CalendarSettings:
    """The team's working week; times of day in minutes after midnight (project timezone)."""

    day_start: int = 9 * 60
    day_end: int = 17 * 60
    weekdays: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0)
    hours: tuple[float, ...] = (1.0,) * 24
    gap: int = 10
    grid: int = 5
    country: str | None = None
    subdiv: str | None = None
    extra: tuple[date, ...] = ()
    roll: bool = True

    @property
    def fingerprint(self) -> str:
        """What the placement of an activity depends on, as written (the holiday *config*,
        never the holiday data: an upgrade of the package must not change a pin)."""
        text = json.dumps(
            [self.day_start, self.day_end, self.weekdays, self.hours, self.gap, self.grid,
             self.country, self.subdiv, [d.isoformat() for d in self.extra]],
            separators=(",", ":"),
        )
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def business_days(self, cache: Any = None) -> BusinessDays:
        """Its business days: weekdays of weight above zero, less holidays and ``extra``."""
        holidays = (
            country_holidays(self.country, self.subdiv, cache) if self.country is not None
            else None
        )
        working = [index for index, weight in enumerate(self.weekdays) if weight > 0]
        return BusinessDays(working, holidays, self.extra)


def read_calendar(
    raw: Mapping[str, Any] | None,
) -> tuple[CalendarSettings | None, list[tuple[tuple[PathPart, ...], str]]]:
    """``calendar:`` as written (schema-valid) → settings, or the problems (path, message)."""
    if raw is None:
        return None, []
    problems: list[tuple[tuple[PathPart, ...], str]] = []
    values: dict[str, Any] = {}

    def problem(path: tuple[PathPart, ...], message: str) -> None:
        problems.append((("calendar", *path), message))

    hours_text = raw.get("business_hours")
    if hours_text is not None:
        match = _HOURS.fullmatch(str(hours_text).strip())
        start = end = 0
        if match is not None:
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            start, end = h1 * 60 + m1, h2 * 60 + m2
        if match is None or not (0 <= start < end <= 24 * 60) or m1 > 59 or m2 > 59:
            problem(("business_hours",),
                    f"{hours_text!r} is not business hours; write them like \"08:30-17:30\"")
        else:
            values.update(day_start=start, day_end=end)
    weekdays = raw.get("weekdays")
    if weekdays is not None:
        weights = [0.0] * 7
        for name, weight in weekdays.items():
            key = str(name).lower()[:3]
            if key not in WEEKDAY_NAMES or str(name).lower() not in _WEEKDAY_SPELLINGS:
                hint = did_you_mean(str(name), WEEKDAY_NAMES)
                problem(("weekdays", name), f"{name!r} is not a weekday{hint}; use mon .. sun")
                continue
            if not _is_weight(weight):
                problem(("weekdays", name), f"{weight!r} is not a weight; write a number like 1.2")
                continue
            weights[WEEKDAY_NAMES.index(key)] = float(weight)
        if not any(weights):
            problem(("weekdays",), "every weekday has weight 0: no day to place activities on")
        values["weekdays"] = tuple(weights)
    hours = raw.get("hours")
    if hours is not None:
        by_hour = [1.0] * 24
        for name, weight in hours.items():
            text = str(name).strip()
            if not text.isdigit() or int(text) > 23:
                problem(("hours", name), f"{name!r} is not an hour; write \"08\" .. \"17\"")
                continue
            if not _is_weight(weight):
                problem(("hours", name), f"{weight!r} is not a weight; write a number like 1.2")
                continue
            by_hour[int(text)] = float(weight)
        values["hours"] = tuple(by_hour)
    for name in ("gap", "grid"):
        if name in raw:
            minutes = _minutes(raw[name])
            if minutes is None or (name == "grid" and not 1 <= minutes <= 60) or minutes > 24 * 60:
                problem((name,), f"{raw[name]!r} is not a {name}; write it like "
                        + ("10m" if name == "gap" else "5m (1m to 1h)"))
            else:
                values[name] = minutes
    holidays = raw.get("holidays")
    if holidays is not None:
        if holidays.get("country") is not None:
            values["country"] = str(holidays["country"]).upper()
        if holidays.get("subdiv") is not None:
            values["subdiv"] = str(holidays["subdiv"]).upper()
        extra: list[date] = []
        for index, text in enumerate(holidays.get("extra") or []):
            try:
                extra.append(date.fromisoformat(str(text).strip()))
            except ValueError:
                problem(("holidays", "extra", index),
                        f"{text!r} is not a date; write it like \"2026-12-24\"")
        values["extra"] = tuple(sorted(extra))
    if raw.get("non_business_days") is not None:
        values["roll"] = raw["non_business_days"] == "roll"
    settings = CalendarSettings(**values)
    if not problems:
        day = settings.day_end - settings.day_start
        if day < settings.grid:
            problem(("business_hours",), "business hours are shorter than one grid step")
        elif outside := [str(name) for name in (raw.get("hours") or {})
                         if not _overlaps_day(int(str(name).strip()), settings)]:
            # silently unused otherwise: a weight on 07 with business hours from 09:00
            problem(("hours", outside[0]), f"{outside[0]!r} is outside business hours "
                    f"({_clock(settings.day_start)}-{_clock(settings.day_end)}); widen "
                    "business_hours or leave the hour out")
        elif settings.gap >= day:  # no activity would fit in a day, with its gap after it
            problem(("gap",), f"{raw['gap']!r} is as long as the business day "
                    f"({day // 60}h{day % 60:02d}m) or longer; no activity would fit in a day")
        elif not any(
            settings.hours[h] > 0 for h in range(settings.day_start // 60,
                                                 (settings.day_end - 1) // 60 + 1)
        ):
            problem(("hours",), "every hour within business hours has weight 0")
    return (None if problems else settings), problems


_WEEKDAY_SPELLINGS = {
    *WEEKDAY_NAMES, "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
    "sunday",
}


def _overlaps_day(hour: int, settings: CalendarSettings) -> bool:
    return hour * 60 < settings.day_end and hour * 60 + 60 > settings.day_start


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _is_weight(value: Any) -> bool:
    """A finite weight (YAML's .nan and .inf pass the schema's minimum: 0, and a NaN day
    fails later as "no business day", far from what was written); at most a million, so
    that a week's sum stays finite."""
    return math.isfinite(float(value)) and 0 <= float(value) <= 1_000_000


def _minutes(value: Any) -> int | None:
    text = str(value).strip()
    if text.isdigit():
        return None  # a unit is required: 10 minutes or 10 hours?
    match = _MINUTES.fullmatch(text)
    if match is None or not (match.group(1) or match.group(2)):
        return None
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def calendar_of(generation: Mapping[str, Any]) -> CalendarSettings | None:
    """The project's calendar settings (already checked when ``reconciler.yaml`` was read)."""
    settings, _ = read_calendar(generation.get("calendar"))
    return settings
