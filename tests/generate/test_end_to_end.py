"""The shipped example, applied to the emulator: then `No changes.`; and `render` by CLI."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.emulator.embedded import Emulator

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES, copy, ignore=shutil.ignore_patterns(".reconciler", "gitops"))
    return copy


#: Four accounts of the example's 50 (its calendars and stories, every type): quick to apply.
SMALL = ("--var", "accounts=4")
COUNT = 530


@pytest.mark.contract(False)  # hundreds of records: the contract check would take longer than the run
def test_the_generated_example_applies_then_plans_no_changes(
    example: Path, tmp_path: Path, run: Run, emulator: Emulator
) -> None:
    code, out, err = run("apply", "--project", example, *SMALL, "--auto-approve")
    assert code == 0, err
    assert f"{COUNT} created" in out  # (after the example's schema changes)
    code, out, err = run("plan", "--project", example, *SMALL, "--detailed-exitcode")
    assert code == 0, out + err
    assert "No changes." in out
    # the showcase accounts are patched, the rest generated
    state = json.loads((example / ".reconciler" / "state" / "local.json").read_text())
    acme = state["records"]["companies/acct-0001"]["properties"]
    assert acme["name"] == "Acme Robotics" and acme["domain"] == "acme-robotics.example.com"
    contact = state["records"]["contacts/acct-0001-c1"]["properties"]
    assert contact["email"].startswith(contact["firstname"].lower())
    assert contact["email"].endswith("@acme-robotics.example.com")
    # all five engagement types, and each deal's story: its demo, recap, follow-up...
    types = {record["object_type"] for record in state["records"].values()}
    assert {"meetings", "calls", "notes", "tasks", "emails"} <= types
    assert {"meetings/acct-0001-d1-demo", "notes/acct-0001-d1-demo_recap",
            "emails/acct-0001-d1-follow_up", "tasks/acct-0001-d1-proposal"} <= set(state["records"])
    # more accounts: only the new records are created
    code, out, err = run("plan", "--project", example, "--var", "accounts=5")
    assert code == 0, err
    assert "0 to update, 0 to archive" in out and "to create" in out
    # the records as plain YAML: a folder that plans like the generators
    out_dir = tmp_path / "rendered"
    code, out, err = run("render", "--project", example, *SMALL, "--out", out_dir)
    assert code == 0, err
    assert f"Rendered {COUNT} records" in out
    text = (out_dir / "generated" / "pipeline.yaml").read_text()
    assert text.startswith("# Rendered by `reconciler render` from the project 'acme-demo'")
    state_file = example / ".reconciler" / "state" / "local.json"
    code, out, err = run("plan", "--project", out_dir, "--state", state_file, "--offline")
    assert code == 0, err
    assert "No changes." in out
    code, _, err = run("render", "--project", example, *SMALL, "--out", example / "rendered")
    assert code == 1
    assert "is inside the project" in err


def test_the_whole_example_fits_its_owners_calendars() -> None:
    """The demo at its default size: ~90 days of every engagement type, placed on three
    owners' calendars that hold it (a step or count added beyond their weeks fails here,
    not in `make demo`), one owner's activities never overlapping."""
    from collections import Counter, defaultdict
    from datetime import datetime, timezone

    from reconciler.loading.project import load_project

    now = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
    desired = load_project(EXAMPLES, reference_time=now, use_cache=False)
    counts = Counter(record.object_type for record in desired.records.values())
    assert counts["companies"] >= 50 and counts["deals"] >= 100
    assert counts["meetings"] >= 1300 and counts["calls"] >= 2500
    assert min(counts[t] for t in ("notes", "tasks", "emails")) >= 300
    spans: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for record in desired.records.values():
        props = record.properties
        if record.object_type == "meetings":
            spans[str(record.owner_email)].append(
                (props["hs_meeting_start_time"], props["hs_meeting_end_time"]))
    for owner, busy in spans.items():
        busy.sort()
        assert all(
            end <= start for (_, end), (start, _) in zip(busy, busy[1:], strict=False)
        ), owner
