"""Notes, tasks and emails as sections of their own, and the checks validate makes of any
record whatever the portal (issues #19 and #21.1): plain files in, DesiredState or
located problems out."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from reconciler.errors import SpecError
from reconciler.loading.project import load_project

#: A Friday, in winter time in Europe/Berlin.
REFERENCE = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)

TIMELINE = """\
contacts:
  jane: {email: jane@example.com, first_name: Jane}
companies:
  acme: {name: Acme}
deals:
  big: {name: Big deal}
notes:
  after-call:
    body: Jane wants a demo for the whole team.
    timestamp: 2026-11-19T15:00:00+01:00
    associations: [{contact: jane}, {company: acme}, {deal: big}]
tasks:
  send-deck:
    subject: Send the deck
    body: The short one.
    due: "+2d 10:00"
    reminders: "+2d 09:30"
    status: not started
    priority: high
    type: email
    owner: 1002
    associations: [{contact: jane}, {deal: big}]
emails:
  follow-up:
    subject: Our call
    text: Thanks for your time.
    html: <p>Thanks for your time.</p>
    direction: outgoing
    status: sent
    from: Alice Smith <alice@example.com>
    to: [jane@example.com, {email: sam@example.com, first_name: Sam, last_name: Lee}]
    bcc: crm@example.com
    timestamp: 2026-11-19T16:00:00Z
    associations: [{contact: jane}, {deal: big}]
"""


def _load(root: Path, files: dict[str, str], *, reference: datetime = REFERENCE):  # type: ignore[no-untyped-def]
    for name, content in files.items():
        (root / name).write_text(content, encoding="utf-8")
    return load_project(root, reference_time=reference, use_cache=False)


def _problems(root: Path, files: dict[str, str]) -> list[str]:
    with pytest.raises(SpecError) as caught:
        _load(root, files)
    return [issue.render().replace(f"{root}/", "") for issue in caught.value.issues]


def test_notes_tasks_and_emails_become_hubspot_properties(tmp_path: Path) -> None:
    records = _load(tmp_path, {
        "reconciler.yaml": "name: demo\ntimezone: Europe/Berlin\ndefault_owner: alice@example.com\n",
        "timeline.yaml": TIMELINE,
    }).records
    note = records["notes/after-call"]
    assert dict(note.properties) == {
        "hs_note_body": "Jane wants a demo for the whole team.",
        "hs_timestamp": "2026-11-19T14:00:00.000Z",
    }
    assert note.owner_email == "alice@example.com"  # the project's default_owner applies
    task = records["tasks/send-deck"]
    assert dict(task.properties) == {
        "hs_task_subject": "Send the deck",
        "hs_task_body": "The short one.",
        "hs_timestamp": "2026-11-22T09:00:00.000Z",  # Sunday 10:00 in Berlin
        # Unix milliseconds, as the tasks guide demands: Sunday 09:30 in Berlin
        "hs_task_reminders": str(int(datetime(2026, 11, 22, 8, 30, tzinfo=timezone.utc)
                                     .timestamp() * 1000)),
        "hs_task_status": "NOT_STARTED",
        "hs_task_priority": "HIGH",
        "hs_task_type": "EMAIL",
        "hubspot_owner_id": "1002",
    }
    assert dict(task.relative_times) == {
        "hs_timestamp": "+2d 10:00", "hs_task_reminders": "+2d 09:30",
    }
    email = records["emails/follow-up"].properties
    assert (email["hs_email_direction"], email["hs_email_status"]) == ("EMAIL", "SENT")
    assert email["hs_email_headers"] == (
        '{"from":{"email":"alice@example.com","firstName":"Alice","lastName":"Smith"},'
        '"to":[{"email":"jane@example.com"},'
        '{"email":"sam@example.com","firstName":"Sam","lastName":"Lee"}],'
        '"cc":[],"bcc":[{"email":"crm@example.com"}]}'
    )
    assert json.loads(email["hs_email_headers"])["cc"] == []
    # HubSpot's default association types of every engagement pair (note → contact is 202)
    assert [(a.to_type, a.type_id) for a in note.associations] == [
        ("contacts", 202), ("companies", 190), ("deals", 214),
    ]
    assert [(a.to_type, a.type_id) for a in records["tasks/send-deck"].associations] == [
        ("contacts", 204), ("deals", 216),
    ]
    assert [(a.to_type, a.type_id) for a in records["emails/follow-up"].associations] == [
        ("contacts", 198), ("deals", 210),
    ]


def test_records_point_at_notes_tasks_and_emails_by_their_singular(tmp_path: Path) -> None:
    records = _load(tmp_path, {"timeline.yaml": TIMELINE + """\
meetings:
  demo:
    title: Demo
    start: 2026-11-24T10:00:00Z
    associations: [{note: after-call, type_id: 9001, category: USER_DEFINED}]
