"""plan and apply through the real CLI, over real HTTP, against the emulator."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.base import main
from tests.helpers import stored, write_project

TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN"

PROJECT = """\
name: demo
timezone: Europe/Berlin
default_owner: alice@example.com
"""

ACCOUNTS = """\
companies:
  acme:
    name: Acme GmbH
    domain: acme.example
contacts:
  jane-doe:
    email: jane@acme.example
    properties:
      firstname: Jane
      lastname: Doe
    associations:
      - company: acme
"""

ACTIVITIES = """\
meetings:
  kickoff:
    title: Kickoff
    start: 2026-12-01T10:00:00+01:00
    duration: 45m
    outcome: scheduled
    associations:
      - contact: jane-doe
      - company: acme
calls:
  intro-call:
    title: Intro call
    timestamp: 2026-11-20T15:00:00+01:00
    direction: outbound
    duration: 5m
    associations:
      - contact: jane-doe
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(
        tmp_path / "proj",
        {"reconciler.yaml": PROJECT, "accounts.yaml": ACCOUNTS, "activities.yaml": ACTIVITIES},
    )


def test_apply_creates_everything_then_no_changes(run, project: Path, emulator: Any) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    assert "Plan: 4 to create, 0 to update, 0 to archive." in out
    assert "Apply complete: 4 created" in out
    assert len(stored(emulator, "meetings")) == 1 and len(stored(emulator, "calls")) == 1

    code, out, _ = run("apply", "--project", project, "--auto-approve")
    assert code == 0 and "No changes." in out

    state = json.loads((project / ".reconciler/state/local.json").read_text())
    assert sorted(state["records"]) == [
        "calls/intro-call", "companies/acme", "contacts/jane-doe", "meetings/kickoff",
    ]


def test_records_created_in_the_same_run_are_associated(run, project: Path, emulator: Any) -> None:  # type: ignore[no-untyped-def]
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    state = json.loads((project / ".reconciler/state/local.json").read_text())["records"]
    meeting = state["meetings/kickoff"]
    targets = {(a["to_type"], a["to_id"], a["type_id"]) for a in meeting["associations"]}
    assert targets == {
        ("contacts", state["contacts/jane-doe"]["id"], 200),
        ("companies", state["companies/acme"]["id"], 188),
    }
    (remote,) = stored(emulator, "meetings")
    assert remote["properties"]["hs_meeting_title"] == "Kickoff"
    assert remote["properties"]["hs_meeting_end_time"] == "2026-12-01T09:45:00.000Z"


def test_editing_one_title_gives_one_update(run, project: Path, emulator: Any) -> None:  # type: ignore[no-untyped-def]
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    path = project / "activities.yaml"
    path.write_text(path.read_text().replace("title: Kickoff", "title: Kick-off"))
    code, out, _ = run("plan", "--project", project, "--detailed-exitcode")
    assert code == 2
    assert "Plan: 0 to create, 1 to update, 0 to archive." in out
    assert '~ meetings/kickoff' in out and '"Kickoff" → "Kick-off"' in out
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    (remote,) = stored(emulator, "meetings")
    assert remote["properties"]["hs_meeting_title"] == "Kick-off"


def test_deleting_a_record_gives_one_archive(run, project: Path, emulator: Any) -> None:  # type: ignore[no-untyped-def]
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    path = project / "activities.yaml"
    text = path.read_text()
    path.write_text(text[: text.index("calls:")])
    code, out, _ = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out
    assert "Plan: 0 to create, 0 to update, 1 to archive." in out
    assert stored(emulator, "calls") == []


def test_portal_edits_and_deletes_show_as_drift(run, project: Path, emulator: Any) -> None:  # type: ignore[no-untyped-def]
    import httpx

    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    state = json.loads((project / ".reconciler/state/local.json").read_text())["records"]
    headers = {"Authorization": f"Bearer {emulator.token}"}
    meeting_id = state["meetings/kickoff"]["id"]
    call_id = state["calls/intro-call"]["id"]
    httpx.patch(f"{emulator.base_url}/crm/v3/objects/meetings/{meeting_id}",
                json={"properties": {"hs_meeting_title": "Renamed in UI",
                                     "hs_meeting_body": "notes from the UI"}},
                headers=headers).raise_for_status()
    httpx.delete(f"{emulator.base_url}/crm/v3/objects/calls/{call_id}",
                 headers=headers).raise_for_status()

    code, out, _ = run("plan", "--project", project, "--json")
    assert code == 0
    changes = {c["address"]: c for c in json.loads(out)["changes"]}
    assert changes["meetings/kickoff"]["action"] == "update"
    assert changes["meetings/kickoff"]["drift"] == [
        {"property": "hs_meeting_title", "applied": "Kickoff", "portal": "Renamed in UI"}
    ]
    assert changes["calls/intro-call"]["action"] == "create"
    assert changes["calls/intro-call"]["reason"] == "deleted in the portal"

    code, out, _ = run("plan", "--project", project, "--offline")
    assert "No changes." in out  # offline plans trust the state

    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    meetings = stored(emulator, "meetings")
    assert meetings[0]["properties"]["hs_meeting_title"] == "Kickoff"
    assert meetings[0]["properties"]["hs_meeting_body"] == "notes from the UI"  # not ours


