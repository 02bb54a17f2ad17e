"""Owners' calendars (calendar: in reconciler.yaml): generated meetings and calls of one
owner never overlap and keep the gap, within business hours on business days, spread by
the weights; and the stability rules hold against a state (plans as plain data)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from reconciler.errors import SpecError
from reconciler.generate.scheduling import settle
from reconciler.model import DesiredState
from reconciler.planning.changes import Plan
from reconciler.planning.planner import plan
from reconciler.state.model import State

from .conftest import applied, load

#: Thursday 2026-11-05 12:00 in Berlin: the window reaches back over the end of summer time.
THURSDAY = datetime(2026, 11, 5, 11, 0, tzinfo=timezone.utc)
BERLIN = ZoneInfo("Europe/Berlin")

PROJECT = """\
name: calendar-demo
timezone: Europe/Berlin
seed: 11
default_owner: alice@example.com
vars:
  accounts: 6
calendar:
  business_hours: "08:30-17:30"
  weekdays: {mon: 1.0, tue: 1.3, wed: 1.3, thu: 1.2, fri: 0.6}
  hours: {"08": 0.4, "12": 0, "17": 0.2}
  gap: 10m
  holidays: {country: DE, subdiv: BE}
"""

GENERATORS = """\
generate:
  companies:
    key: "acct-{n:03}"
    count: "{{ vars.accounts }}"
    fields:
      name: "Company {{ n }}"
  meetings:
    for_each: companies
    key: "{parent}-m{n}"
    count: 25
    owner: {random_choice: [alice@example.com, bob@example.com]}
    fields:
      title: "Review with {{ parent.name }}"
      start: {datetime_between: {start: -30d, end: +10d, business_hours: true}}
      duration: {random_choice: {30m: 50%, 45m: 30%, 1h: 20%}}
      body: "Agenda for {{ parent.name }}"
      outcome: {by_time: {field: start, past: COMPLETED, future: SCHEDULED}}
    associations:
      - company: "{{ parent.key }}"
  calls:
    for_each: companies
    key: "{parent}-call{n}"
    count: 30
    owner: {random_choice: [alice@example.com, bob@example.com]}
    fields:
      title: "Call {{ n }} with {{ parent.name }}"
      timestamp: {datetime_between: {start: -30d, end: -1d, business_hours: true}}
      duration: "{{ random_number(2, 25) }}m"
      status: COMPLETED
    associations:
      - company: "{{ parent.key }}"
"""


@pytest.fixture
def calendar_project(gen_project: Callable[..., Path]) -> Callable[..., Path]:
    def write(generators: str = GENERATORS, project: str = PROJECT) -> Path:
        return gen_project({"gen.yaml": generators}, project=project)

    return write


def _wire(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _intervals(desired: DesiredState) -> dict[str, list[tuple[datetime, datetime, str]]]:
    """Each owner's meetings and calls, sorted."""
    by_owner: dict[str, list[tuple[datetime, datetime, str]]] = defaultdict(list)
    for record in desired.records.values():
        props = record.properties
        if record.object_type == "meetings":
            start, end = _wire(props["hs_meeting_start_time"]), _wire(props["hs_meeting_end_time"])
        elif record.object_type == "calls":
            start = _wire(props["hs_timestamp"])
            end = start + timedelta(milliseconds=int(props["hs_call_duration"]))
        else:
            continue
        by_owner[str(record.owner_email)].append((start, end, record.address))
    for intervals in by_owner.values():
        intervals.sort()
    return by_owner


def _assert_believable(desired: DesiredState, gap: timedelta = timedelta(minutes=10)) -> None:
    from reconciler.loading.business_days import BusinessDays, country_holidays
    from reconciler.loading.times import zone

    berlin, days = zone("Europe/Berlin"), BusinessDays(holidays=country_holidays("DE", "BE"))
    for intervals in _intervals(desired).values():
        for (_, end, first), (start, _, second) in zip(intervals, intervals[1:], strict=False):
            assert start - end >= gap, f"{first} and {second} are {start - end} apart"
        for start, end, address in intervals:
            local_start, local_end = start.astimezone(berlin), end.astimezone(berlin)
            assert days.is_business_day(local_start.date()), address
            assert local_start.hour * 60 + local_start.minute >= 8 * 60 + 30, address
            assert local_end.date() == local_start.date(), address
            assert local_end.hour * 60 + local_end.minute <= 17 * 60 + 30, address
            assert local_start.minute % 5 == 0 and local_start.hour != 12, address


