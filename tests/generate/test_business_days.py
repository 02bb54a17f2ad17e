"""Business-day relative times (``+2bd``, ``next business day 10:00``), the ``-1d 09:30``
on a Sunday case, and a country's holidays (the ``calendar:`` block of reconciler.yaml)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from reconciler.errors import SpecError
from reconciler.loading.business_days import BusinessDays, country_holidays
from reconciler.loading.project import load_project
from reconciler.loading.times import format_wire_time, resolve_time

#: Sunday 2026-12-06, 10:00 in Berlin.
SUNDAY = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)
BERLIN = "Europe/Berlin"


def _at(expr: str, reference: datetime = SUNDAY, tz: str = BERLIN, **kwargs: object) -> str:
    return format_wire_time(resolve_time(expr, reference, tz, **kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize(("expr", "plain", "rolled"), [
    ("-1d 09:30", "2026-12-05T08:30:00.000Z", "2026-12-04T08:30:00.000Z"),  # Sat; rolled: Fri
    ("yesterday 09:30", "2026-12-05T08:30:00.000Z", "2026-12-04T08:30:00.000Z"),
    ("+6d 09:30", "2026-12-12T08:30:00.000Z", "2026-12-14T08:30:00.000Z"),  # Sat; rolled: Mon
    ("-1bd 09:30", "2026-12-04T08:30:00.000Z", "2026-12-04T08:30:00.000Z"),  # always Fri
    ("+1bd", "2026-12-07T09:00:00.000Z", "2026-12-07T09:00:00.000Z"),  # Mon, 10:00 kept
    ("+0bd 11:00", "2026-12-07T10:00:00.000Z", "2026-12-07T10:00:00.000Z"),
    ("+3bd 10:00 + 45m", "2026-12-09T09:45:00.000Z", "2026-12-09T09:45:00.000Z"),
    ("next business day 10:00", "2026-12-07T09:00:00.000Z", "2026-12-07T09:00:00.000Z"),
    ("last business day", "2026-12-04T09:00:00.000Z", "2026-12-04T09:00:00.000Z"),
    ("today 10:00", "2026-12-06T09:00:00.000Z", "2026-12-06T09:00:00.000Z"),  # never moved
    ("-1d 2h", "2026-12-05T07:00:00.000Z", "2026-12-05T07:00:00.000Z"),  # elapsed: not rolled
])
def test_business_days_and_rolling_off_a_weekend(expr: str, plain: str, rolled: str) -> None:
    assert _at(expr) == plain
    assert _at(expr, roll=True) == rolled


@pytest.mark.parametrize(("expr", "message"), [
    ("+1bd2h", "'+1bd2h': business days do not mix with other units; write it like '+1bd + 2h'"),
    ("next business", "'next business': 'business' is not a weekday"),
])
def test_business_day_forms_that_are_refused(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("+", r"\+")):
        _at(expr)


def test_holidays_are_not_business_days() -> None:
    berlin = BusinessDays(holidays=country_holidays("DE", "BE"))
    wednesday = datetime(2026, 12, 23, 11, 0, tzinfo=timezone.utc)
    # Thu 24th, then Fri 25th and Sat 26th are off (Christmas), Mon 28th
    assert _at("+2bd 10:00", wednesday, calendar=berlin) == "2026-12-28T09:00:00.000Z"
    us = BusinessDays(holidays=country_holidays("US", None))
    thanksgiving_eve = datetime(2026, 11, 25, 17, 0, tzinfo=timezone.utc)
    assert _at("next business day 10:00", thanksgiving_eve, "America/New_York", calendar=us) == (
        "2026-11-27T15:00:00.000Z"  # Thursday 26th is Thanksgiving
    )


MEETING = """\
meetings:
  standup:
    title: Standup
    start: -1d 09:30
    duration: 30m
  review:
    title: Review
    start: +2bd 10:00
    duration: 1h
deals:
  big:
    name: Big deal
    close_date: -1d 09:30
