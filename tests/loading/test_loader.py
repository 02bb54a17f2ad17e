"""The loader on good input: what DesiredState holds, and the cache."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from reconciler.errors import ConfigError, SpecError
from reconciler.loading.project import load_project
from reconciler.loading.project_settings import load_project_settings
from reconciler.loading.schema import schema_text
from reconciler.model import AssociationRef, Reminder

from .conftest import EXAMPLES, SMALL_VARS

MEETING = """\
meetings:
  kickoff:
    title: Kickoff
    start: 2026-11-23T10:00:00+01:00
    duration: 45m
    outcome: completed
    location_type: vce
    associations:
      - contact: jane
      - company: {id: "98765"}
      - object: p_widgets
        key: blue
        type_id: 77
        category: USER_DEFINED
contacts:
  jane:
    email: jane@example.com
    properties: {lifecyclestage: lead, score: 12, vip: true, ratio: 2.5, rounded: 3.0}
objects:
  p_widgets:
    blue:
      properties: {colour: blue}
"""


def test_examples_load(reference: datetime) -> None:
    desired = load_project(EXAMPLES, reference_time=reference, use_cache=False,
                           variables=SMALL_VARS)
    types = {r.object_type for r in desired.records.values()}
    assert types == {"companies", "contacts", "deals", "meetings", "calls", "notes", "tasks",
                     "emails"}
    activities = [r for r in desired.records.values() if r.object_type in ("meetings", "calls")]
    assert len(activities) >= 12
    assert sum(1 for r in activities if r.calendar is not None) == 1
    assert any(r.relative_times for r in activities)
    assert desired.project.name == "acme-demo"
    assert desired.project.timezone == "Europe/Berlin"
    assert desired.reference_time == "2026-11-20T12:00:00.000Z"


def test_friendly_fields_become_wire_strings(project, reference: datetime) -> None:
    root = project({"spec.yaml": MEETING})
    desired = load_project(root, reference_time=reference)
    meeting = desired.records["meetings/kickoff"]
    assert dict(meeting.properties) == {
        "hs_meeting_title": "Kickoff",
        "hs_meeting_start_time": "2026-11-23T09:00:00.000Z",
        "hs_timestamp": "2026-11-23T09:00:00.000Z",
        "hs_meeting_end_time": "2026-11-23T09:45:00.000Z",
        "hs_meeting_outcome": "COMPLETED",
        "hs_meeting_location_type": "VCE",
    }
    assert meeting.associations == (
        AssociationRef("contacts", to_key="jane", type_id=200),
        AssociationRef("companies", to_id="98765", type_id=188),
        AssociationRef("p_widgets", to_key="blue", type_id=77, category="USER_DEFINED"),
    )
    assert meeting.source.file == str(root / "spec.yaml")
    assert (meeting.source.line, meeting.source.column) == (2, 3)
    assert meeting.relative_times == {}
    jane = desired.records["contacts/jane"]
    assert dict(jane.properties) == {
        "email": "jane@example.com",
        "lifecyclestage": "lead",
        "score": "12",
        "vip": "true",
        "ratio": "2.5",
        "rounded": "3",
    }
    assert desired.records["p_widgets/blue"].properties == {"colour": "blue"}


def test_calls(project, reference: datetime) -> None:
    root = project(
        {
            "spec.yaml": """\
calls:
  ring:
    timestamp: 2026-11-23T10:00:00Z
    duration: 1h5m
    direction: inbound
    status: no_answer
    disposition: left_voicemail
    owner: 1002
