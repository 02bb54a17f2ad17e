"""Times and durations in spec files: absolute ISO 8601, relative expressions, wire format.

Absolute times are ISO 8601 (``2026-11-23T10:00:00+01:00``, ``...Z``); a time without an
offset is wall-clock time in the project's timezone. A wall-clock time that does not exist
there (skipped by a daylight-saving jump) is refused; an ambiguous one (the repeated hour)
means its first occurrence.

Relative times keep demo data fresh. They are resolved against a reference time (the
loader's, or the moment apply first created the record, which pins them). Grammar
(case-insensitive, spaces optional between parts)::

    expr     := base [ ("+" | "-") duration ]       "+3d 10:00 + 45m"
    base     := "now"
              | day [time]                          "today 14:00", "tomorrow 9:00",
                                                    "next monday 09:30", "last fri",
                                                    "next business day 10:00"
              | offset [time]                       "+3d 10:00", "+2h", "-1w", "+1d2h",
                                                    "+2bd", "-1bd 09:30"
    day      := "today" | "tomorrow" | "yesterday" | ("next" | "last") weekday
              | ("next" | "last") "business day"
    weekday  := monday .. sunday, or mon .. sun
    offset   := ("+" | "-") duration | ("+" | "-") N "bd"
    duration := one or more of  N"w"  N"d"  N"h"  N"m"  N"s", in that order   "1h30m"
    time     := H:MM or HH:MM[:SS]  (24-hour clock, in the project's timezone)

Weeks and days in an offset move the calendar date in the project's timezone (so
``+1d 10:00`` is 10:00 local even across a DST change); hours, minutes and seconds, and
the trailing ``+ duration``, add elapsed time. A time of day may follow only a day word or
an offset of whole days/weeks. Without a time of day the reference's local time of day is
kept. ``next monday`` is the first Monday after today (a week ahead when today is Monday).

``bd`` counts business days (``reconciler.loading.business_days``: Monday to Friday, less
the holidays of the project's ``calendar:``): ``+2bd`` is two business days after today,
skipping the rest; from a day that is not one, ``+1bd`` is the next business day and
``-1bd`` the one before; ``+0bd`` is today if it is a business day, else the next one.
``bd`` does not mix with other units (``+1bd + 2h``, not ``+1bd2h``).

With ``roll`` (a calendar's ``non_business_days: roll``, for activities), a day reached by
whole days or weeks or a day word that is not a business day moves on to the next one
(``+1d``, ``tomorrow``, ``next ...``) or back to the one before (``-1d``, ``yesterday``,
``last ...``): away from today. ``today`` and absolute times are never moved.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.loading.business_days import PLAIN, BusinessDays

__all__ = [
    "check_range",
    "format_wire_time",
    "is_relative",
    "parse_absolute",
    "parse_duration",
    "resolve_time",
    "zone",
]

_DURATION_RE = re.compile(
    r"(?:(?P<w>\d+)\s*w)?\s*(?:(?P<d>\d+)\s*d)?\s*(?:(?P<h>\d+)\s*h)?\s*"
    r"(?:(?P<m>\d+)\s*m)?\s*(?:(?P<s>\d+)\s*s)?",
    re.IGNORECASE,
)
_TIME_RE = re.compile(r"(?P<hh>\d{1,2}):(?P<mm>\d{2})(?::(?P<ss>\d{2}))?")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_WORDS = {"today": 0, "tomorrow": 1, "yesterday": -1}
_RELATIVE_START = re.compile(r"\s*(now|today|tomorrow|yesterday|next\b|last\b|[+-])", re.IGNORECASE)
_BUSINESS_OFFSET = re.compile(r"(?P<n>\d+)\s*bd(?P<rest>.*)", re.IGNORECASE)

# Durations longer than this are certainly a typo (and would overflow datetime).
_MAX_DURATION = timedelta(days=3660)
# Times outside these years are certainly a typo; HubSpot counts milliseconds since 1970.
_EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(3000, 1, 1, tzinfo=timezone.utc)
_RANGE = "times must be between the years 1900 and 2999"


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA timezone ``name``; ValueError if there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown timezone {name!r}; use an IANA name like Europe/Berlin") from exc


def is_relative(expr: str) -> bool:
    """Whether ``expr`` is a relative time expression rather than an ISO 8601 time."""
    return bool(_RELATIVE_START.match(expr))


def _duration_parts(text: str) -> dict[str, int] | None:
    text = text.strip()
    if not text:
        return None
    match = _DURATION_RE.fullmatch(text)
    if match is None or not any(match.group(u) for u in "wdhms"):
        return None
    return {u: int(match.group(u) or 0) for u in "wdhms"}


def parse_duration(text: str) -> timedelta:
    """``45m``, ``1h30m``, ``2h``, ``90s``, ``1d`` → timedelta (positive, at most ~10 years)."""
    parts = _duration_parts(text)
    if parts is None:
        raise ValueError(f"{text!r} is not a duration; write it like 45m, 1h30m or 2h")
    try:
        delta = _elapsed(parts, with_days=True)
    except OverflowError:  # more days than a timedelta holds: the same typo as 11 years
        raise ValueError(f"{text!r} is longer than ten years; check the units") from None
    if delta <= timedelta(0):
        raise ValueError(f"{text!r} is not a duration longer than zero")
    if delta > _MAX_DURATION:
        raise ValueError(f"{text!r} is longer than ten years; check the units")
    return delta


def _elapsed(parts: dict[str, int], *, with_days: bool) -> timedelta:
    days = parts["w"] * 7 + parts["d"] if with_days else 0
    return timedelta(days=days, hours=parts["h"], minutes=parts["m"], seconds=parts["s"])


def format_wire_time(dt: datetime) -> str:
    """HubSpot's datetime form: UTC with milliseconds, e.g. ``2026-11-23T10:00:00.000Z``.

    The emulator (and HubSpot) return datetimes exactly like this, so plans compare equal.
    A naive datetime is taken to be UTC.
    """
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    utc = dt.astimezone(timezone.utc)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def check_range(dt: datetime, text: str) -> datetime:
    """``dt`` if it lies between the years 1900 and 2999, else ValueError."""
    if not _EARLIEST <= dt < _LATEST:
        raise ValueError(f"{text!r} is out of range; {_RANGE}")
    return dt


def _localize(naive: datetime, tz: ZoneInfo, *, strict: bool, text: str) -> datetime:
    local = naive.replace(tzinfo=tz, fold=0)
    if strict:
        round_trip = local.astimezone(timezone.utc).astimezone(tz)
        if round_trip.replace(tzinfo=None) != naive:
            raise ValueError(
                f"{text!r} does not exist in {tz.key}: the clocks skip it for daylight saving time"
            )
    return local


def parse_absolute(text: str, tz: str) -> datetime:
    """An ISO 8601 time (offset optional: without one it is local to ``tz``) → aware UTC."""
    raw = text.strip()
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError as exc:
        reason = str(exc)
        detail = "" if reason.startswith("Invalid isoformat") else f" ({reason})"
        raise ValueError(
            f"{text!r} is not a valid time{detail}; write ISO 8601 like "
            "2026-11-23T10:00:00+01:00, or a relative time like '+3d 10:00'"
        ) from None
    try:
        if parsed.tzinfo is None:
            parsed = _localize(parsed, zone(tz), strict=True, text=text)
        return check_range(parsed.astimezone(timezone.utc), text)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range; {_RANGE}") from None


def _parse_time_of_day(text: str, expr: str) -> time:
    match = _TIME_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"{expr!r}: {text!r} is not a time of day; write it like 09:30")
    hh, mm, ss = int(match["hh"]), int(match["mm"]), int(match["ss"] or 0)
    if hh > 23 or mm > 59 or ss > 59:
        raise ValueError(f"{expr!r}: {text!r} is not a valid time of day")
    return time(hh, mm, ss)


def _split_tail(expr: str) -> tuple[str, int, dict[str, int] | None]:
    """Split a trailing ``+ duration`` (after a space) off the base expression."""
    match = re.fullmatch(
        r"(?P<base>.*\S)\s+(?P<sign>[+-])\s*(?P<dur>[0-9][0-9wdhms ]*)", expr, re.IGNORECASE
    )
    if match is None:
        return expr, 1, None
    parts = _duration_parts(match["dur"])
    if parts is None:
        return expr, 1, None
    return match["base"], (1 if match["sign"] == "+" else -1), parts


def resolve_time(
    expr: str,
    reference_time: datetime,
    tz: str,
    calendar: BusinessDays | None = None,
    *,
    roll: bool = False,
) -> datetime:
    """Resolve a time expression (relative or absolute) to an aware UTC datetime.

    ``reference_time`` is "now" for relative expressions (naive means UTC); ``tz`` is the
    IANA timezone that wall-clock times and calendar days are in; ``calendar`` says which
    days are business days (default Monday to Friday); ``roll`` moves a day that is not
    one away from today (see the module's docstring). ValueError says what is wrong with
    ``expr``.
    """
    if not is_relative(expr):
        return parse_absolute(expr, tz)
    tzinfo = zone(tz)
    if reference_time.tzinfo is None:
        reference_time = reference_time.replace(tzinfo=timezone.utc)
    try:
        now_local = reference_time.astimezone(tzinfo)
        base, shift = expr.strip(), timedelta(0)
        while True:  # "+3d 10:00 + 15m + 45m": peel the trailing durations off
            head, sign, tail = _split_tail(base)
            if tail is None:
                break
            base, shift = head, shift + sign * _elapsed(tail, with_days=True)
        days = calendar if calendar is not None else PLAIN
        resolved = _resolve_base(base, expr, now_local, tzinfo, days, roll)
        return check_range(resolved + shift, expr)  # UTC
    except OverflowError:
        raise ValueError(f"{expr!r} is out of range; {_RANGE}") from None


def _resolve_base(
    base: str, expr: str, now_local: datetime, tz: ZoneInfo, calendar: BusinessDays, roll: bool
) -> datetime:
    words = base.lower().split()
    if not words:
        raise ValueError(f"{expr!r} is not a time")
    head = words[0]
    time_words = words[1:]
    if head == "now":
        if time_words:
            raise ValueError(f"{expr!r}: nothing may follow 'now' except '+ duration'")
        return now_local.astimezone(timezone.utc)
    day: date | None = None
    elapsed = timedelta(0)
    direction = 0  # which way ``roll`` moves a day off: away from today
    business = _BUSINESS_OFFSET.fullmatch(base[1:].strip()) if head[0] in "+-" else None
    if head in _DAY_WORDS:
        day = now_local.date() + timedelta(days=_DAY_WORDS[head])
        direction = _DAY_WORDS[head]
    elif head in ("next", "last") and time_words[:2] == ["business", "day"]:
        time_words = time_words[2:]
        day = calendar.shift(now_local.date(), 1 if head == "next" else -1)
    elif head in ("next", "last"):
        if not time_words:
            raise ValueError(
                f"{expr!r}: name a weekday after {head!r}, e.g. 'next monday' or "
                f"'{head} business day'"
            )
        direction = 1 if head == "next" else -1
        weekday = _weekday(time_words[0], expr)
        time_words = time_words[1:]
        today = now_local.date()
        if head == "next":
            ahead = (weekday - today.weekday()) % 7 or 7
            day = today + timedelta(days=ahead)
        else:
            back = (today.weekday() - weekday) % 7 or 7
            day = today - timedelta(days=back)
    elif business is not None:
        rest = business["rest"].split()
        if rest and _TIME_RE.fullmatch(rest[0]) is None:
            raise ValueError(
                f"{expr!r}: business days do not mix with other units; write it like "
                f"'{head[0]}{business['n']}bd + 2h' or '{head[0]}{business['n']}bd 10:00'"
            )
        time_words = rest
        count = int(business["n"]) * (1 if head[0] == "+" else -1)
        day = calendar.shift(now_local.date(), count)
    elif head[0] in "+-":
        offset_text = head[1:]
        # "+1d 2h" is one offset; glue following duration-looking words onto it
        while time_words and _duration_parts(offset_text + time_words[0]) is not None:
            offset_text += time_words[0]
            time_words = time_words[1:]
        parts = _duration_parts(offset_text)
        if parts is None and re.fullmatch(r"\d+\s*bd\w+", offset_text, re.IGNORECASE):
            raise ValueError(
                f"{expr!r}: business days do not mix with other units; write it like "
                f"'{head[0]}{re.match(r'[0-9]+', offset_text)[0]}bd + 2h'"  # type: ignore[index]
            )
        if parts is None:
            raise ValueError(
                f"{expr!r} is not a relative time; write it like '+3d 10:00', '+2h', "
                "'tomorrow 9:00' or 'next monday 09:30'"
            )
        sign = 1 if head[0] == "+" else -1
        day = now_local.date() + timedelta(days=sign * (parts["w"] * 7 + parts["d"]))
        elapsed = sign * _elapsed(parts, with_days=False)
        direction = sign if parts["w"] or parts["d"] else 0
        if time_words and elapsed:
            raise ValueError(
                f"{expr!r}: a time of day can only follow whole days or weeks, like '+3d 10:00'"
            )
    else:
        raise ValueError(f"{expr!r} is not a relative time")
    if roll and direction and not elapsed and not calendar.is_business_day(day):
        day = calendar.on_or_after(day) if direction > 0 else calendar.on_or_before(day)
    if len(time_words) > 1:
        raise ValueError(f"{expr!r}: unexpected {' '.join(time_words[1:])!r}")
    if time_words:
        wall = datetime.combine(day, _parse_time_of_day(time_words[0], expr))
    else:
        wall = datetime.combine(day, now_local.time().replace(tzinfo=None))
    # Relative times move with the calendar: a wall time in a DST gap shifts forward
    # rather than failing, since the same expression is fine on other days.
    local = _localize(wall, tz, strict=False, text=expr)
    # Elapsed time is added in UTC: aware arithmetic in a zone would add wall-clock time.
    return local.astimezone(timezone.utc) + elapsed


def _weekday(word: str, expr: str) -> int:
    for index, name in enumerate(_WEEKDAYS):
        if word == name or word == name[:3]:
            return index
    raise ValueError(f"{expr!r}: {word!r} is not a weekday; use monday .. sunday")
