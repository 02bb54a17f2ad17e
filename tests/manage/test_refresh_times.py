"""`reconciler refresh-times`: move pinned relative times forward to now."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.records import UpdateInput
from tests.manage.conftest import Run, backups, one_line_error, state_of, stored


def _shift(value: str, delta: timedelta) -> str:
    moved = datetime.fromisoformat(value.replace("Z", "+00:00")) + delta
    return moved.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def full_pins(record: dict[str, Any]) -> dict[str, dict[str, str]]:
    """A saved record's pins, each as {expr, value} (a pin whose value is its property's
    is saved as its expression alone)."""
    return {
        name: {"expr": pin, "value": record["properties"][name]} if isinstance(pin, str) else pin
        for name, pin in record["pinned"].items()
    }


def age_the_meeting(project: Path, hub: HubSpotClient, days: int) -> dict[str, str]:
    """Make it look as if the meeting was created ``days`` ago: its pinned relative times
    (in the state and in the portal) are that much earlier."""
    path = project / ".reconciler/state/local.json"
    data = json.loads(path.read_text())
    meeting = data["records"]["meetings/kickoff"]
    old = {}
    meeting["pinned"] = full_pins(meeting)
    for name, pin in meeting["pinned"].items():
        old[name] = pin["value"] = _shift(pin["value"], timedelta(days=-days))
    for name in list(meeting["properties"]):
        if name in ("hs_meeting_start_time", "hs_meeting_end_time", "hs_timestamp"):
            meeting["properties"][name] = _shift(meeting["properties"][name], timedelta(days=-days))
    path.write_text(json.dumps(data))
    hub.batch_update("meetings", [UpdateInput(meeting["id"], {
        k: v for k, v in meeting["properties"].items()
        if k in ("hs_meeting_start_time", "hs_meeting_end_time", "hs_timestamp")
    })])
    return old


def test_refresh_times_moves_the_meeting_back_into_the_future(
    run: Run, project: Path, hub: HubSpotClient, emulator: Any
) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    fresh = full_pins(state_of(project)["records"]["meetings/kickoff"])
    old = age_the_meeting(project, hub, days=7)
    assert "hs_meeting_start_time" in old

    code, out, _ = run("plan", "--project", project)
    assert "No changes." in out  # pinned: a plan a week later does not move the meeting

    code, out, err = run("refresh-times", "--project", project, "--auto-approve")
    assert code == 0, out + err
    assert "Plan: 0 to create, 1 to update, 0 to archive." in out
    assert "Moved the times of 1 record(s)." in out
    pinned = full_pins(state_of(project)["records"]["meetings/kickoff"])
    assert {k: v["value"] for k, v in pinned.items()} == {k: v["value"] for k, v in fresh.items()}
    (meeting,) = stored(emulator, "meetings")
    start = datetime.fromisoformat(meeting["properties"]["hs_meeting_start_time"].replace("Z", "+00:00"))
    assert start > datetime.now(timezone.utc)
    assert len(backups(project)) == 1

    code, out, _ = run("plan", "--project", project)
    assert "No changes." in out, out


def test_refresh_times_with_nothing_to_move_changes_nothing(run: Run, project: Path) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    code, out, err = run("refresh-times", "--project", project, "--auto-approve")
    assert code == 0, err
    assert "No changes." in out
    assert backups(project) == []


def test_refresh_times_without_a_terminal_needs_auto_approve(run: Run, project: Path) -> None:
    line = one_line_error(*run("refresh-times", "--project", project))
    assert "pass --auto-approve" in line