"""
        }
    )
    call = load_project(root, reference_time=reference).records["calls/ring"]
    assert dict(call.properties) == {
        "hs_timestamp": "2026-11-23T10:00:00.000Z",
        "hs_call_duration": "3900000",
        "hs_call_direction": "INBOUND",
        "hs_call_status": "NO_ANSWER",
        "hs_call_disposition": "b2cf5968-551e-4856-9783-52b3da59a7d0",
        "hubspot_owner_id": "1002",
    }


def test_relative_times_are_resolved_and_recorded(project, reference: datetime) -> None:
    root = project(
        {
            "reconciler.yaml": "timezone: Europe/Berlin\n",
            "spec.yaml": "meetings:\n  m:\n    title: M\n    start: +3d 10:00\n    duration: 45m\n"
            "  n:\n    title: N\n    start: tomorrow 9:00\n    end: tomorrow 9:30\n",
        }
    )
    desired = load_project(root, reference_time=reference)
    m = desired.records["meetings/m"]
    assert m.properties["hs_meeting_start_time"] == "2026-11-23T09:00:00.000Z"
    assert m.properties["hs_timestamp"] == "2026-11-23T09:00:00.000Z"
    assert m.properties["hs_meeting_end_time"] == "2026-11-23T09:45:00.000Z"
    assert dict(m.relative_times) == {
        "hs_meeting_start_time": "+3d 10:00",
        "hs_timestamp": "+3d 10:00",
        "hs_meeting_end_time": "+3d 10:00 + 45m",
    }
    n = desired.records["meetings/n"]
    assert n.relative_times["hs_meeting_end_time"] == "tomorrow 9:30"
    # Another reference time moves them; the expressions stay the same.
    later = load_project(root, reference_time=datetime(2026, 12, 1, tzinfo=timezone.utc))
    assert later.records["meetings/m"].properties["hs_meeting_start_time"] == (
        "2026-12-04T09:00:00.000Z"
    )
    assert later.records["meetings/m"].relative_times == m.relative_times


def test_default_owner_and_calendar(project, reference: datetime) -> None:
    root = project(
        {
            "reconciler.yaml": "timezone: Europe/Berlin\ndefault_owner: alice@example.com\n",
            "spec.yaml": """\
meetings:
  cal:
    title: Demo
    start: 2026-11-23T10:00:00Z
    duration: 30m
    calendar:
      organizer: 5001
      reminders: [15m, 1d, {before: 2, unit: hours}]
  mine:
    title: Mine
    start: 2026-11-23T10:00:00Z
    owner: "1003"
  raw:
    title: Raw
    start: 2026-11-23T10:00:00Z
    properties: {hubspot_owner_id: "1002"}
objects:
  tickets:
    t1:
      properties: {subject: Printer, hs_pipeline_stage: "1"}
""",
        }
    )
    records = load_project(root, reference_time=reference).records
    cal = records["meetings/cal"]
    assert cal.owner_email == "alice@example.com"
    assert "hubspot_owner_id" not in cal.properties
    assert cal.properties["hs_meeting_outcome"] == "SCHEDULED"
    assert cal.calendar is not None
    assert cal.calendar.organizer == "5001"
    assert cal.calendar.timezone == "Europe/Berlin"
    assert cal.calendar.reminders == (
        Reminder(15, "MINUTES"),
        Reminder(1, "DAYS"),
        Reminder(2, "HOURS"),
    )
    assert records["meetings/mine"].properties["hubspot_owner_id"] == "1003"
    assert records["meetings/mine"].owner_email is None
    assert records["meetings/raw"].properties["hubspot_owner_id"] == "1002"
    assert records["meetings/raw"].owner_email is None
    assert records["tickets/t1"].owner_email is None  # objects: take no default owner


def test_same_key_in_two_types_is_fine(project, reference: datetime) -> None:
    root = project(
        {
            "a.yaml": "contacts:\n  acme:\n    email: a@acme.example\n",
            "b.yml": "companies:\n  acme:\n    name: Acme\n",
        }
    )
    assert set(load_project(root, reference_time=reference).records) == {
        "contacts/acme",
        "companies/acme",
    }


def test_hidden_folders_and_project_file_are_not_specs(project, reference: datetime) -> None:
    root = project(
        {
            "reconciler.yaml": "name: x\n",
            ".hidden/bad.yaml": "nonsense: [",
            ".github/workflows/ci.yml": "on: push\njobs: {}\n",
            "nested/reconciler.yaml": "name: another-project\n",
            "nested/specs.yaml": "contacts:\n  a:\n    email: other@example.com\n",
            "a.yaml": "contacts:\n  a:\n    email: a@example.com\n",
        }
    )
    # a sub-folder with its own reconciler.yaml is another project, not part of this one
    assert list(load_project(root, reference_time=reference).records) == ["contacts/a"]


def test_project_settings(project) -> None:
    root = project(
        {
            "reconciler.yaml": """\
name: demo
timezone: America/New_York
default_owner: 1001
default_target: prod
targets:
  prod:
    base_url: https://api.hubapi.com
    token_env: PROD_TOKEN
    portal_id: 123
    api_version: "2026-03"
    protected: true
    rate_limit: {tier: professional, concurrency: 2}
