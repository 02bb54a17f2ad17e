"""#20's "Done when" for every type: a golden portal with tickets in a second ticket pipeline
(and a label between tickets and contacts) and notes, tasks and emails on its deals and
contacts, exported with `--types` naming all nine types and `--relative-to now`, and
applied to an empty portal of another id whose owners have other ids (the same emails):
the copy ends equal to it (records, values, associations, labels, schema), and the next
plan against it says `No changes.`"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator.config import DEFAULT_OWNERS, EmulatorConfig, Owner
from reconciler.emulator.embedded import Emulator, start_emulator
from reconciler.export.emails import email_fields
from reconciler.export.reading import EXPORT_TYPES
from reconciler.loading.friendly import email_headers
from reconciler.loading.yamlfile import parse
from tests.export.conftest import Cli
from tests.export.test_export import _client, _portal, _state_ids
from tests.helpers import Run, write_project

GOLDEN = """\
schema:
  pipelines:
    tickets:
      escalations:
        label: Escalations
        stages:
          triage: {label: Triage, state: open}
          fixed: {label: Fixed, state: closed}
  labels:
    reporter: {between: tickets/contacts, label: Reporter}
companies:
  acme: {name: Acme}
contacts:
  jane: {email: jane@acme.example, first_name: Jane, associations: [{company: acme}]}
deals:
  big: {name: Big deal, stage: appointmentscheduled, associations: [{company: acme}]}
objects:
  tickets:
    jam:
      properties: {subject: Printer jam, hs_pipeline: escalations, hs_pipeline_stage: triage,
                   hs_ticket_priority: HIGH}
      associations: [{contact: jane, label: reporter}, {company: acme}, {deal: big}]
    login:
      properties: {subject: Cannot log in, hs_pipeline: "0", hs_pipeline_stage: "1"}
      associations: [{contact: jane}]
notes:
  met-the-team:
    body: <p>Met the team; pricing next.</p>
    timestamp: 2026-11-23T11:00:00+01:00
    owner: alice@example.com
    associations: [{deal: big}, {contact: jane}]
tasks:
  send-pricing:
    subject: Send pricing
    body: The enterprise tier
    status: not started
    priority: high
    type: email
    due: 2026-12-09T10:00:00+01:00
    reminders: 2026-12-09T09:00:00+01:00
    owner: bob@example.com
    associations: [{deal: big}, {contact: jane}]
emails:
  follow-up:
    subject: Following up
    text: Thanks for the call.
    html: <p>Thanks for the call.</p>
    direction: outgoing
    status: sent
    from: Alice Anders <alice@example.com>
    to: [Jane Doe <jane@acme.example>, ops@acme.example]
    cc: {email: mary@acme.example, first_name: Mary Ann, last_name: Lee}
    timestamp: 2026-11-24T09:30:00+01:00
    owner: alice@example.com
    associations: [{contact: jane}, {deal: big}, {ticket: jam}]
