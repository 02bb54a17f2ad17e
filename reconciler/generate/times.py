"""Generated times for one run: a generated record's stable parts → this run's values.

A generated time is stored as where it falls in its window (a fraction of the days in the
window, and a 15-minute slot of the day), and resolved against each run's date in the
project's timezone, like a relative time; ``by_time`` values follow it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any

from reconciler.generate.inputs import TIME_PIN, VALUE_PIN

#: Business hours: slots of 15 minutes from 09:00 to 16:45, Monday to Friday.
BUSINESS_START_MINUTES = 9 * 60
BUSINESS_SLOTS = 32


def finalize(
    entry: Mapping[str, Any], reference_time: datetime, timezone_name: str,
    resolved: dict[str, str],
) -> dict[str, Any]:
    """A generated record's draft for this run: times resolved, by_time values chosen.

    Every pinned property's value goes into ``resolved`` under its pin expression, which is
    where the loader looks relative expressions up.
    """
    from reconciler.spec.times import format_wire_time, zone

    draft = dict(entry["draft"])
    props = dict(draft["props"])
    times: Mapping[str, list[Any]] = entry["times"]
    if times:
        tz = zone(timezone_name)
        today = reference_time.astimezone(tz).date()
        for prop, (start, end, business, u, slot, offset_ms) in times.items():
            props[prop] = format_wire_time(
                _resolve_slot(today, start, end, business, u, slot, tz) + timedelta(milliseconds=offset_ms)
            )
        for prop, (time_prop, future_value) in entry["by_time"].items():
            when = props.get(time_prop)
            if when is not None and when > format_wire_time(reference_time):
                props[prop] = future_value
    draft["props"] = props
    for prop, expr in draft["rel"].items():
        if expr.startswith((VALUE_PIN, TIME_PIN)) and prop in props:
            resolved[expr] = props[prop]
    return draft


def _resolve_slot(
    today: date, start: int, end: int, business: bool, u: float, slot: int, tz: Any
) -> datetime:
    days = _days(today, start, end, business)
    minutes = BUSINESS_START_MINUTES + (slot % BUSINESS_SLOTS) * 15 if business else slot * 15
    day = days[min(int(u * len(days)), len(days) - 1)]
    wall = datetime.combine(day, time(minutes // 60, minutes % 60))
    return wall.replace(tzinfo=tz).astimezone(timezone.utc)


@lru_cache(maxsize=256)
def _days(today: date, start: int, end: int, business: bool) -> tuple[date, ...]:
    """The days of a window (weekdays only for business hours, unless it holds none)."""
    days = tuple(today + timedelta(days=d) for d in range(start, end + 1))
    if business:
        return tuple(d for d in days if d.weekday() < 5) or days
    return days
