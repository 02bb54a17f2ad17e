"""The request estimate tells the truth (#19): what ``plan`` says an apply will take is
within 10 % of the requests the emulator counted while that apply ran, for a plan of each
action: its reads (made again), marker properties, batches, reads back, association
changes, label reads, calendar meetings and the searches while search catches up."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import write_project
from tests.honesty.conftest import edit, generated_project

Run = Callable[..., tuple[int, str, str]]
ESTIMATE = re.compile(r"Apply will take about ([\d,]+) request\(s\)")


def _estimate(run: Run, root: Path, *args: str) -> tuple[int, str]:
    code, out, err = run("plan", "--project", root, *args)
    assert code in (0, 2), out + err
    found = ESTIMATE.search(out)
    assert found is not None, out
    return int(found.group(1).replace(",", "")), out


def _sent_by_apply(run: Run, emulator: Any, root: Path, *args: str) -> int:
    emulator.clear_requests()
    code, out, err = run("apply", "--project", root, "--auto-approve", *args)
    assert code == 0, out + err
    return len(emulator.requests())


def _honest(
    run: Run, emulator: Any, root: Path, expect: str, *args: str, apply: tuple[str, ...] = ()
) -> None:
    """The plan holds ``expect``; its estimate is within 10 % of what its apply sent."""
    estimate, out = _estimate(run, root, *args)
    assert expect in out, out
    sent = _sent_by_apply(run, emulator, root, *args, *apply)
    assert abs(estimate - sent) <= sent / 10, (estimate, sent, out)


def _apply(run: Run, root: Path) -> None:
    code, out, err = run("apply", "--project", root, "--auto-approve")
    assert code == 0, out + err


def test_creates_updates_association_changes_and_archives(
    run: Run, emulator: Any, tmp_path: Path
) -> None:
    root = generated_project(tmp_path / "p", contacts=150, meetings=1)
    # (the first apply also makes the marker properties on every type)
    _honest(run, emulator, root, "Plan: 450 to create")
    edit(root, '"Call with {{ parent.first_name }}"', '"Call to {{ parent.first_name }}"')
    _honest(run, emulator, root, "150 to update")
    edit(root, '    associations:\n      - contact: "{{ parent.key }}"\n  calls:', "  calls:")
    _honest(run, emulator, root, "150 to update")  # (the meetings' associations removed)
    edit(root, "  calls:", '    associations:\n      - contact: "{{ parent.key }}"\n  calls:')
    _honest(run, emulator, root, "150 to update")  # (and added again)
    config = root / "reconciler.yaml"
    config.write_text(config.read_text().replace("default: 150", "default: 120"))
    _honest(run, emulator, root, "90 to archive", apply=("--allow-archives", "90"))


def test_adopts_after_the_state_is_lost_and_dedupes(
    run: Run, emulator: Any, tmp_path: Path
) -> None:
    root = generated_project(tmp_path / "p", contacts=60, meetings=1)
    _apply(run, root)
    state_dir = root / ".reconciler" / "state"
    records = json.loads((state_dir / "local.json").read_text())["records"]
    for path in state_dir.glob("local.json*"):
        path.unlink()
    edit(root, '"Call with {{ parent.first_name }}"', '"Call to {{ parent.first_name }}"')
    _honest(run, emulator, root, "180 to adopt")

    # a copy of a call, marker and all: the extra record is archived
    call = records["calls/c001-call1"]["id"]
    headers = {"Authorization": f"Bearer {emulator.token}"}
    original = httpx.get(
        f"{emulator.base_url}/crm/v3/objects/calls/{call}", headers=headers, timeout=10,
        params={"properties": "reconciler_key,reconciler_project,hs_timestamp"},
    ).json()["properties"]
    copy = httpx.post(f"{emulator.base_url}/crm/v3/objects/calls", headers=headers, timeout=10,
                      json={"properties": {k: original[k] for k in (
                          "reconciler_key", "reconciler_project", "hs_timestamp")}})
    assert copy.status_code == 201, copy.text
    _honest(run, emulator, root, "1 to dedupe", "--dedupe")


def test_moves_and_calendar_meetings(run: Run, emulator: Any, tmp_path: Path) -> None:
    contacts = "".join(f"  c{n}: {{email: c{n}@example.com}}\n" for n in range(30))
    meetings = "".join(
        f"  demo{n}:\n    title: Demo {n}\n    start: 2026-12-0{1 + n % 5}T14:00:00+01:00\n"
        f"    duration: 1h\n    calendar: {{organizer: \"5001\", reminders: [15m]}}\n"
        f"    associations:\n      - contact: c{n}\n"
        for n in range(12)
    )
    root = write_project(tmp_path / "p", {
        "reconciler.yaml": "name: moving\nid: moving-01\ndefault_owner: alice@example.com\n",
        "spec.yaml": f"contacts:\n{contacts}meetings:\n{meetings}",
    })
    _honest(run, emulator, root, "12 to create")
    moved = "".join(f"  - {{from: contacts/c{n}, to: contacts/renamed{n}}}\n" for n in range(20))
    spec = (root / "spec.yaml").read_text()
    for n in range(20):
        spec = spec.replace(f"  c{n}: ", f"  renamed{n}: ").replace(
            f"contact: c{n}\n", f"contact: renamed{n}\n")
    (root / "spec.yaml").write_text(spec + f"moved:\n{moved}")
    _honest(run, emulator, root, "20 to move")
