"""Incremental and full refresh through the real CLI, over real HTTP, against the emulator:
what each finds, when the cheap path falls back to a full read, and what a plan costs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.identity.refresh_log import log_path_for
from tests.helpers import Run, stored, write_project

PROJECT = """\
name: demo
timezone: Europe/Berlin
"""

SPEC = """\
companies:
  acme:
    name: Acme GmbH
    domain: acme.example
contacts:
  jane:
    email: jane@acme.example
    first_name: Jane
    associations:
      - company: acme
  joe:
    email: joe@acme.example
    first_name: Joe
meetings:
  kickoff:
    title: Kickoff
    start: 2026-12-01T10:00:00+01:00
    duration: 45m
    associations:
      - contact: jane
      - company: acme
calls:
  intro:
    title: Intro call
    timestamp: 2026-11-20T15:00:00+01:00
    associations:
      - contact: jane
"""

STATE = Path(".reconciler/state/local.json")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "proj", {"reconciler.yaml": PROJECT, "spec.yaml": SPEC})


def _ids(project: Path) -> dict[str, str]:
    records = json.loads((project / STATE).read_text())["records"]
    return {address: record["id"] for address, record in records.items()}


def _api(emulator: Any, method: str, path: str, **kwargs: Any) -> None:
    headers = {"Authorization": f"Bearer {emulator.token}"}
    httpx.request(method, emulator.base_url + path, headers=headers, **kwargs).raise_for_status()


def _plan(run: Run, project: Path, *args: str) -> tuple[dict[str, Any], str]:
    """The plan as JSON, and the text output's refresh line."""
    code, out, err = run("plan", "--project", project, *args)
    assert code == 0, out + err
    line = next(line for line in out.splitlines() if line.startswith("Refreshed"))
    code, out, err = run("plan", "--project", project, "--json", *args)
    assert code == 0, out + err
    return json.loads(out), line


