"""Stories: for each deal a sequence of steps in time (a discovery call, a demo 2-5
business days later, a recap a few minutes after it, a follow-up...), the deal's stage
and close date agreeing with them, and the stability rules holding (plans as data)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from reconciler.errors import SpecError
from reconciler.generate.scheduling import settle
from reconciler.loading.business_days import BusinessDays
from reconciler.model import DesiredRecord, DesiredState
from reconciler.planning.changes import Plan
from reconciler.planning.planner import plan
from reconciler.state.model import State

from .conftest import applied, load

#: Wednesday 2026-11-18, 13:00 in Berlin.
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=timezone.utc)
BERLIN = ZoneInfo("Europe/Berlin")

PROJECT = """\
name: story-demo
timezone: Europe/Berlin
seed: 5
default_owner: alice@example.com
vars:
  accounts: 8
calendar:
  business_hours: "09:00-17:00"
  gap: 10m
"""

STORY = """\
generate:
  companies:
    key: "acct-{n:03}"
    count: "{{ vars.accounts }}"
    fields:
      name: "Company {{ n }}"
  deals:
    for_each: companies
    key: "{parent}-d{n}"
    count: 2
    owner: {random_choice: [alice@example.com, bob@example.com]}
    fields:
      name: "{{ parent.name }} deal {{ n }}"
      pipeline: default
      amount: {random_number: {min: 1000, max: 9000, step: 500}}
    associations:
      - company: "{{ parent.key }}"
    story:
      window: {start: -60d, end: +21d}
      outcomes:
        won: {weight: 30%, stage: closedwon, ends: past}
        lost: {weight: 20%, stage: closedlost, ends: past}
        open: {weight: 50%, stage: appointmentscheduled}
      associations:
        - company: "{{ parent.parent }}"
      steps:
        discovery:
          type: calls
          at: start
          count: {random_choice: {1: 50%, 2: 50%}}
          stage: qualifiedtobuy
          fields:
            title: "Discovery call {{ step.n }} for {{ parent.name }}"
            duration: "{{ '25m' if step.last else '1m' }}"
            body: "Outcome so far: {{ story.outcome }}"
        demo:
          type: meetings
          after: {step: discovery, business_days: 2-5}
          stage: presentationscheduled
          fields:
            title: "Demo for {{ parent.name }}"
            duration: {random_choice: {45m: 60%, 1h: 40%}}
            outcome: {by_time: {field: start, past: COMPLETED, future: SCHEDULED}}
        recap:
          type: calls
          after: {step: demo, minutes: 5-40}
          fields:
            title: "Recap of the demo"
            duration: 10m
        closing:
          type: meetings
          when: [won, lost]
          after: {step: recap, business_days: 3-6}
          stage: contractsent
          fields:
            title: "{{ 'Signing' if story.outcome == 'won' else 'Decision' }} with {{ parent.name }}"
            duration: 30m
