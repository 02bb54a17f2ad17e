"""A generated project with calendars and stories, applied to the emulator by the CLI:
then `No changes.`, and more deals plan only creates around what is applied."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.emulator.embedded import Emulator

from .test_stories import PROJECT, STORY

Run = Callable[..., tuple[int, str, str]]


@pytest.mark.contract(False)  # a few hundred records: the contract check would dominate
def test_stories_apply_then_plan_no_changes_and_grow_by_creates_only(
    tmp_path: Path, run: Run, emulator: Emulator
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "reconciler.yaml").write_text(PROJECT.replace("accounts: 8", "accounts: 4"), "utf-8")
    (root / "gen.yaml").write_text(STORY, "utf-8")
    code, out, err = run("apply", "--project", root, "--auto-approve")
    assert code == 0, err
    assert "Apply complete:" in out
    code, out, err = run("plan", "--project", root, "--detailed-exitcode")
    assert (code, "No changes." in out) == (0, True), out + err
    code, out, err = run("plan", "--project", root, "--offline", "--detailed-exitcode")
    assert (code, "No changes." in out) == (0, True), out + err
    code, out, err = run("plan", "--project", root, "--var", "accounts=6", "--json")
    assert code == 0, err
    changes = json.loads(out)["changes"]
    assert changes and {c["action"] for c in changes} == {"create"}
    assert {c["key"].split("-")[1] for c in changes} == {"005", "006"}