def test_one_owners_activities_never_overlap_and_keep_the_gap(
    calendar_project: Callable[..., Path],
) -> None:
    desired = load(calendar_project(), THURSDAY)
    assert len([r for r in desired.records if not r.startswith("companies/")]) == 330
    _assert_believable(desired)
    assert {
        _wire(r.properties["hs_meeting_start_time"]).astimezone(BERLIN).utcoffset()
        for r in desired.records.values() if r.object_type == "meetings"
    } == {timedelta(hours=1), timedelta(hours=2)}  # both sides of the clock change
    # by_time follows the placed time
    for record in desired.records.values():
        if record.object_type == "meetings":
            future = record.properties["hs_meeting_start_time"] > desired.reference_time
            assert record.properties["hs_meeting_outcome"] == (
                "SCHEDULED" if future else "COMPLETED"
            )


def test_activity_spreads_by_the_weekday_weights(calendar_project: Callable[..., Path]) -> None:
    generators = GENERATORS.replace("count: 25", "count: 30").replace("count: 30\n", "count: 0\n", 1)
    generators = generators.replace("{30m: 50%, 45m: 30%, 1h: 20%}", "{30m: 100%}")
    project = PROJECT.replace("accounts: 6", "accounts: 10")  # 300 meetings, 2 owners
    desired = load(calendar_project(generators, project), THURSDAY)
    weekdays = Counter(
        _wire(r.properties["hs_meeting_start_time"]).astimezone(BERLIN).weekday()
        for r in desired.records.values() if r.object_type == "meetings"
    )
    weights = {0: 1.0, 1: 1.3, 2: 1.3, 3: 1.2, 4: 0.6}
    per_weight = sum(weekdays.values()) / sum(
        weights[d.weekday()] for d in _business_days(-30, 10)
    )
    for weekday, weight in weights.items():
        expected = per_weight * weight * sum(1 for d in _business_days(-30, 10)
                                             if d.weekday() == weekday)
        assert abs(weekdays[weekday] - expected) <= 0.25 * expected, (weekdays, weekday)


def _business_days(first: int, last: int) -> list:  # type: ignore[type-arg]
    from reconciler.loading.business_days import BusinessDays, country_holidays

    today = THURSDAY.date()
    days = BusinessDays(holidays=country_holidays("DE", "BE"))
    return days.between(today + timedelta(days=first), today + timedelta(days=last))


def test_a_hand_written_meeting_blocks_its_owners_time(
    calendar_project: Callable[..., Path],
) -> None:
    # a whole week of alice's afternoons is taken by hand-written meetings
    hand = "meetings:\n" + "".join(
        f"  offsite-{d}:\n    title: Offsite\n    start: \"-{d}bd 13:00\"\n    duration: 4h\n"
        f"    owner: alice@example.com\n" for d in range(1, 8)
    )
    root = calendar_project()
    (root / "hand.yaml").write_text(hand, encoding="utf-8")
    _assert_believable(load(root, THURSDAY))


def _settled_plan(desired: DesiredState, state: State) -> Plan:
    return plan(settle(desired, state), state)


def _apply(desired: DesiredState, state: State | None = None) -> State:
    state = state or State.empty()
    return applied(_settled_plan(desired, state), state)


def _pinned_desired(desired: DesiredState, state: State) -> DesiredState:
    """The records as the state has them (what the portal holds after the plan)."""
    from dataclasses import replace
    from types import MappingProxyType

    records = {}
    for address, record in desired.records.items():
        recorded = state.records.get(address)
        if recorded is None:
            records[address] = record
        else:
            props = {**record.properties, **recorded.properties}
            records[address] = replace(record, properties=MappingProxyType(props))
    return replace(desired, records=MappingProxyType(records))


