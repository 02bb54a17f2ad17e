"""Updates that change nothing are re-pins (#19): renaming one option of the
``random_choice`` in a meeting title's template changes the pin's definition of every
meeting, but the value of only those that drew that option. The others are a state-only re-pin: not an update, not a
request, one summary line; and a stateless rebuild after them still plans no change."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.honesty.conftest import edit, generated_project

Run = Callable[..., tuple[int, str, str]]


def _applied(run: Run, root: Path) -> str:
    code, out, err = run("apply", "--project", root, "--auto-approve")
    assert code == 0, out + err
    return out


def _renamed(run: Run, root: Path) -> dict[str, Any]:
    """Apply the project, rename one option, and return the plan's JSON."""
    _applied(run, root)
    edit(root, "'Demo'", "'Product demo'")
    code, out, err = run("plan", "--project", root, "--json")
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


def test_renaming_an_option_plans_updates_only_where_a_value_changes(
    run: Run, emulator: Any, tmp_path: Path
) -> None:
    root = generated_project(tmp_path / "p")
    document = _renamed(run, root)
    updates = [c for c in document["changes"] if c["action"] == "update"]
    repins = [c for c in document["changes"] if c["action"] == "repin"]
    assert updates and repins, document["summary"]
    assert all(c["changes"] for c in updates), "an update that changes no property"
    assert {p["property"] for c in updates for p in c["changes"]} == {"hs_meeting_title"}
    assert all(p["after"].startswith("Product demo") for c in updates for p in c["changes"])
    assert all(not c["changes"] and c["type"] == "meetings" for c in repins)
    assert len(updates) + len(repins) == 40  # every meeting's pin changed
    assert document["format_version"] == 4
    assert document["summary"]["update"] == len(updates)
    assert document["summary"]["repin"] == len(repins)

    code, out, err = run("plan", "--project", root)
    assert code == 0, err
    assert (f"  meetings: {len(updates)} to update: {len(updates)} × hs_meeting_title; "
            f"{len(repins)} pins refreshed, no portal change") in out.splitlines()
    assert (f"Plan: 0 to create, {len(updates)} to update, 0 to archive; {len(repins)} pins "
            "refreshed, no portal change.") in out
    assert sum(1 for line in out.splitlines() if line.startswith("  ~ ")) == len(updates)

    code, out, err = run("plan", "--project", root, "--format", "markdown")
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith("| \\~ |")]
    assert len(rows) == len(updates)
    assert all("`hs_meeting_title`: " in row for row in rows), rows[:3]
    assert (f"- meetings: {len(updates)} to update: {len(updates)} × `hs_meeting_title`; "
            f"{len(repins)} pins refreshed, no portal change") in out.splitlines()

    repinned_ids = {c["id"] for c in repins}
    emulator.clear_requests()
    out = _applied(run, root)
    assert f"{len(repins)} pins refreshed, no portal change" in out
    sent_ids = {
        item["id"]
        for r in emulator.requests() if r["path"].endswith("/batch/update")
        for item in r["request_body"]["inputs"]
    }
    assert sent_ids == {c["id"] for c in updates} and not sent_ids & repinned_ids
    code, out, err = run("plan", "--project", root, "--detailed-exitcode")
    assert code == 0 and "No changes." in out, out + err


def test_a_plan_of_repins_alone_changes_no_portal_value_and_applies_without_a_request(
    run: Run, emulator: Any, tmp_path: Path
) -> None:
    """Renaming an option no record drew is re-pins only: apply records them, sends
    nothing (not even the marker properties' check), and the next plan has nothing."""
    root = generated_project(tmp_path / "p", contacts=3)
    _applied(run, root)
    titles = json.dumps([r["properties"] for r in emulator.records("meetings")])
    unused = sorted(c for c in ("Kickoff", "Demo", "Review", "Planning") if c not in titles)
    assert unused, "every option was drawn; pick a smaller project"
    edit(root, f"'{unused[0]}'", f"'{unused[0]} renamed'")
    code, out, err = run("plan", "--project", root, "--detailed-exitcode")
    assert code == 2, out + err  # (apply has something to record)
    assert "No changes to the portal; 6 pins refreshed, no portal change." in out
    assert "Reconciler will perform" not in out
    emulator.clear_requests()
    out = _applied(run, root)
    writes = [r for r in emulator.requests() if r["method"] != "GET"
              and not r["path"].endswith("/search")]
    assert writes == [], writes
    assert "6 pins refreshed, no portal change" in out
    code, out, err = run("plan", "--project", root, "--detailed-exitcode")
    assert code == 0, out + err


def test_a_stateless_rebuild_after_repins_plans_no_changes(
    run: Run, emulator: Any, tmp_path: Path
) -> None:
    """A re-pin leaves the digest in the portal (``reconciler_applied``) with the pin it
    replaced. A state rebuilt from the portal re-derives the pin as the kept state has it
    (the definition changed, the value is the one the portal holds): no change, and not
    the same re-pins again."""
    root = generated_project(tmp_path / "p")
    _renamed(run, root)
    _applied(run, root)
    shutil.rmtree(root / ".reconciler")
    code, out, err = run("state", "rebuild", "--project", root)
    assert code == 0, out + err
    code, out, err = run("plan", "--project", root, "--detailed-exitcode")
    assert code == 0 and "No changes. The portal matches the spec." in out, out + err

    shutil.rmtree(root / ".reconciler")  # a CI job without a state: the scan adopts them
    code, out, err = run("plan", "--project", root, "--json")
    assert code == 0, err
    summary = json.loads(out)["summary"]
    assert summary == {"create": 0, "update": 0, "archive": 0, "unchanged": 0, "adopt": 80}
    assert all(not c["changes"] for c in json.loads(out)["changes"])


def test_a_saved_plan_with_repins_applies(run: Run, tmp_path: Path) -> None:
    root = generated_project(tmp_path / "p")
    _renamed(run, root)
    plan_file = tmp_path / "plan.json"
    code, out, err = run("plan", "--project", root, "--out", plan_file)
    assert code == 0, err
    assert json.loads(plan_file.read_text())["summary"].get("repin")
    code, out, err = run("apply", "--project", root, "--plan", plan_file, "--auto-approve")
    assert code == 0, out + err
    assert "pins refreshed, no portal change" in out
    code, out, err = run("plan", "--project", root, "--detailed-exitcode")
    assert code == 0, out + err
