"""`refresh-times` on generated records: times and what they decide move; nothing else."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.connection import ClientSettings
from reconciler.hubspot.records import UpdateInput

Run = Callable[..., tuple[int, str, str]]
_TIMES = ("hs_meeting_start_time", "hs_meeting_end_time", "hs_timestamp")


@pytest.fixture
def hub(emulator: Any) -> Iterator[HubSpotClient]:
    settings = ClientSettings(
        base_url=emulator.base_url, token=emulator.token,
        requests_per_10s=None, search_per_second=None,
    )
    with HubSpotClient(settings) as client:
        yield client


def _full_pins(record: dict[str, Any]) -> dict[str, dict[str, str]]:
    """A saved record's pins, each as {expr, value} (a pin whose value is its property's
    is saved as its expression alone)."""
    return {
        name: {"expr": pin, "value": record["properties"][name]} if isinstance(pin, str) else pin
        for name, pin in record["pinned"].items()
    }


def _earlier(value: str, days: int) -> str:
    moved = datetime.fromisoformat(value.replace("Z", "+00:00")) - timedelta(days=days)
    return moved.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_refresh_times_moves_generated_times_and_their_outcomes_only(
    gen_project: Callable[..., Path], run: Run, hub: HubSpotClient, emulator: Any
) -> None:
    root = gen_project()
    assert run("apply", "--project", root, "--auto-approve")[0] == 0
    path = root / ".reconciler" / "state" / "local.json"
    data = json.loads(path.read_text())
    fresh = {a: _full_pins(r) for a, r in data["records"].items()
             if a.startswith("meetings/")}
    # as if every meeting had been created 60 days ago: past meetings, all of them
    for address in fresh:
        record = data["records"][address]
        record["pinned"] = _full_pins(record)
        for name in _TIMES:
            record["properties"][name] = _earlier(record["properties"][name], 60)
            if name in record["pinned"]:
                record["pinned"][name]["value"] = record["properties"][name]
        # ... and its outcome chosen then: all in the past, so all completed
        record["properties"]["hs_meeting_outcome"] = "COMPLETED"
        record["pinned"]["hs_meeting_outcome"]["value"] = "COMPLETED"
        hub.batch_update("meetings", [UpdateInput(record["id"], {
            name: record["properties"][name] for name in (*_TIMES, "hs_meeting_outcome")
        })])
    path.write_text(json.dumps(data))
    code, out, err = run("plan", "--project", root)
    assert code == 0 and "No changes." in out, out + err  # pinned: nothing moves by itself

    code, out, err = run("refresh-times", "--project", root, "--auto-approve")
    assert code == 0, out + err
    after = json.loads(path.read_text())["records"]
    moved_outcomes = 0
    for address, pins in fresh.items():
        now_pinned = _full_pins(after[address])
        # every value not decided by a time keeps its pin (title, the picked contact)
        for name, pin in pins.items():
            if pin["expr"].startswith("gen:"):
                assert now_pinned[name] == pin, (address, name)
        assert now_pinned["hs_meeting_start_time"] == pins["hs_meeting_start_time"]
        # the outcome follows the time it depends on: scheduled again where it is ahead
        start = after[address]["properties"]["hs_meeting_start_time"]
        ahead = start > datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        outcome = after[address]["properties"]["hs_meeting_outcome"]
        assert outcome == ("SCHEDULED" if ahead else "COMPLETED"), address
        assert now_pinned["hs_meeting_outcome"] == pins["hs_meeting_outcome"]
        moved_outcomes += ahead
    assert moved_outcomes > 0
    code, out, _ = run("plan", "--project", root, "--detailed-exitcode")
    assert code == 0 and "No changes." in out
