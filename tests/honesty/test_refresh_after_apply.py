"""An apply leaves the refresh what it wrote (#19): the plan after an apply, its first
included, reads nothing again of what the apply wrote and costs no more requests than a
plan of an unchanged portal, whatever the size; edits made in HubSpot are still found."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.honesty.conftest import edit, generated_project, sent

Run = Callable[..., tuple[int, str, str]]
#: the types the project writes: one properties read (the catalogue) and one search each
PLAN_AFTER_APPLY = 10


def _apply(run: Run, root: Path) -> None:
    code, out, err = run("apply", "--project", root, "--auto-approve")
    assert code == 0, out + err


def _plan(run: Run, emulator: Any, root: Path) -> tuple[str, list[str]]:
    emulator.clear_requests()
    code, out, err = run("plan", "--project", root)
    assert code == 0, out + err
    return out, sent(emulator)


def _patch(emulator: Any, object_type: str, hubspot_id: str, properties: dict[str, str]) -> None:
    answer = httpx.patch(f"{emulator.base_url}/crm/v3/objects/{object_type}/{hubspot_id}",
                         headers={"Authorization": f"Bearer {emulator.token}"},
                         json={"properties": properties}, timeout=10)
    assert answer.status_code == 200, answer.text


def _state(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (root / ".reconciler" / "state" / "local.json").read_text(encoding="utf-8"))
    return data


def test_the_first_plan_after_the_first_apply_is_incremental_and_cheap(
    run: Run, emulator: Any, tmp_path: Path
) -> None:
    root = generated_project(tmp_path / "p", contacts=60)
    _apply(run, root)
    out, requests = _plan(run, emulator, root)
    assert "No changes." in out
    assert "Refreshed incrementally: 0 changed record(s) read." in out, out
    assert len(requests) <= PLAN_AFTER_APPLY, requests
    assert not [r for r in requests if r.endswith("/batch/read")], requests


def test_a_plan_after_an_apply_that_rewrote_every_call_reads_none_of_them(
    run: Run, emulator: Any, tmp_path: Path
) -> None:
    """250 calls updated by a template edit: the next plan reads none again (before, the
    refresh read calls in full: more than 40 % of them had changed)."""
    root = generated_project(tmp_path / "p", contacts=250, meetings=0)
    _apply(run, root)
    edit(root, '"Call with {{ parent.first_name }}"', '"Call to {{ parent.first_name }}"')
    _apply(run, root)
    out, requests = _plan(run, emulator, root)
    assert "No changes." in out
    assert "Refreshed incrementally: 0 changed record(s) read." in out, out
    assert len(requests) <= PLAN_AFTER_APPLY, requests

    # Edits made in HubSpot since are found: to a record the apply wrote, and to another.
    records = _state(root)["records"]
    call, contact = records["calls/c001-call1"]["id"], records["contacts/c002"]["id"]
    _patch(emulator, "calls", call, {"hs_call_title": "Edited in HubSpot"})
    _patch(emulator, "contacts", contact, {"lastname": "Edited"})
    out, requests = _plan(run, emulator, root)
    assert "Refreshed incrementally: 2 changed record(s) read." in out, out
    assert "  calls/c001-call1" in out and "  contacts/c002" in out
    assert len(requests) <= PLAN_AFTER_APPLY + 2, requests  # (+ one batch read per type)


def test_a_record_the_apply_wrote_then_deleted_in_hubspot_is_found(
    run: Run, emulator: Any, tmp_path: Path
) -> None:
    """The span is counted, never assumed: a call the apply rewrote, deleted since, shows
    as a create in the next plan."""
    root = generated_project(tmp_path / "p", contacts=30, meetings=0)
    _apply(run, root)
    edit(root, '"Call with {{ parent.first_name }}"', '"Call to {{ parent.first_name }}"')
    _apply(run, root)
    call = _state(root)["records"]["calls/c004-call1"]["id"]
    answer = httpx.delete(f"{emulator.base_url}/crm/v3/objects/calls/{call}",
                          headers={"Authorization": f"Bearer {emulator.token}"}, timeout=10)
    assert answer.status_code == 204, answer.text
    out, _ = _plan(run, emulator, root)
    assert "  + calls/c004-call1" in out, out
    assert "1 gone from the portal" in out, out


def test_an_edit_inside_what_the_apply_wrote_reads_the_type_in_full(
    run: Run, emulator: Any, tmp_path: Path
) -> None:
    """A record of the type modified while the apply ran (here: the span the apply left
    is widened to now, as if the edit had come during the apply) changes the span's count:
    the type is read in full, and the edit is found."""
    root = generated_project(tmp_path / "p", contacts=30, meetings=0)
    _apply(run, root)
    edit(root, '"Call with {{ parent.first_name }}"', '"Call to {{ parent.first_name }}"')
    log_path = root / ".reconciler" / "state" / "local.json.refresh.json"
    calls = _state(root)["records"]
    untouched = calls["contacts/c003"]["id"]
    _apply(run, root)  # (rewrites the calls only)
    log = json.loads(log_path.read_text())
    assert set(log["applied"]) == {"calls"}, log["applied"]
    log["applied"]["contacts"] = {"from_ms": 0, "to_ms": 4_102_444_800_000, "at": 0,
                                  "ids": [calls["contacts/c001"]["id"]]}
    log_path.write_text(json.dumps(log))
    _patch(emulator, "contacts", untouched, {"lastname": "Edited during the apply"})
    out, _ = _plan(run, emulator, root)
    assert "contacts in full (records were modified in HubSpot while the last apply ran)" in out
    assert "  contacts/c003" in out and "Edited during the apply" in out
