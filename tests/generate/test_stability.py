"""The stability rules of generators, as plans: plain data in, Plan out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from reconciler.planning.planner import plan
from reconciler.state.model import Pin, State

from .conftest import GENERATORS, PROJECT, REFERENCE, apply_all, load


def _changes(result) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(c.action, c.address) for c in result.changes]


def test_unchanged_generators_plan_no_changes_a_week_later(gen_project: Callable[..., Path]) -> None:
    root = gen_project()
    state = apply_all(load(root))
    later = load(root, REFERENCE + timedelta(days=7))
    assert not plan(later, state).has_changes


def test_raising_the_count_creates_only_the_new_records(gen_project: Callable[..., Path]) -> None:
    root = gen_project()
    before = load(root)
    state = apply_all(before)
    after = load(root, variables=[("accounts", "6")])
    result = plan(after, state)
    assert {c.action for c in result.changes} == {"create"}
    created = {c.address for c in result.changes}
    assert created == set(after.records) - set(before.records)
    assert {a for a in created if a.startswith("companies/")} == {
        "companies/acct-005", "companies/acct-006"
    }


def test_lowering_the_count_archives_the_highest_keys(gen_project: Callable[..., Path]) -> None:
    root = gen_project()
    state = apply_all(load(root))
    result = plan(load(root, variables=[("accounts", "3")]), state)
    assert {c.action for c in result.changes} == {"archive"}
    assert {c.key.split("-")[0] + "-" + c.key.split("-")[1] for c in result.changes} == {"acct-004"}


def test_editing_one_field_updates_that_field_only(gen_project: Callable[..., Path]) -> None:
    root = gen_project()
    state = apply_all(load(root))
    gen_project({"gen.yaml": GENERATORS.replace(
        "industry: {random_choice: {COMPUTER_SOFTWARE: 70%, BANKING: 30%}}",
        "industry: {random_choice: {COMPUTER_SOFTWARE: 20%, RETAIL: 80%}}",
    )})
    result = plan(load(root), state)
    assert result.changes
    for change in result.changes:
        assert change.action == "update" and change.object_type == "companies"
        assert {d.name for d in change.diffs} <= {"industry"}
        assert set(change.pins) - {"industry"} == {
            name for name, pin in state.records[change.address].pinned.items()
            if change.pins[name] == pin
        }


def test_a_template_reading_an_edited_field_follows_it(gen_project: Callable[..., Path]) -> None:
    root = gen_project()
    state = apply_all(load(root))
    gen_project({"gen.yaml": GENERATORS.replace("first_name: {fake: first_name}", "first_name: Sam")})
    result = plan(load(root), state)
    names = {d.name for c in result.changes for d in c.diffs}
    assert names == {"firstname", "email"}
    assert all(c.after["email"].startswith("sam.") for c in result.changes)


def test_reordering_files_changes_nothing(gen_project: Callable[..., Path]) -> None:
    companies, rest = GENERATORS.split("  contacts:")
    root = gen_project({"a.yaml": companies, "b.yaml": "generate:\n  contacts:" + rest})
    state = apply_all(load(root))
    (root / "a.yaml").rename(root / "z.yaml")
    reordered = load(root)
    assert not plan(reordered, state).has_changes
    for address, record in reordered.records.items():
        assert dict(record.properties) == dict(state.records[address].properties) or (
            record.relative_times  # times resolve against the run; pins keep them
        )


def test_an_unrelated_generator_changes_nothing_else(gen_project: Callable[..., Path]) -> None:
    root = gen_project()
    state = apply_all(load(root))
    gen_project({"gen.yaml": GENERATORS, "more.yaml": """\
        generate:
          deals:
            key: "deal-{n}"
            count: 3
            fields:
              name: {fake: catch_phrase}
              stage: appointmentscheduled
              pipeline: default
        """})
    result = plan(load(root), state)
    assert _changes(result) == [("create", f"deals/deal-{n}") for n in (1, 2, 3)]


def test_values_do_not_depend_on_generation_order(gen_project: Callable[..., Path]) -> None:
    root = gen_project()
    first = load(root)
    gen_project({"gen.yaml": GENERATORS.replace("  companies:", "  aaa_first:\n    type: deals\n    key: \"x{n}\"\n    count: 5\n    fields: {name: {fake: word}}\n  companies:")})
    second = load(root)
    for address, record in first.records.items():
        assert second.records[address].properties == record.properties


def test_pinned_values_survive_a_faker_upgrade(gen_project: Callable[..., Path]) -> None:
    """What Faker makes may change with its version: the pins keep what was applied."""
    root = gen_project()
    state = apply_all(load(root))
    record = state.records["companies/acct-001"]
    pin = record.pinned["name"]
    state.records["companies/acct-001"] = record.__class__(
        id=record.id, object_type=record.object_type,
        properties={**record.properties, "name": "Old Faker Name"},
        associations=record.associations,
        pinned={**record.pinned, "name": Pin(pin.expr, "Old Faker Name")},
    )
    result = plan(load(root), state)
    assert not result.has_changes


def test_a_random_pick_stays_when_candidates_are_added(gen_project: Callable[..., Path]) -> None:
    root = gen_project()
    state = apply_all(load(root))
    picked = {
        address: [a.to_key for a in record.associations if a.to_type == "contacts"]
        for address, record in state.records.items() if address.startswith("meetings/")
    }
    # twenty more contacts per company: without pins, some picks would move to them
    gen_project({"gen.yaml": GENERATORS.replace(
        "count: {random_number: {min: 2, max: 4}}", "count: {random_number: {min: 22, max: 24}}"
    )})
    grown = load(root)
    result = plan(grown, state)
    assert {c.action for c in result.changes} == {"create"}
    assert all(c.object_type == "contacts" for c in result.changes)
    fresh = plan(grown, State.empty())
    moved = [
        c.address for c in fresh.changes if c.object_type == "meetings"
        and [a.to_key for a in c.associations if a.to_type == "contacts"] != picked[c.address]
    ]
    assert moved  # without a state, picks among the larger set differ for some meetings
    assert picked == {
        address: [a.to_key for a in record.associations if a.to_type == "contacts"]
        for address, record in apply_all(grown, state).records.items()
        if address.startswith("meetings/")
    }


def test_refresh_times_re_pins_only_times_and_what_they_decide(gen_project: Callable[..., Path]) -> None:
    from reconciler.generate.inputs import is_generated_pin

    root = gen_project()
    state = apply_all(load(root))
    meeting = state.records["meetings/acct-001-m1"]
    kept = {k for k, p in meeting.pinned.items() if is_generated_pin(p.expr)}
    dropped = set(meeting.pinned) - kept
    assert "hs_meeting_title" in kept and "@association:1" in kept
    assert dropped == {
        "hs_meeting_start_time", "hs_meeting_end_time", "hs_meeting_outcome"
    }


def test_an_outcome_follows_its_time(gen_project: Callable[..., Path]) -> None:
    desired = load(gen_project())
    for record in desired.records.values():
        if record.object_type == "meetings":
            past = record.properties["hs_meeting_start_time"] < "2026-11-20T12:00:00.000Z"
            assert record.properties["hs_meeting_outcome"] == ("COMPLETED" if past else "SCHEDULED")
            start = record.properties["hs_meeting_start_time"]
            # business hours in Europe/Berlin (UTC+1 in November), on a weekday
            assert "08:00" <= start[11:16] <= "15:45"


def test_project_settings_unchanged_without_generators(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(PROJECT)
    (tmp_path / "a.yaml").write_text("contacts:\n  a: {email: a@example.com}\n")
    assert list(load(tmp_path).records) == ["contacts/a"]