"""}).records
    assert [(a.to_type, a.to_key) for a in records["meetings/demo"].associations] == [
        ("notes", "after-call"),
    ]


def test_an_outcome_or_status_a_portal_defines_passes_validate(tmp_path: Path) -> None:
    """Portals edit these options: a documented value is written in HubSpot's case, any
    other as written, and plan checks it against the portal (design-19 row 10)."""
    records = _load(tmp_path, {"spec.yaml": """\
meetings:
  a: {title: A, start: "2026-11-24T10:00:00Z", outcome: no show}
  b: {title: B, start: "2026-11-24T10:00:00Z", outcome: Rescheduled_by_client}
  c: {title: C, start: "2026-11-24T10:00:00Z", outcome: 3f2b8c1e-custom}
tasks:
  t: {subject: T, due: "2026-11-24T10:00:00Z", status: Waiting for Jane}
emails:
  e: {subject: E, timestamp: "2026-11-24T10:00:00Z", direction: incoming}
"""}).records
    assert [records[f"meetings/{k}"].properties["hs_meeting_outcome"] for k in "abc"] == [
        "NO_SHOW", "Rescheduled_by_client", "3f2b8c1e-custom",
    ]
    assert records["tasks/t"].properties["hs_task_status"] == "Waiting for Jane"
    assert records["emails/e"].properties["hs_email_direction"] == "INCOMING_EMAIL"


def test_primary_association_types_pass(tmp_path: Path) -> None:
    """HubSpot's Primary types (associations guide): 1/2 contact/company, 5/6 deal/company,
    26 ticket → company and 25 company → ticket."""
    records = _load(tmp_path, {"spec.yaml": """\
companies:
  acme:
    name: Acme
    associations:
      - {contact: jane, type_id: 2}
      - {deal: big, type_id: 6}
      - {ticket: jam, type_id: 25}
contacts:
  jane: {email: jane@example.com, associations: [{company: acme, type_id: 1}]}
deals:
  big: {name: Big, associations: [{company: acme, type_id: 5}]}
objects:
  tickets:
    jam:
      properties: {subject: Printer jam, hs_pipeline_stage: "1"}
      associations: [{company: acme, type_id: 26}]
"""}).records
    assert [a.type_id for a in records["companies/acme"].associations] == [2, 6, 25]
    assert records["tickets/jam"].associations[0].type_id == 26


def test_a_text_longer_than_hubspot_holds_is_refused_where_it_was_written(
    tmp_path: Path,
) -> None:
    long = "x" * 65_537
    fits = "y" * 65_536
    assert _problems(tmp_path, {"spec.yaml": f"""\
meetings:
  a: {{title: A, start: "2026-11-24T10:00:00Z", body: {long}}}
  b: {{title: B, start: "2026-11-24T10:00:00Z", body: {fits}}}
calls:
  c: {{timestamp: "2026-11-24T10:00:00Z", properties: {{hs_call_body: {long}}}}}
notes:
  n: {{timestamp: "2026-11-24T10:00:00Z", body: {long}}}
"""}) == [
        "spec.yaml:2:54: meetings.a.body: hs_meeting_body is 65,537 characters; HubSpot's "
        "text properties hold at most 65,536",
        "spec.yaml:5:69: calls.c.properties.hs_call_body: hs_call_body is 65,537 characters; "
        "HubSpot's text properties hold at most 65,536",
        "spec.yaml:7:48: notes.n.body: hs_note_body is 65,537 characters; HubSpot's text "
        "properties hold at most 65,536",
    ]


def test_notes_tasks_and_emails_have_their_own_sections(tmp_path: Path) -> None:
    assert _problems(tmp_path, {"spec.yaml": """\
objects:
  notes:
    n: {properties: {hs_note_body: Hi, hs_timestamp: "2026-11-24T10:00:00Z"}}
"""}) == [
        "spec.yaml:2:3: objects.notes: notes have their own section: write them under notes: "
        "instead of objects.notes",
    ]


def test_emails_take_one_headers_property(tmp_path: Path) -> None:
    """from/to/cc/bcc are all hs_email_headers: setting it raw as well is a conflict."""
    assert _problems(tmp_path, {"spec.yaml": """\
emails:
  e:
    subject: Hello
    timestamp: 2026-11-24T10:00:00Z
    to: jane@example.com
    properties: {hs_email_headers: "{}"}
"""}) == [
        "spec.yaml:6:18: emails.e.properties.hs_email_headers: hs_email_headers is also set "
        "by the field 'to'; keep only one of them",
    ]


def test_contact_emails_are_compared_ignoring_case_across_hand_and_generated(
    tmp_path: Path,
) -> None:
    problems = _problems(tmp_path, {
        "people.yaml": "contacts:\n  jane: {email: jane@example.com}\n",
        "gen.yaml": """\
generate:
  contacts:
    key: "c-{n}"
    count: 2
    fields:
      email: "{{ 'JANE' if n == 2 else 'other' }}@Example.com"
""",
    })
    assert problems == [
        "gen.yaml:2:3: contacts.c-2: 'JANE@Example.com' is also the email of "
        "contacts/jane (people.yaml:2:3); HubSpot compares contact emails ignoring case "
        "and refuses a second contact with it",
    ]