def _changes(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {change["address"]: change for change in plan["changes"]}


def _applied(run: Run, project: Path) -> None:
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    # the apply left the refresh what it wrote: the first plan after it reads nothing (#19)
    _, line = _plan(run, project)
    assert line == "Refreshed incrementally: 0 changed record(s) read.", line


def test_incremental_finds_an_edit_a_deletion_and_an_archive(
    run: Run, project: Path, emulator: Any
) -> None:
    _applied(run, project)
    assert log_path_for(project / STATE).is_file()
    plan, line = _plan(run, project)
    assert line.startswith("Refreshed incrementally: "), line
    assert plan["changes"] == []

    ids = _ids(project)
    _api(emulator, "PATCH", f"/crm/v3/objects/meetings/{ids['meetings/kickoff']}",
         json={"properties": {"hs_meeting_title": "Renamed in the UI"}})
    _api(emulator, "DELETE", f"/crm/v3/objects/calls/{ids['calls/intro']}")
    _api(emulator, "POST", "/crm/v3/objects/contacts/batch/archive",
         json={"inputs": [{"id": ids["contacts/joe"]}]})

    plan, line = _plan(run, project)
    assert line == "Refreshed incrementally: 3 changed record(s) read, 2 gone from the portal."
    changes = _changes(plan)
    assert sorted(changes) == ["calls/intro", "contacts/joe", "meetings/kickoff"]
    assert changes["meetings/kickoff"]["drift"] == [
        {"property": "hs_meeting_title", "applied": "Kickoff", "portal": "Renamed in the UI"}
    ]
    assert changes["calls/intro"]["reason"] == "deleted in the portal"
    assert changes["contacts/joe"]["reason"] == "deleted in the portal"

    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    assert [m["properties"]["hs_meeting_title"] for m in stored(emulator, "meetings")] == [
        "Kickoff"
    ]
    # what the apply wrote is read once more (it is newer than the log), then nothing
    for _ in range(2):
        plan, line = _plan(run, project)
        assert plan["changes"] == [], line


def test_drift_not_applied_shows_again(run: Run, project: Path, emulator: Any) -> None:
    """The log's cutoff stays below a drifting record until an apply puts it back."""
    _applied(run, project)
    ids = _ids(project)
    _api(emulator, "PATCH", f"/crm/v3/objects/companies/{ids['companies/acme']}",
         json={"properties": {"name": "Acme (UI)"}})
    for _ in range(3):
        plan, _ = _plan(run, project)
        assert list(_changes(plan)) == ["companies/acme"]


def test_a_removed_association_is_put_back_by_a_full_refresh(
    run: Run, project: Path, emulator: Any
) -> None:
    _applied(run, project)
    ids = _ids(project)
    meeting, jane = ids["meetings/kickoff"], ids["contacts/jane"]
    _api(emulator, "DELETE", f"/crm/v4/objects/meetings/{meeting}/associations/contacts/{jane}")

    # incremental: no documented signal for association edits; the nightly full run finds it
    plan, line = _plan(run, project)
    assert line.startswith("Refreshed incrementally"), line
    assert plan["changes"] == []

    plan, line = _plan(run, project, "--refresh=full")
    assert line.startswith("Refreshed in full (--refresh=full)"), line
    changes = _changes(plan)
    assert list(changes) == ["meetings/kickoff"]
    assert changes["meetings/kickoff"]["reason"] == "changed in the portal"
    added = changes["meetings/kickoff"]["add_associations"]
    assert [(a["to_type"], a["to_key"]) for a in added] == [("contacts", "jane")]
    assert changes["meetings/kickoff"]["changes"] == []

    code, out, err = run("apply", "--project", project, "--auto-approve", "--refresh=full")
    assert code == 0, out + err
    [stored_meeting] = [m for m in emulator.records("meetings")]
    assert stored_meeting["id"] == meeting
    plan, _ = _plan(run, project, "--refresh=full")
    assert plan["changes"] == []
    state = json.loads((project / STATE).read_text())["records"]["meetings/kickoff"]
    assert len(state["associations"]) == 2  # put back, not recorded twice


def test_undeclared_associations_are_never_touched(
    run: Run, project: Path, emulator: Any
) -> None:
    _applied(run, project)
    ids = _ids(project)
    # an association made in the portal that the spec does not declare: joe on the call
    _api(emulator, "PUT",
         f"/crm/v4/objects/calls/{ids['calls/intro']}/associations/default/contacts/"
         f"{ids['contacts/joe']}")
    plan, _ = _plan(run, project, "--refresh=full")
    assert plan["changes"] == []


@pytest.mark.parametrize("damage", ["missing", "garbage", "other-lineage", "older-serial"])
def test_falls_back_to_full_when_the_log_cannot_be_trusted(
    run: Run, project: Path, emulator: Any, damage: str
) -> None:
    _applied(run, project)
    log = log_path_for(project / STATE)
    data = json.loads(log.read_text())
    if damage == "missing":
        log.unlink()
        why = "no previous refresh"
    elif damage == "garbage":
        log.write_text("{not json")
        why = "no previous refresh"
    elif damage == "other-lineage":
        log.write_text(json.dumps({**data, "lineage": "another"}))
        why = "the last refresh was of another state"
    else:
        log.write_text(json.dumps({**data, "serial": data["serial"] + 1}))
        why = "the state is older than the last refresh (restored?)"
    ids = _ids(project)
    _api(emulator, "DELETE", f"/crm/v3/objects/calls/{ids['calls/intro']}")
    plan, line = _plan(run, project)
    assert line.startswith(f"Refreshed in full ({why})"), line
    assert _changes(plan)["calls/intro"]["reason"] == "deleted in the portal"


def test_a_type_with_most_records_changed_is_read_in_full(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    lines = ["contacts:"] + [
        f"  p{i}:\n    email: p{i}@example.com\n    first_name: P{i}" for i in range(250)
    ]
    project = write_project(tmp_path / "many", {
        "reconciler.yaml": PROJECT, "spec.yaml": "\n".join(lines) + "\n",
    })
    _applied(run, project)
    ids = sorted(_ids(project).values(), key=int)
    inputs = [{"id": i, "properties": {"firstname": "Edited"}} for i in ids[:210]]
    for start in (0, 100, 200):
        _api(emulator, "POST", "/crm/v3/objects/contacts/batch/update",
             json={"inputs": inputs[start : start + 100]})
    plan, line = _plan(run, project)
    assert line.startswith("Refreshed incrementally: 250 changed record(s) read; contacts in "
                           "full (210 records changed)"), line
    assert len(plan["changes"]) == 210


def test_a_plan_of_unchanged_records_costs_a_handful_of_requests(
    run: Run, tmp_path: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The emulator indexes at once (no lag): no margin, or every record this test just
    # created would be in the window a refresh reads again after the edits below.
    monkeypatch.setenv("RECONCILER_RECOVERY_GRACE_SECONDS", "0")
    lines = ["meetings:"] + [
        f"  m{i}:\n    title: Meeting {i}\n    start: 2026-12-01T10:00:00Z" for i in range(600)
    ] + ["calls:"] + [
        f"  c{i}:\n    title: Call {i}\n    timestamp: 2026-12-01T10:00:00Z" for i in range(600)
    ]
    project = write_project(tmp_path / "bulk", {
        "reconciler.yaml": PROJECT, "spec.yaml": "\n".join(lines) + "\n",
    })
    _applied(run, project)
    emulator.clear_requests()
    code, out, err = run("plan", "--project", project)
    assert code == 0 and "No changes." in out, out + err
    sent = [(r["method"], r["path"]) for r in emulator.requests()]
    searches = [p for m, p in sent if p.endswith("/search")]
    assert len(searches) == 2, sent  # one per type: count, newest time and changes at once
    assert not [p for m, p in sent if "batch/read" in p], sent
    assert len(sent) <= 6, sent

    ids = sorted(_ids(project).values(), key=int)
    _api(emulator, "POST", "/crm/v3/objects/meetings/batch/update", json={"inputs": [
        {"id": i, "properties": {"hs_meeting_title": "Edited"}} for i in ids[:100]
    ]})
    emulator.clear_requests()
    plan, _ = _plan(run, project)
    assert len(plan["changes"]) == 100
    sent = [(r["method"], r["path"]) for r in emulator.requests()]
    reads = [p for m, p in sent if "batch/read" in p]
    assert len(reads) == 2, sent  # one batch of 100 per plan run (text, then JSON)


def test_the_daily_budget_refuses_an_apply_that_cannot_finish_today(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    lines = ["meetings:"] + [
        f"  m{i}:\n    title: Meeting {i}\n    start: 2026-12-01T10:00:00Z" for i in range(1100)
    ]
    project = write_project(tmp_path / "budget", {
        "reconciler.yaml": PROJECT, "spec.yaml": "\n".join(lines) + "\n",
    })
    emulator.set_config(daily_limit=12)  # (plan and apply each look for marked records: 2)
    code, out, err = run("plan", "--project", project)
    assert code == 0, out + err
    # 11 batches, the plan's reads again, the marker properties checked and made, a count
    assert "Apply will take about 19 request(s)" in out
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 1, out + err
    assert (
        "this apply for target local needs about 19 requests, but HubSpot's daily limit "
        "leaves 8 for today"
    ) in err
    assert "--ignore-daily-budget" in err
    assert stored(emulator, "meetings") == []

    code, out, err = run("apply", "--project", project, "--auto-approve", "--ignore-daily-budget")
    assert "Apply will take about 19 request(s)." in out
    assert code == 1 and "daily" in err  # it started, and stopped at the limit
    assert 0 < len(stored(emulator, "meetings")) < 1100


@pytest.mark.fake_clock
def test_an_edit_search_has_not_indexed_yet_shows_in_the_next_plan(
    run: Run, project: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_RECOVERY_GRACE_SECONDS", "2")
    _applied(run, project)
    emulator.set_config(search_lag_seconds=1.0)
    ids = _ids(project)
    _api(emulator, "PATCH", f"/crm/v3/objects/contacts/{ids['contacts/joe']}",
         json={"properties": {"firstname": "Joseph"}})
    code, out, _ = run("plan", "--project", project)
    assert code == 0 and "No changes." in out  # search does not have it yet: documented
    emulator.clock.sleep(1.2)
    plan, line = _plan(run, project)
    assert line.startswith("Refreshed incrementally: 1 changed record(s) read"), line
    assert list(_changes(plan)) == ["contacts/joe"]