def test_ten_thousand_records_take_one_create_request_per_hundred(
    run, tmp_path: Path, emulator: Any  # type: ignore[no-untyped-def]
) -> None:
    lines = ["meetings:"]
    for i in range(6000):
        lines += [f"  m{i}:", f"    title: Meeting {i}", "    start: 2026-12-01T10:00:00Z"]
    lines.append("calls:")
    for i in range(4000):
        lines += [f"  c{i}:", f"    title: Call {i}", "    timestamp: 2026-12-01T10:00:00Z"]
    project = write_project(tmp_path / "big", {"reconciler.yaml": "name: big\n",
                                                 "bulk.yaml": "\n".join(lines) + "\n"})
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, (out + err)[-2000:]
    creates: dict[str, int] = {}
    for request in emulator.requests():
        path = request["path"]
        if path.endswith("/batch/create") or path.endswith("/batch/upsert"):
            object_type = path.split("/")[-3]
            creates[object_type] = creates.get(object_type, 0) + 1
    assert creates == {"meetings": math.ceil(6000 / 100), "calls": math.ceil(4000 / 100)}
    assert len(stored(emulator, "meetings")) == 6000
    assert len(stored(emulator, "calls")) == 4000


def test_calendar_meeting_goes_through_the_scheduler(run, tmp_path: Path, emulator: Any) -> None:  # type: ignore[no-untyped-def]
    import httpx

    spec = ACCOUNTS + textwrap.dedent("""\
        meetings:
          demo:
            title: Product demo
            start: 2026-12-02T14:00:00+01:00
            duration: 1h
            calendar:
              organizer: "5001"
              timezone: Europe/Berlin
              reminders: [15m, 1d]
              include_description: true
            associations:
              - contact: jane-doe
        """)
    project = write_project(tmp_path / "cal", {"reconciler.yaml": PROJECT, "spec.yaml": spec})
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    calendar_posts = [r for r in emulator.requests() if "/meetings/calendar" in r["path"]]
    assert len(calendar_posts) == 1
    body = calendar_posts[0]["request_body"]
    assert body["timezone"] == "Europe/Berlin"
    reminders = body["emailReminderSchedule"]["reminders"]
    assert {(r["numberOfTimeUnits"], r["timeUnit"]) for r in reminders} == {(15, "MINUTES"), (1, "DAYS")}
    events = httpx.get(f"{emulator.base_url}/__emulator/calendar-events").json()
    assert len(events["results"] if isinstance(events, dict) else events) == 1


def test_stale_saved_plan_is_refused(run, project: Path, emulator: Any, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plan_file = tmp_path / "plan.json"
    assert run("plan", "--project", project, "--out", plan_file)[0] == 0
    assert run("apply", "--project", project, "--auto-approve")[0] == 0  # state moves on
    code, _, err = run("apply", "--project", project, "--plan", plan_file)
    assert code == 1 and "stale" in err
    assert "Traceback" not in err


def test_saved_plan_applies_exactly(run, project: Path, emulator: Any, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plan_file = tmp_path / "plan.json"
    assert run("plan", "--project", project, "--out", plan_file)[0] == 0
    code, out, err = run("apply", "--project", project, "--plan", plan_file)
    assert code == 0, out + err
    assert "4 created" in out


def test_apply_without_terminal_or_auto_approve_fails_fast(run, project: Path, emulator: Any) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run("apply", "--project", project)
    assert code == 1
    assert "--auto-approve" in err
    assert emulator.requests() == []


def test_token_never_appears_in_output_or_files(run, project: Path, emulator: Any) -> None:  # type: ignore[no-untyped-def]
    outputs = []
    for args in (("plan", "--project", project), ("apply", "--project", project, "--auto-approve"),
                 ("plan", "--project", project, "--json"), ("state", "list", "--project", project),
                 ("apply", "--project", project, "--auto-approve", "--json", "--debug")):
        code, out, err = run(*args)
        outputs.append(out + err)
    assert all(emulator.token not in text for text in outputs)
    for path in project.rglob("*"):
        if path.is_file():
            assert emulator.token.encode() not in path.read_bytes(), path


def test_plain_http_to_a_remote_host_is_refused(project: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "secret-token-value")
    code = main(["plan", "--project", str(project), "--base-url", "http://203.0.113.9"])
    err = capsys.readouterr().err
    assert code == 1 and "refusing plain http://" in err
    assert "secret-token-value" not in err


def test_offline_plan_needs_no_token(project: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    code = main(["plan", "--project", str(project), "--offline", "--target", "local",
                 "--base-url", "https://api.hubapi.com"])
    out = capsys.readouterr().out
    assert code == 0 and "Plan: 4 to create" in out


def test_association_changes_go_through_the_associations_api(run, project: Path, emulator: Any) -> None:  # type: ignore[no-untyped-def]
    import httpx

    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    path = project / "activities.yaml"
    path.write_text(path.read_text().replace("      - company: acme\n", "", 1))
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    assert "Plan: 0 to create, 1 to update, 0 to archive." in out
    state = json.loads((project / ".reconciler/state/local.json").read_text())["records"]
    meeting_id = state["meetings/kickoff"]["id"]
    answer = httpx.post(
        f"{emulator.base_url}/crm/v4/associations/meetings/companies/batch/read",
        json={"inputs": [{"id": meeting_id}]},
        headers={"Authorization": f"Bearer {emulator.token}"},
    ).json()
    assert all(not r.get("to") for r in answer.get("results", []))
    assert [a["to_type"] for a in state["meetings/kickoff"]["associations"]] == ["contacts"]
    assert run("plan", "--project", project, "--detailed-exitcode")[0] == 0