"""


@pytest.fixture
def story_project(gen_project: Callable[..., Path]) -> Callable[..., Path]:
    def write(generators: str = STORY, project: str = PROJECT) -> Path:
        return gen_project({"gen.yaml": generators}, project=project)

    return write


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _start(record: DesiredRecord) -> datetime:
    props = record.properties
    return _at(props.get("hs_meeting_start_time") or props["hs_timestamp"])


def _end(record: DesiredRecord) -> datetime:
    props = record.properties
    if "hs_meeting_end_time" in props:
        return _at(props["hs_meeting_end_time"])
    return _start(record) + timedelta(milliseconds=int(props["hs_call_duration"]))


def _business_days_between(first: datetime, second: datetime) -> int:
    days = BusinessDays()
    a, b = first.astimezone(BERLIN).date(), second.astimezone(BERLIN).date()
    return len(days.between(a + timedelta(days=1), b))


def _steps(desired: DesiredState, deal: str) -> dict[str, DesiredRecord]:
    key = deal.split("/")[1]
    return {
        r.key[len(key) + 1:]: r for r in desired.records.values()
        if r.object_type in ("meetings", "calls") and r.key.startswith(key + "-")
    }


def test_each_deal_tells_its_story_in_order(story_project: Callable[..., Path]) -> None:
    desired = load(story_project(), NOW)
    now = NOW
    deals = [r for r in desired.records.values() if r.object_type == "deals"]
    assert len(deals) == 16
    outcomes = set()
    for deal in deals:
        steps = _steps(desired, deal.address)
        attempts = sorted(k for k in steps if k.startswith("discovery"))
        assert attempts in (["discovery1"], ["discovery1", "discovery2"])
        last_attempt = steps[attempts[-1]]
        if len(attempts) == 2:
            assert _business_days_between(_start(steps["discovery1"]), _start(last_attempt)) in (
                1, 2
            )
            assert steps["discovery1"].properties["hs_call_duration"] == "60000"
        assert last_attempt.properties["hs_call_duration"] == "1500000"
        demo, recap = steps["demo"], steps["recap"]
        assert 2 <= _business_days_between(_start(last_attempt), _start(demo)) <= 5
        assert _start(recap) - _end(demo) >= timedelta(minutes=5)
        if _start(recap).date() == _end(demo).date():  # (else no room was left that evening)
            assert _start(recap) - _end(demo) <= timedelta(minutes=40)
        stage = deal.properties["dealstage"]
        close = _at(deal.properties["closedate"])
        last = max(_start(s) for s in steps.values())
        if "closing" in steps:  # won or lost: everything is past, closed on the last step
            closing = steps["closing"]
            assert 3 <= _business_days_between(_start(recap), _start(closing)) <= 6
            assert all(_end(s) < now for s in steps.values())
            assert stage in ("closedwon", "closedlost")
            assert close == last
            won = stage == "closedwon"
            assert closing.properties["hs_meeting_title"].startswith("Signing" if won else "Decision")
            assert last_attempt.properties["hs_call_body"] == (
                f"Outcome so far: {'won' if won else 'lost'}"
            )
            outcomes.add(stage)
        else:  # open: at the stage of the last step already past, closing later
            past = [s for s in ("discovery", "demo") if any(
                k.startswith(s) and _start(r) <= now for k, r in steps.items()
            )]
            expected = {"discovery": "qualifiedtobuy", "demo": "presentationscheduled"}
            assert stage == (expected[past[-1]] if past else "appointmentscheduled")
            assert close > max(last, now)
            assert demo.properties["hs_meeting_outcome"] == (
                "SCHEDULED" if _start(demo) > now else "COMPLETED"
            )
            outcomes.add("open")
    assert outcomes == {"closedwon", "closedlost", "open"}


def _as_applied(desired: DesiredState, state: State) -> DesiredState:
    """The records with the values the state holds (pinned times included)."""
    from dataclasses import replace
    from types import MappingProxyType

    return replace(desired, records=MappingProxyType({
        address: replace(record, properties=MappingProxyType(
            {**record.properties, **state.records[address].properties}
        )) for address, record in desired.records.items()
    }))


def _settled_plan(desired: DesiredState, state: State) -> Plan:
    return plan(settle(desired, state), state)


def _apply(desired: DesiredState, state: State | None = None) -> State:
    state = state or State.empty()
    return applied(_settled_plan(desired, state), state)


def test_a_re_plan_later_changes_nothing(story_project: Callable[..., Path]) -> None:
    root = story_project()
    state = _apply(load(root, NOW))
    assert not _settled_plan(load(root, NOW + timedelta(days=4)), state).has_changes


def test_more_deals_only_create_their_stories(story_project: Callable[..., Path]) -> None:
    root = story_project()
    before = load(root, NOW)
    state = _apply(before)
    grown = load(root, NOW + timedelta(days=2), variables=[("accounts", "11")])
    result = _settled_plan(grown, state)
    assert {c.action for c in result.changes} == {"create"}
    assert {c.address for c in result.changes} == set(grown.records) - set(before.records)
    assert not _settled_plan(grown, applied(result, state)).has_changes


def test_editing_a_steps_field_updates_that_field(story_project: Callable[..., Path]) -> None:
    root = story_project()
    state = _apply(load(root, NOW))
    story_project(STORY.replace('title: "Recap of the demo"', 'title: "Demo recap"'))
    result = _settled_plan(load(root, NOW), state)
    assert len(result.changes) == 16
    assert {(c.action, c.object_type, d.name) for c in result.changes for d in c.diffs} == {
        ("update", "calls", "hs_call_title")
    }


def test_moving_a_step_moves_it_and_what_follows(story_project: Callable[..., Path]) -> None:
    root = story_project()
    state = _apply(load(root, NOW))
    story_project(STORY.replace("business_days: 2-5", "business_days: 6-8"))
    moved = settle(load(root, NOW), state)
    result = plan(moved, state)
    assert {c.action for c in result.changes} == {"update"}
    kinds = {(c.key.split("-")[-1], d.name) for c in result.changes for d in c.diffs}
    assert {step for step, _ in kinds} <= {"demo", "recap", "closing", "d1", "d2"}
    assert {name for _, name in kinds} <= {
        "hs_meeting_start_time", "hs_meeting_end_time", "hs_timestamp", "hs_meeting_outcome",
        "dealstage", "closedate",
    }
    portal = _as_applied(moved, applied(result, state))
    for deal in (r for r in portal.records.values() if r.object_type == "deals"):
        steps = _steps(portal, deal.address)
        discovery = max((r for k, r in steps.items() if k.startswith("discovery")), key=_start)
        assert 6 <= _business_days_between(_start(discovery), _start(steps["demo"])) <= 8


@pytest.mark.parametrize(("change", "message"), [
    (("after: {step: discovery, business_days: 2-5}", "after: {step: discovry, business_days: 2-5}"),
     "generate.deals.story.steps.demo.after.step: 'discovry' is not another step of this story; "
     "did you mean 'discovery'?"),
    (("when: [won, lost]", "when: [won, lots]"),
     "generate.deals.story.steps.closing.when[1]: 'lots' is not an outcome of this story; "
     "did you mean 'lost'?"),
    (("type: meetings\n          when", "type: deals\n          when"),
     "generate.deals.story.steps.closing.type: 'deals' is not a valid type; use one of meetings, calls"),
    (("after: {step: recap, business_days: 3-6}", "after: {step: closing, business_days: 3-6}"),
     "generate.deals.story.steps.closing.after.step: 'closing' is not another step"),
    (("after: {step: discovery, business_days: 2-5}", "after: {step: closing, business_days: 2-5}"),
     "steps follow each other in a circle"),
    (("pipeline: default", "pipeline: default\n      stage: qualifiedtobuy"),
     "generate.deals.story: the story sets the stage of deals: remove stage from fields"),
    (("title: \"Recap of the demo\"", "title: Recap\n            timestamp: +1d"),
     "generate.deals.story.steps.recap.fields.timestamp: the story places each step"),
])
def test_a_story_that_cannot_work_is_a_located_error(
    story_project: Callable[..., Path], change: tuple[str, str], message: str
) -> None:
    root = story_project(STORY.replace(*change))
    with pytest.raises(SpecError) as caught:
        load(root, NOW)
    assert any(message in f"{i.path}: {i.message}" for i in caught.value.issues), (
        caught.value.issues
    )
    assert all(i.line > 1 for i in caught.value.issues)


def test_a_story_needs_a_calendar(story_project: Callable[..., Path]) -> None:
    root = story_project(project=PROJECT.split("calendar:")[0])
    with pytest.raises(SpecError) as caught:
        load(root, NOW)
    (issue,) = caught.value.issues
    assert issue.path == "generate.deals.story"
    assert issue.message.startswith("a story places its steps on the owners' calendars")


NEW_TYPES = STORY + """\
        recap_note:
          type: notes
          after: {step: demo, minutes: 5-40}
          fields: {body: "Recap for {{ parent.name }}"}
        follow_up:
          type: emails
          after: {step: demo, business_days: 1}
          fields:
            subject: Thanks for your time
            direction: outgoing
            status: {by_time: {field: timestamp, past: SENT, future: SCHEDULED}}
        proposal:
          type: tasks
          after: {step: demo, business_days: 3}
          stage: decisionmakerboughtin
          fields:
            subject: Send the proposal
            status: {by_time: {field: due, past: COMPLETED, future: NOT_STARTED}}
