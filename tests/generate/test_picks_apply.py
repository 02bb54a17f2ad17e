"""Picks, copies and phrases applied to the emulator (real HTTP), then `No changes.`; more
contacts later: only creates, and every applied call still names its applied contact."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from reconciler.emulator.embedded import Emulator

Run = Callable[..., tuple[int, str, str]]

SPEC = """\
generate:
  companies:
    key: "acct-{n}"
    count: 3
    fields:
      name: {fake: company}
  contacts:
    for_each: companies
    key: "{parent}-c{n}"
    count: CONTACTS
    fields:
      first_name: {fake: first_name}
      phone: {fake: basic_phone_number}
    associations:
      - company: "{{ parent.key }}"
  deals:
    for_each: companies
    key: "{parent}-d1"
    owner: bob@example.com
    fields:
      name: "{{ parent.name }} - {{ random_choice(['Renewal', 'Expansion']) }}"
      stage: {random_choice: [qualifiedtobuy, contractsent]}
      pipeline: default
    associations:
      - company: "{{ parent.key }}"
  calls:
    for_each: deals
    key: "{parent}-call{n}"
    count: 3
    picks:
      contact: {random_reference: contacts, scope: parent.parent}
      champion: {random_reference: contacts, scope: parent.parent, optional: 50%}
    owner: {copy: parent.owner}
    fields:
      title: "Call with {{ pick.contact.first_name }}"
      timestamp: "-1d 10:00"
      to_number: {copy: pick.contact.phone}
      disposition: connected
      body: "{{ phrase('call_note', stage=parent.stage, outcome='connected', contact=pick.contact.first_name) }}"
    associations:
      - deal: "{{ parent.key }}"
      - contact: {pick: contact}
      - contact: {pick: champion}
"""


def _write(root: Path, contacts: int) -> Path:
    root.mkdir(exist_ok=True)
    (root / "reconciler.yaml").write_text("name: picks-demo\ntimezone: Europe/Berlin\nseed: 4\n")
    (root / "gen.yaml").write_text(SPEC.replace("CONTACTS", str(contacts)))
    return root


def test_picks_apply_then_plan_no_changes_and_more_contacts_only_create(
    tmp_path: Path, run: Run, emulator: Emulator
) -> None:
    root = _write(tmp_path / "project", contacts=2)
    code, out, err = run("apply", "--project", root, "--auto-approve")
    assert code == 0, out + err
    assert "Apply complete: 21 created" in out
    code, out, err = run("plan", "--project", root, "--detailed-exitcode")
    assert code == 0, out + err
    assert "No changes." in out
    state = json.loads((root / ".reconciler" / "state" / "local.json").read_text())
    records = state["records"]
    call = records["calls/acct-1-d1-call1"]
    contact_key = next(a["to_key"] for a in call["associations"] if a["to_type"] == "contacts")
    contact = records[f"contacts/{contact_key}"]["properties"]
    assert call["properties"]["hs_call_title"] == f"Call with {contact['firstname']}"
    assert call["properties"]["hs_call_to_number"] == contact["phone"]
    assert call["properties"]["hubspot_owner_id"] == "1002"  # bob, the deal's owner
    assert contact["firstname"] in call["properties"]["hs_call_body"] or call["properties"][
        "hs_call_body"]
    _write(root, contacts=9)
    code, out, err = run("plan", "--project", root)
    assert code == 0, err
    assert "Plan: 21 to create, 0 to update, 0 to archive" in out, out


ACTIVITIES = """\
generate:
  companies:
    key: "acct-{n}"
    count: 2
    fields:
      name: {fake: company}
  contacts:
    for_each: companies
    key: "{parent}-c{n}"
    count: 2
    fields:
      first_name: {fake: first_name}
      email: "{{ fields.first_name | lower }}.{{ n }}@{{ parent.key }}.example.com"
    associations:
      - company: "{{ parent.key }}"
  deals:
    for_each: companies
    key: "{parent}-d1"
    owner: bob@example.com
    fields:
      name: "{{ parent.name }} renewal"
      stage: contractsent
      pipeline: default
    associations:
      - company: "{{ parent.key }}"
  emails:
    for_each: deals
    key: "{parent}-email{n}"
    count: 2
    picks:
      contact: {random_reference: contacts, scope: parent.parent}
    owner: {copy: parent.owner}
    fields:
      subject: {phrase: {kind: email_subject, stage: contractsent}}
      text: "{{ phrase('email_body', stage=parent.stage, contact=pick.contact.first_name) }}"
      direction: EMAIL
      from: bob@example.com
      to: {copy: pick.contact.email}
      timestamp: "-2d 09:30"
    associations:
      - deal: "{{ parent.key }}"
      - contact: {pick: contact}
  tasks:
    for_each: deals
    key: "{parent}-task"
    owner: {copy: parent.owner}
    fields:
      subject: "{{ phrase('task_subject', stage=parent.stage) }}"
      due: "+2d 17:00"
    associations:
      - deal: "{{ parent.key }}"
  notes:
    for_each: deals
    key: "{parent}-note"
    fields:
      body: {phrase: {kind: meeting_note, stage: contractsent}}
      timestamp: "-1d 16:00"
    associations:
      - deal: "{{ parent.key }}"
"""


def test_notes_tasks_and_emails_from_the_bank_apply_then_plan_no_changes(
    tmp_path: Path, run: Run, emulator: Emulator
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "reconciler.yaml").write_text("name: words-demo\ntimezone: Europe/Berlin\nseed: 4\n")
    (root / "gen.yaml").write_text(ACTIVITIES)
    code, out, err = run("apply", "--project", root, "--auto-approve")
    assert code == 0, out + err
    assert "Apply complete: 16 created" in out, out
    code, out, err = run("plan", "--project", root, "--detailed-exitcode")
    assert code == 0, out + err
    assert "No changes." in out
    records = json.loads((root / ".reconciler" / "state" / "local.json").read_text())["records"]
    email = records["emails/acct-1-d1-email1"]
    contact_key = next(a["to_key"] for a in email["associations"] if a["to_type"] == "contacts")
    contact = records[f"contacts/{contact_key}"]["properties"]
    assert contact["email"] in email["properties"]["hs_email_headers"]
    assert email["properties"]["hs_email_subject"] and email["properties"]["hs_email_text"]
    assert records["tasks/acct-2-d1-task"]["properties"]["hs_task_subject"]
    assert records["notes/acct-1-d1-note"]["properties"]["hs_note_body"]