"""
        }
    )
    settings = load_project_settings(root)
    assert (settings.name, settings.timezone, settings.default_owner) == (
        "demo",
        "America/New_York",
        "1001",
    )
    assert settings.default_target == "prod"
    assert settings.targets["prod"]["rate_limit"] == {"tier": "professional", "concurrency": 2}
    assert settings.source_file == str(root / "reconciler.yaml")


def test_project_settings_default_to_the_folder_name(tmp_path: Path) -> None:
    folder = tmp_path / "my-project"
    folder.mkdir()
    settings = load_project_settings(folder)
    assert (settings.name, settings.timezone, settings.default_target) == (
        "my-project",
        "UTC",
        "local",
    )


def test_missing_folder_is_a_config_error(tmp_path: Path, reference: datetime) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_project(tmp_path / "nope", reference_time=reference)
    (tmp_path / "file.yaml").write_text("a: 1\n")
    with pytest.raises(ConfigError, match="not a folder"):
        load_project(tmp_path / "file.yaml", reference_time=reference)


def test_cache_is_used_and_invalidated(project, reference: datetime) -> None:
    root = project({"spec.yaml": MEETING})
    cold = load_project(root, reference_time=reference)
    entries = list((root / ".reconciler" / "cache").glob("*.entry"))
    assert len(entries) == 1
    warm = load_project(root, reference_time=reference)
    assert warm == cold
    # A changed file is parsed again (and a broken one reported, not served from cache).
    (root / "spec.yaml").write_text(MEETING.replace("Kickoff", "Kick-off"))
    assert (
        load_project(root, reference_time=reference)
        .records["meetings/kickoff"]
        .properties["hs_meeting_title"]
        == "Kick-off"
    )
    assert len(list((root / ".reconciler" / "cache").glob("*.entry"))) == 1  # stale one pruned
    (root / "spec.yaml").write_text(MEETING.replace("title: Kickoff", "titel: Kickoff"))
    with pytest.raises(SpecError):
        load_project(root, reference_time=reference)


def test_cache_depends_on_the_timezone(project, reference: datetime) -> None:
    root = project({"spec.yaml": "meetings:\n  m:\n    title: M\n    start: 2026-11-23T10:00:00\n"})
    utc = load_project(root, reference_time=reference)
    (root / "reconciler.yaml").write_text("timezone: Europe/Berlin\n")
    berlin = load_project(root, reference_time=reference)
    assert (
        utc.records["meetings/m"].properties["hs_meeting_start_time"] == "2026-11-23T10:00:00.000Z"
    )
    assert (
        berlin.records["meetings/m"].properties["hs_meeting_start_time"]
        == "2026-11-23T09:00:00.000Z"
    )


def test_corrupt_cache_entries_are_ignored(project, reference: datetime) -> None:
    root = project({"spec.yaml": MEETING})
    cold = load_project(root, reference_time=reference)
    for entry in (root / ".reconciler" / "cache").glob("*.entry"):
        entry.write_text("{not json")
    assert load_project(root, reference_time=reference) == cold


def test_no_cache_writes_nothing(project, reference: datetime) -> None:
    root = project({"spec.yaml": MEETING})
    load_project(root, reference_time=reference, use_cache=False)
    assert not (root / ".reconciler").exists()


def test_anchors_and_merge_keys(project, reference: datetime) -> None:
    root = project(
        {
            "spec.yaml": """\
meetings:
  a: &standup
    title: Standup
    start: 2026-11-23T09:00:00Z
    duration: 15m
  b:
    <<: *standup
    start: 2026-11-24T09:00:00Z
"""
        }
    )
    records = load_project(root, reference_time=reference).records
    assert records["meetings/b"].properties["hs_meeting_title"] == "Standup"
    assert records["meetings/b"].properties["hs_meeting_end_time"] == "2026-11-24T09:15:00.000Z"


def test_all_problems_across_files_are_reported(project, reference: datetime) -> None:
    root = project(
        {
            "a.yaml": "meetings:\n  m:\n    title: M\n",
            "b.yaml": "calls:\n  c:\n    timestamp: whenever\n",
            "c.yaml": "- just a list\n",
        }
    )
    with pytest.raises(SpecError) as caught:
        load_project(root, reference_time=reference)
    assert [(Path(i.file).name, i.line) for i in caught.value.issues] == [
        ("a.yaml", 2),
        ("b.yaml", 3),
        ("c.yaml", 1),
    ]


def test_schema_text() -> None:
    import json

    assert json.loads(schema_text("spec"))["$defs"]["meeting"]["required"] == ["title", "start"]
    assert "targets" in json.loads(schema_text("project"))["properties"]