"""

EVERY_TYPE = ",".join(EXPORT_TYPES)


@pytest.fixture
def empty() -> Iterator[Emulator]:
    """An empty portal of another id, whose owners have other ids and the same emails."""
    from tests.conftest import EMULATOR_TOKEN

    owners = tuple(Owner(str(int(o.id) + 5000), o.email, o.first_name, o.last_name,
                         o.user_id + 5000) for o in DEFAULT_OWNERS)
    config = EmulatorConfig(token=EMULATOR_TOKEN, portal_id=7654322, owners=owners)
    with start_emulator(config, host="127.0.0.1", port=0) as emu:
        yield emu


def _by_label(emu: Emulator, view: dict[str, Any]) -> dict[str, Any]:
    """``view`` with owners by email, pipelines and stages by label, and association types
    by label: what stays the same between portals."""
    with _client(emu) as client:
        owners = {o.id: o.email for o in client.list_owners()}
        pipelines = {(t, p.id): p for t in ("deals", "tickets") for p in client.pipelines(t)}
        labels = {(pair, label.type_id): label.label or str(label.type_id)
                  for pair in {(a, b) for a, b in _pairs()}
                  for label in client.association_labels(*pair)}
    for address, record in view.items():
        object_type = address.split("/")[0]
        props = record["properties"]
        if "hubspot_owner_id" in props:
            props["hubspot_owner_id"] = owners[props["hubspot_owner_id"]]
        fields = {"deals": ("pipeline", "dealstage"),
                  "tickets": ("hs_pipeline", "hs_pipeline_stage")}.get(object_type)
        if fields is not None:
            pipeline = pipelines[(object_type, props.get(fields[0], "default"))]
            props[fields[0]] = pipeline.label
            props[fields[1]] = next(s.label for s in pipeline.stages if s.id == props[fields[1]])
        record["associations"] = {
            (to, labels.get(((object_type, to.split("/")[0]), t), t))
            for to, t in record["associations"]
        }
    return view


def _pairs() -> list[tuple[str, str]]:
    from reconciler.export.reading import DECLARED_PAIRS

    return list(DECLARED_PAIRS)


def _read(out: Path, name: str) -> dict[str, Any]:
    data = parse((out / f"{name}.yaml").read_text("utf-8"), name).data
    assert isinstance(data, dict)
    return data


def _ticket_schema(emu: Emulator) -> dict[str, Any]:
    with _client(emu) as client:
        pipelines = {p.label: [(s.label, s.metadata.get("ticketState")) for s in p.stages]
                     for p in client.pipelines("tickets")}
        labels = sorted(label.label or "" for label in
                        client.association_labels("tickets", "contacts")
                        if label.category == "USER_DEFINED")
    return {"pipelines": pipelines, "labels": labels}


def test_every_type_of_a_golden_portal_is_copied_into_an_empty_one(
    run: Run, cli: Cli, tmp_path: Path, emulator: Emulator, empty: Emulator
) -> None:
    golden = write_project(tmp_path / "golden", {
        "reconciler.yaml": "name: golden\nid: golden-9f2e4a7b\ntimezone: Europe/Berlin\n",
        "spec.yaml": GOLDEN,
    })
    code, stdout, stderr = run("apply", "--project", golden, "--auto-approve")
    assert code == 0, stdout + stderr
    out = tmp_path / "copy"
    code, stdout, stderr = run("export", "--project", golden, "--out", out,
                               "--types", EVERY_TYPE, "--relative-to", "now")
    assert code == 0, stdout + stderr
    assert "Left out" not in stdout and "Note:" not in stderr, stdout + stderr
    jam = _read(out, "tickets")["objects"]["tickets"]["printer-jam"]
    assert jam["properties"]["hs_pipeline"] == "escalations"
    assert jam["properties"]["hs_pipeline_stage"] == "triage"
    assert {"contact": "jane", "label": "reporter"} in jam["associations"]
    schema = (out / "schema.yaml").read_text("utf-8")
    assert "      escalations:\n        label: Escalations\n" in schema
    assert "          triage:\n            label: Triage\n            state: open\n" in schema
    assert "label: Support Pipeline" in schema  # the default pipeline, adopted by label
    task = _read(out, "tasks")["tasks"]["send-pricing"]
    assert {k: task[k] for k in ("subject", "status", "priority", "type", "owner")} == {
        "subject": "Send pricing", "status": "NOT_STARTED", "priority": "HIGH",
        "type": "EMAIL", "owner": "bob@example.com"}
    email = _read(out, "emails")["emails"]["following-up"]
    assert email["from"] == "Alice Anders <alice@example.com>"
    assert email["to"] == ["Jane Doe <jane@acme.example>", "ops@acme.example"]
    assert email["cc"] == {"email": "mary@acme.example", "first_name": "Mary Ann",
                           "last_name": "Lee"}
    assert (email["direction"], email["text"]) == ("outgoing", "Thanks for the call.")
    note = _read(out, "notes")["notes"]["note-2026-11-23"]
    # every time relative to the export: a task's due and reminders, the timestamps
    times = [task["due"], task["reminders"], email["timestamp"], note["timestamp"]]
    assert all(re.fullmatch(r"([+-]\d+d|today) \d\d:\d\d", t) for t in times), times

    code, o, e = cli("apply", "--project", out, "--auto-approve", "--base-url", empty.base_url)
    assert code == 0, o + e
    sources = json.loads((out / "sources.json").read_text("utf-8"))["records"]
    original = _by_label(emulator, _portal(emulator, sources))
    copy = _by_label(empty, _portal(empty, _state_ids(out)))
    assert copy == original
    assert original["tasks/send-pricing"]["properties"]["hubspot_owner_id"] == "bob@example.com"
    assert original["tickets/printer-jam"]["properties"]["hs_pipeline"] == "Escalations"
    assert ("contacts/jane", "Reporter") in (
        original["tickets/printer-jam"]["associations"])
    assert _ticket_schema(empty) == _ticket_schema(emulator)

    code, o, e = cli("plan", "--project", out, "--base-url", empty.base_url)
    assert code == 0 and "No changes." in o, o + e


@pytest.mark.parametrize("fields", [
    {"from": "alice@example.com", "to": "jane@acme.example"},
    {"from": "Alice Anders <alice@example.com>", "to": ["a@x.example", "Bo <b@x.example>"],
     "bcc": {"email": "c@x.example", "first_name": "Mary Ann"}},
    {"to": [{"email": "d@x.example", "last_name": "van Dijk"}]},
])
def test_email_headers_come_back_as_the_fields_that_write_them(fields: dict[str, Any]) -> None:
    headers, problems = email_headers(fields)
    assert not problems
    back = email_fields(headers)
    assert back is not None and email_headers(back)[0] == headers


@pytest.mark.parametrize("headers", ['{"from": "x"}', "not json", '{"sender": {}}'])
def test_headers_the_fields_cannot_write_stay_a_property(headers: str) -> None:
    assert email_fields(headers) is None
