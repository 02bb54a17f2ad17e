"""Notes, tasks and emails written like every other record (#21.1): through the same batch
paths (v3 and the 2026-03 generic path), with HubSpot's default association types, and a
re-plan that finds nothing to do. The real CLI over real HTTP against the emulator."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from reconciler.planning.planner import plan
from tests.generate.conftest import apply_all, load
from tests.helpers import Run, stored, write_project

TIMELINE = """\
contacts:
  jane: {email: jane@acme.example, first_name: Jane}
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
    due: "+2d 10:00"
    reminders: "+2d 09:30"
    status: not started
    priority: high
    type: email
    associations: [{contact: jane}, {deal: big}]
emails:
  follow-up:
    subject: Our call
    text: Thanks for your time.
    direction: outgoing
    status: sent
    from: Alice Smith <alice@example.com>
    to: [Jane <jane@acme.example>, sam@acme.example]
    timestamp: 2026-11-19T16:00:00Z
    associations: [{contact: jane}, {deal: big}, {note: after-call, type_id: 0}]
"""


@pytest.mark.parametrize(("version", "prefix"), [
    ("v3", "/crm/v3/objects/"), ("2026-03", "/crm/objects/2026-03/"),
])
def test_a_timeline_of_notes_tasks_and_emails_applies_then_plans_nothing(
    run: Run, tmp_path: Path, emulator: Any, version: str, prefix: str
) -> None:
    project = write_project(tmp_path / "proj", {
        "reconciler.yaml": f"""\
            name: demo
            timezone: Europe/Berlin
            default_owner: alice@example.com
            targets:
              local: {{api_version: "{version}"}}
            """,
        "timeline.yaml": TIMELINE.replace(", {note: after-call, type_id: 0}", ""),
    })
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    assert "Apply complete: 6 created" in out
    writes = {r["path"] for r in emulator.requests() if r["path"].endswith("/batch/create")}
    assert {f"{prefix}{t}/batch/create" for t in ("notes", "tasks", "emails")} <= writes

    (note,) = stored(emulator, "notes")
    assert note["properties"]["hs_note_body"] == "Jane wants a demo for the whole team."
    (task,) = stored(emulator, "tasks")
    due = datetime.fromisoformat(task["properties"]["hs_timestamp"].replace("Z", "+00:00"))
    reminder = int(task["properties"]["hs_task_reminders"])
    assert due.timestamp() * 1000 - reminder == 30 * 60 * 1000  # in Unix milliseconds
    assert task["properties"]["hs_task_status"] == "NOT_STARTED"
    (email,) = stored(emulator, "emails")
    headers = json.loads(email["properties"]["hs_email_headers"])
    assert headers["from"] == {"email": "alice@example.com", "firstName": "Alice",
                               "lastName": "Smith"}
    # HubSpot fills the sender's and recipients' properties from the headers
    assert email["properties"]["hs_email_from_email"] == "alice@example.com"
    assert "jane@acme.example" in email["properties"]["hs_email_to_email"]

    state = json.loads((project / ".reconciler/state/local.json").read_text())["records"]
    kinds = {
        address: sorted((a["to_type"], a["type_id"]) for a in record["associations"])
        for address, record in state.items() if record.get("associations")
    }
    assert kinds["notes/after-call"] == [("companies", 190), ("contacts", 202), ("deals", 214)]
    assert kinds["tasks/send-deck"] == [("contacts", 204), ("deals", 216)]
    assert kinds["emails/follow-up"] == [("contacts", 198), ("deals", 210)]

    code, out, err = run("plan", "--project", project)
    assert code == 0 and "No changes." in out, out + err


def test_an_engagement_type_id_of_another_pair_is_refused_at_validate(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    project = write_project(tmp_path / "proj", {
        "reconciler.yaml": "name: demo\n",
        "timeline.yaml": TIMELINE.replace("{note: after-call, type_id: 0}",
                                          "{contact: jane, type_id: 202}"),
    })
    code, out, err = run("plan", "--project", project)
    assert code == 1, out + err
    assert (
        "emails.follow-up.associations[2].type_id: type_id 202 is HubSpot's notes → contacts "
        "type; emails → contacts takes 198" in err
    )
    assert emulator.requests() == []


def test_a_reminder_is_pinned_with_its_due_time(tmp_path: Path) -> None:
    """Relative times are pinned at the first apply, the reminder's milliseconds too: a
    week later nothing moves; a new expression moves only what it sets."""
    project = write_project(tmp_path / "proj", {
        "reconciler.yaml": "name: demo\ntimezone: Europe/Berlin\n",
        "tasks.yaml": """\
            tasks:
              call-back:
                subject: Call Jane back
                due: "+2d 10:00"
                reminders: "+2d 09:00"
            """,
    })
    first = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
    state = apply_all(load(project, first))
    assert not plan(load(project, first + timedelta(days=7)), state).has_changes
    path = project / "tasks.yaml"
    path.write_text(path.read_text().replace('"+2d 09:00"', '"+2d 09:15"'))
    (change,) = plan(load(project, first + timedelta(days=7)), state).changes
    assert [(d.name, d.after) for d in change.diffs] == [
        ("hs_task_reminders", str(int(datetime(2026, 11, 29, 8, 15, tzinfo=timezone.utc)
                                      .timestamp() * 1000))),
    ]
