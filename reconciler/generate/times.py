"""Generated times for one run: a generated record's stable parts → this run's values.

A generated time is stored as where it falls in its window (a fraction of the days in the
window, and a 15-minute slot of the day), and resolved against each run's date in the
project's timezone, like a relative time; ``by_time`` values follow it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any

from reconciler.generate.inputs import (
    E_ASSOC,
    E_BY_TIME,
    E_CAL,
    E_COLUMN,
    E_KEY,
    E_LINE,
    E_OWNED,
    E_OWNER_EMAIL,
    E_OWNS,
    E_PROPS,
    E_REL,
    E_SCHEDULE,
    E_STORY,
    E_TIMES,
    E_TYPE,
)

#: Business hours: slots of 15 minutes from 09:00 to 16:45, Monday to Friday.
BUSINESS_START_MINUTES = 9 * 60
BUSINESS_SLOTS = 32


def finalize(
    entries: list[list[Any]], reference_time: datetime, timezone_name: str,
    starts: list[int | None] | None = None, business: Any = None,
) -> Iterator[list[Any]]:
    """Each generated record's row for this run (the loader's compact form of a record,
    ``reconciler.loading.rows``): times resolved, by_time values chosen.

    The values of generated properties are in the row's properties already; their pin
    expressions (``gen:``/``gen@t:``) tell the loader not to resolve them as relative
    times. The entries are this run's own (freshly read from the cache or just made).
    Rows, not drafts: a warm load of 50,000 generated records skipped building a draft
    dict per record only to turn it into a row (0.04 s). ``starts``: where the owners'
    calendars placed the scheduled activities (``reconciler.generate.scheduling``), by
    entry; ``business``: the business days a story's close date counts.
    """
    from reconciler.loading.rows import OWNED, OWNS
    from reconciler.loading.times import format_wire_time, zone

    tz = zone(timezone_name)
    today = reference_time.astimezone(tz).date()
    now = format_wire_time(reference_time)
    placed: dict[str, str] = {}  # scheduled activity → its start (what stories read)
    if starts is not None:
        for entry, start in zip(entries, starts, strict=True):
            if start is not None:
                placed[f"{entry[E_TYPE]}/{entry[E_KEY]}"] = minutes_wire(start, 0)
    for index, entry in enumerate(entries):
        props: dict[str, str] = entry[E_PROPS]
        times: Mapping[str, list[Any]] = entry[E_TIMES]
        start_minutes = starts[index] if starts is not None else None
        if times:
            props = dict(props)
            main = times.get(entry[E_SCHEDULE][0]) if start_minutes is not None else None
            for prop, slot_of in times.items():
                start, end, business_hours, u, slot, offset_ms = slot_of
                if main is not None and slot_of[:5] == main[:5]:
                    props[prop] = minutes_wire(start_minutes, offset_ms)
                    continue
                days = _days(today, start, end, business_hours)
                day = days[min(int(u * len(days)), len(days) - 1)]
                minutes = (
                    BUSINESS_START_MINUTES + (slot % BUSINESS_SLOTS) * 15 if business_hours
                    else slot * 15
                )
                props[prop] = _wire(day, minutes, offset_ms, tz)
            for prop, (time_prop, future_value) in entry[E_BY_TIME].items():
                when = props.get(time_prop)
                if when is not None and when > now:
                    props[prop] = future_value
        if entry[E_STORY] is not None and business is not None:
            from reconciler.generate.story_times import story_values

            props = dict(props)
            props.update(story_values(entry[E_STORY], placed, now, business, tz))
        yield [
            entry[E_TYPE], entry[E_KEY], entry[E_LINE], entry[E_COLUMN], props, entry[E_REL],
            [
                # as ``spec.rows.draft_row`` writes them: HUBSPOT_DEFINED as None, and of
                # the association's path only its index under associations:
                [a[0], a[1], a[2], None if a[3] == "HUBSPOT_DEFINED" else a[3], a[4], a[5],
                 a[6][-1], a[7]]
                for a in entry[E_ASSOC]
            ],
            entry[E_CAL], entry[E_OWNER_EMAIL],
            (OWNS if entry[E_OWNS] else 0) | (OWNED if entry[E_OWNED] else 0),
        ]


@lru_cache(maxsize=65536)
def minutes_wire(minutes: int, offset_ms: int) -> str:
    """Minutes since 1970 (plus milliseconds) on the wire."""
    from reconciler.loading.times import format_wire_time

    return format_wire_time(_EPOCH + timedelta(minutes=minutes, milliseconds=offset_ms))


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@lru_cache(maxsize=16384)
def _wire(day: date, minutes: int, offset_ms: int, tz: Any) -> str:
    """``minutes`` after midnight of ``day`` in ``tz``, plus ``offset_ms``, on the wire
    (a window holds a few thousand distinct slots: most records share one)."""
    from reconciler.loading.times import format_wire_time

    wall = datetime.combine(day, time(minutes // 60, minutes % 60))
    instant = wall.replace(tzinfo=tz).astimezone(timezone.utc)
    return format_wire_time(instant + timedelta(milliseconds=offset_ms))


@lru_cache(maxsize=256)
def _days(today: date, start: int, end: int, business: bool) -> tuple[date, ...]:
    """The days of a window (weekdays only for business hours, unless it holds none)."""
    days = tuple(today + timedelta(days=d) for d in range(start, end + 1))
    if business:
        return tuple(d for d in days if d.weekday() < 5) or days
    return days