def test_a_re_plan_days_later_changes_nothing(calendar_project: Callable[..., Path]) -> None:
    root = calendar_project()
    state = _apply(load(root, THURSDAY))
    later = load(root, THURSDAY + timedelta(days=3))
    assert settle(later, state) is later  # everything is pinned: nothing is placed again
    assert not _settled_plan(later, state).has_changes


def test_raising_the_count_days_later_only_creates_around_what_is_applied(
    calendar_project: Callable[..., Path],
) -> None:
    root = calendar_project()
    before = load(root, THURSDAY)
    state = _apply(before)
    later = THURSDAY + timedelta(days=3)
    grown = load(root, later, variables=[("accounts", "9")])
    result = _settled_plan(grown, state)
    assert {c.action for c in result.changes} == {"create"}
    assert {c.address for c in result.changes} == set(grown.records) - set(before.records)
    after = applied(result, state)
    _assert_believable(_pinned_desired(settle(grown, state), after))
    assert not _settled_plan(grown, after).has_changes


def test_lowering_the_count_only_archives(calendar_project: Callable[..., Path]) -> None:
    root = calendar_project()
    state = _apply(load(root, THURSDAY))
    result = _settled_plan(load(root, THURSDAY, variables=[("accounts", "4")]), state)
    assert {c.action for c in result.changes} == {"archive"}


def test_editing_a_body_updates_bodies_only(calendar_project: Callable[..., Path]) -> None:
    root = calendar_project()
    state = _apply(load(root, THURSDAY))
    calendar_project(GENERATORS.replace("Agenda for", "Plan for"))
    result = _settled_plan(load(root, THURSDAY + timedelta(days=1)), state)
    assert len(result.changes) == 150
    assert {(c.action, d.name) for c in result.changes for d in c.diffs} == {
        ("update", "hs_meeting_body")
    }


def test_a_longer_gap_moves_times_only(calendar_project: Callable[..., Path]) -> None:
    root = calendar_project()
    state = _apply(load(root, THURSDAY))
    calendar_project(project=PROJECT.replace("gap: 10m", "gap: 15m"))
    moved = load(root, THURSDAY)
    result = _settled_plan(moved, state)
    assert result.changes and {c.action for c in result.changes} == {"update"}
    assert {d.name for c in result.changes for d in c.diffs} <= {
        "hs_meeting_start_time", "hs_meeting_end_time", "hs_timestamp", "hs_meeting_outcome",
    }
    _assert_believable(settle(moved, state), gap=timedelta(minutes=15))


def test_an_owner_with_no_room_left_is_a_located_error(
    calendar_project: Callable[..., Path],
) -> None:
    generators = """\
generate:
  meetings:
    key: "m{n}"
    count: 300
    owner: bob@example.com
    fields:
      title: Busy week
      start: {datetime_between: {start: +1d, end: +7d, business_hours: true}}
      duration: 1h
"""
    with pytest.raises(SpecError) as caught:
        load(calendar_project(generators), THURSDAY)
    (issue,) = caught.value.issues
    assert (issue.path, issue.line, issue.column) == ("generate.meetings", 2, 3)
    assert issue.message.startswith("owner bob@example.com: no free 60m slot for meetings/m")
    assert "between Fri 2026-11-06 and Thu 2026-11-12; 39 h of the 40 h of business hours" in (
        issue.message
    )
    assert issue.message.endswith(
        "lower the counts, widen the window, shorten the gap, or add owners"
    )


def test_without_a_calendar_nothing_is_scheduled(calendar_project: Callable[..., Path]) -> None:
    project = PROJECT.split("calendar:")[0]
    desired = load(calendar_project(project=project), THURSDAY)
    assert desired.schedule is None
    state = _apply(desired)
    assert not plan(load(calendar_project(project=project), THURSDAY), state).has_changes