"""


def _project(root: Path, calendar: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "reconciler.yaml").write_text(
        f"name: bd\ntimezone: Europe/Berlin\n{calendar}", encoding="utf-8"
    )
    (root / "spec.yaml").write_text(MEETING, encoding="utf-8")
    return root


def test_a_hand_written_minus_one_day_on_a_sunday_lands_on_friday_with_a_calendar(
    tmp_path: Path,
) -> None:
    plain = load_project(_project(tmp_path / "a"), reference_time=SUNDAY, use_cache=False)
    assert plain.records["meetings/standup"].properties["hs_meeting_start_time"] == (
        "2026-12-05T08:30:00.000Z"  # Saturday: `d` is a calendar day
    )
    with_calendar = load_project(
        _project(tmp_path / "b", "calendar: {}\n"), reference_time=SUNDAY, use_cache=False
    )
    records = with_calendar.records
    assert records["meetings/standup"].properties["hs_meeting_start_time"] == (
        "2026-12-04T08:30:00.000Z"  # Friday
    )
    assert records["meetings/standup"].properties["hs_meeting_end_time"] == (
        "2026-12-04T09:00:00.000Z"
    )
    assert records["meetings/standup"].relative_times["hs_meeting_start_time"] == "-1d 09:30"
    assert records["meetings/review"].properties["hs_meeting_start_time"] == (
        "2026-12-08T09:00:00.000Z"  # Tuesday
    )
    # only activities roll: a deal's close date is the day it says
    assert records["deals/big"].properties["closedate"] == "2026-12-05T08:30:00.000Z"
    kept = load_project(
        _project(tmp_path / "c", "calendar: {non_business_days: keep}\n"),
        reference_time=SUNDAY, use_cache=False,
    )
    assert kept.records["meetings/standup"].properties["hs_meeting_start_time"] == (
        "2026-12-05T08:30:00.000Z"
    )


def test_a_holiday_in_the_calendar_moves_business_day_times(tmp_path: Path) -> None:
    calendar = "calendar:\n  holidays: {country: DE, subdiv: BE, extra: ['2026-12-24']}\n"
    wednesday = datetime(2026, 12, 23, 11, 0, tzinfo=timezone.utc)
    desired = load_project(_project(tmp_path, calendar), reference_time=wednesday, use_cache=False)
    # +2bd from Wed 23rd: the 24th (extra), 25th, 26th (holidays), 27th (Sunday) are off
    assert desired.records["meetings/review"].properties["hs_meeting_start_time"] == (
        "2026-12-29T09:00:00.000Z"
    )


@pytest.mark.parametrize(("holidays", "message"), [
    ("{country: XX}", "calendar.holidays.country: 'XX' is not a country the holidays package "
                      "knows"),
    ("{country: DE, subdiv: ZZ}", "calendar.holidays.subdiv: 'ZZ' is not a subdivision of DE"),
])
def test_an_unknown_holiday_country_is_a_located_error(
    tmp_path: Path, holidays: str, message: str
) -> None:
    root = _project(tmp_path, f"calendar:\n  holidays: {holidays}\n")
    with pytest.raises(SpecError) as caught:
        load_project(root, reference_time=SUNDAY, use_cache=False)
    (issue,) = caught.value.issues
    assert issue.file.endswith("reconciler.yaml") and issue.line == 4
    assert message in f"{issue.path}: {issue.message}"


@pytest.mark.parametrize(("calendar", "message"), [
    ("{business_hours: '9-5'}", "calendar.business_hours: '9-5' is not business hours"),
    ("{weekdays: {mon: 1, funday: 2}}", "calendar.weekdays.funday: 'funday' is not a weekday"),
    ("{weekdays: {sat: 0}}", "calendar.weekdays: every weekday has weight 0"),
    ("{gap: '10'}", "calendar.gap: '10' is not a gap"),
    ("{grid: 2h}", "calendar.grid: '2h' is not a grid"),
    ("{hours: {'25': 1}}", "calendar.hours.25: '25' is not an hour"),
    ("{holidays: {extra: [tomorrow]}}", "calendar.holidays.extra[0]: 'tomorrow' is not a date"),
])
def test_a_bad_calendar_block_is_a_located_error(
    gen_project: Callable[..., Path], calendar: str, message: str
) -> None:
    root = gen_project(project=f"name: x\ncalendar: {calendar}\n")
    with pytest.raises(SpecError) as caught:
        load_project(root, reference_time=SUNDAY, use_cache=False)
    assert any(message in f"{i.path}: {i.message}" for i in caught.value.issues), (
        caught.value.issues
    )


def test_a_warm_load_does_not_import_the_holidays_package(tmp_path: Path) -> None:
    root = _project(tmp_path, "calendar:\n  holidays: {country: DE, subdiv: BE}\n")
    script = (
        "import sys\nfrom datetime import datetime, timezone\n"
        "from reconciler.loading.project import load_project\n"
        f"load_project({str(root)!r}, reference_time=datetime(2026, 12, 23, tzinfo=timezone.utc))\n"
        "print('holidays' in sys.modules)\n"
    )
    cold = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    warm = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert (cold.stdout.strip(), warm.stdout.strip()) == ("True", "False")
