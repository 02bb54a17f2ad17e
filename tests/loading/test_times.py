from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from reconciler.loading.times import (
    format_wire_time,
    is_relative,
    parse_duration,
    resolve_time,
)

BERLIN = "Europe/Berlin"
FRIDAY_NOON = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)  # 13:00 in Berlin
BEFORE_DST = datetime(2026, 3, 27, 15, 0, tzinfo=timezone.utc)  # Friday; clocks go forward Sunday


@pytest.mark.parametrize(
    ("expr", "wire"),
    [
        ("now", "2026-11-20T12:00:00.000Z"),
        ("+2h", "2026-11-20T14:00:00.000Z"),
        ("-30m", "2026-11-20T11:30:00.000Z"),
        ("+3d 10:00", "2026-11-23T09:00:00.000Z"),
        ("+3d", "2026-11-23T12:00:00.000Z"),
        ("+1w 9:15", "2026-11-27T08:15:00.000Z"),
        ("-7d 14:00", "2026-11-13T13:00:00.000Z"),
        ("today 14:00", "2026-11-20T13:00:00.000Z"),
        ("tomorrow 9:00", "2026-11-21T08:00:00.000Z"),
        ("yesterday 23:30", "2026-11-19T22:30:00.000Z"),
        ("next monday 09:30", "2026-11-23T08:30:00.000Z"),
        ("next friday 09:30", "2026-11-27T08:30:00.000Z"),  # today is Friday: a week ahead
        ("last fri", "2026-11-13T12:00:00.000Z"),
        ("Next Mon 9:30", "2026-11-23T08:30:00.000Z"),
        ("+3d 10:00 + 45m", "2026-11-23T09:45:00.000Z"),
        ("+3d 10:00 + 15m + 1h", "2026-11-23T10:15:00.000Z"),
        ("+1d2h", "2026-11-21T14:00:00.000Z"),
        ("2026-11-23T10:00:00+01:00", "2026-11-23T09:00:00.000Z"),
        ("2026-11-23T10:00:00Z", "2026-11-23T10:00:00.000Z"),
        ("2026-11-23T10:00:00", "2026-11-23T09:00:00.000Z"),  # no offset: project timezone
    ],
)
def test_resolves_against_the_reference_time(expr: str, wire: str) -> None:
    assert format_wire_time(resolve_time(expr, FRIDAY_NOON, BERLIN)) == wire


def test_day_offsets_keep_wall_clock_time_across_dst() -> None:
    # Friday 16:00 CET + 3 days = Monday 10:00 CEST: 08:00 UTC, not 09:00.
    assert format_wire_time(resolve_time("+3d 10:00", BEFORE_DST, BERLIN)) == (
        "2026-03-30T08:00:00.000Z"
    )
    # Elapsed hours are elapsed: +48h crosses the jump and lands an hour later on the clock.
    assert resolve_time("+48h", BEFORE_DST, BERLIN) == BEFORE_DST + timedelta(hours=48)


def test_naive_reference_time_is_utc() -> None:
    naive = FRIDAY_NOON.replace(tzinfo=None)
    assert resolve_time("+2h", naive, "UTC") == FRIDAY_NOON + timedelta(hours=2)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("+3x", "is not a relative time"),
        ("next blursday", "'blursday' is not a weekday"),
        ("+2h 10:00", "a time of day can only follow whole days or weeks"),
        ("today 25:00", "is not a valid time of day"),
        ("now 10:00", "nothing may follow 'now'"),
        ("2026-02-30T10:00:00Z", "day is out of range for month"),
        ("2026-03-29T02:30:00", "does not exist in Europe/Berlin"),
        ("tomorrow", None),
    ],
)
def test_bad_expressions_say_what_is_wrong(expr: str, message: str | None) -> None:
    if message is None:
        resolve_time(expr, FRIDAY_NOON, BERLIN)
        return
    with pytest.raises(ValueError, match=message):
        resolve_time(expr, FRIDAY_NOON, BERLIN)


def test_unknown_timezone() -> None:
    with pytest.raises(ValueError, match="unknown timezone"):
        resolve_time("+1d", FRIDAY_NOON, "Mars/Olympus")


def test_is_relative() -> None:
    assert is_relative("+3d 10:00") and is_relative("next monday") and is_relative("Today 9:00")
    assert not is_relative("2026-11-23T10:00:00Z")


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("45m", timedelta(minutes=45)),
        ("1h30m", timedelta(minutes=90)),
        ("2h", timedelta(hours=2)),
        ("90s", timedelta(seconds=90)),
        ("1d", timedelta(days=1)),
        ("1w2d", timedelta(days=9)),
    ],
)
def test_durations(text: str, delta: timedelta) -> None:
    assert parse_duration(text) == delta


@pytest.mark.parametrize("text", ["45", "45 minutes", "m", "", "0m", "30m1h", "99999w"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_wire_format_is_utc_with_milliseconds() -> None:
    dt = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert format_wire_time(dt) == "2026-11-23T09:00:00.123Z"
