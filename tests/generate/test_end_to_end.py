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


@pytest.mark.contract(False)  # 1,100 records: the contract check would take longer than the run
def test_the_generated_example_applies_then_plans_no_changes(
    example: Path, tmp_path: Path, run: Run, emulator: Emulator
) -> None:
    code, out, err = run("apply", "--project", example, "--auto-approve")
    assert code == 0, err
    assert "Apply complete: 1159 created" in out
    code, out, err = run("plan", "--project", example, "--detailed-exitcode")
    assert code == 0, out + err
    assert "No changes." in out
    # the showcase accounts are patched, the rest generated
    state = json.loads((example / ".reconciler" / "state" / "local.json").read_text())
    acme = state["records"]["companies/acct-0001"]["properties"]
    assert acme["name"] == "Acme Robotics" and acme["domain"] == "acme-robotics.example.com"
    contact = state["records"]["contacts/acct-0001-c1"]["properties"]
    assert contact["email"].endswith("@acme-robotics.example.com")
    # more accounts: only the new records are created
    code, out, err = run("plan", "--project", example, "--var", "accounts=125")
    assert code == 0, err
    assert "0 to update, 0 to archive" in out and "to create" in out
    # the records as plain YAML: a folder that plans like the generators
    out_dir = tmp_path / "rendered"
    code, out, err = run("render", "--project", example, "--out", out_dir)
    assert code == 0, err
    assert "Rendered 1159 records" in out
    text = (out_dir / "generated" / "pipeline.yaml").read_text()
    assert text.startswith("# Rendered by `reconciler render` from the project 'acme-demo'")
    state_file = example / ".reconciler" / "state" / "local.json"
    code, out, err = run("plan", "--project", out_dir, "--state", state_file, "--offline")
    assert code == 0, err
    assert "No changes." in out
    code, _, err = run("render", "--project", example, "--out", example / "rendered")
    assert code == 1
    assert "is inside the project" in err