"""


def test_notes_emails_and_tasks_are_steps_too(story_project: Callable[..., Path]) -> None:
    """A note minutes after the demo ends, an email the next business day, a task three
    business days on: timed by the step they follow, their by_time values by their times,
    and a story step added at the end plans only creates."""
    root = story_project()
    state = _apply(load(root, NOW))
    desired = load(story_project(NEW_TYPES), NOW)
    for deal in (r for r in desired.records.values() if r.object_type == "deals"):
        key = deal.key
        demo = desired.records[f"meetings/{key}-demo"]
        note = desired.records[f"notes/{key}-recap_note"]
        email = desired.records[f"emails/{key}-follow_up"]
        task = desired.records[f"tasks/{key}-proposal"]
        assert _start(note) - _end(demo) >= timedelta(minutes=5)
        assert note.properties["hs_note_body"] == f"Recap for {deal.properties['dealname']}"
        assert _business_days_between(_start(demo), _start(email)) == 1
        assert _business_days_between(_start(demo), _start(task)) == 3
        assert email.properties["hs_email_status"] == (
            "SENT" if _start(email) <= NOW else "SCHEDULED"
        )
        assert task.properties["hs_task_status"] == (
            "COMPLETED" if _start(task) <= NOW else "NOT_STARTED"
        )
    result = _settled_plan(desired, state)
    created = {c.object_type for c in result.changes if c.action == "create"}
    assert created == {"notes", "emails", "tasks"}


def test_two_steps_at_one_minute_keep_the_storys_order() -> None:
    """A note and a task block no time, so two steps can share a minute: the stage is
    the later step's in the story (it once failed comparing a stage with no stage)."""
    from reconciler.generate.story_times import story_values

    at = "2026-11-16T09:00:00.000Z"
    steps = [["calls/d1-discovery", "qualifiedtobuy"], ["notes/d1-recap", None],
             ["tasks/d1-proposal", "decisionmakerboughtin"]]
    starts = {"calls/d1-discovery": "2026-11-10T09:00:00.000Z", "notes/d1-recap": at,
              "tasks/d1-proposal": at}
    values = story_values(["open", None, "appointmentscheduled", steps, [3, 3, 0.0]], starts,
                          "2026-11-18T12:00:00.000Z", BusinessDays(), BERLIN)
    assert values["dealstage"] == "decisionmakerboughtin"
