"""`reconciler validate` and `reconciler schema` through the real entry point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.cli import main

from .conftest import BAD_SPECS, EXAMPLES


def test_validate_examples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES, copy, ignore=shutil.ignore_patterns(".reconciler"))
    assert main(["validate", str(copy)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"OK: 21 records in {copy} (")
    assert main(["validate", "--no-cache", str(copy)]) == 0


def test_validate_reports_every_problem_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(BAD_SPECS)
    assert main(["validate", "--no-cache", "many-errors-sorted"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    expected = (BAD_SPECS / "many-errors-sorted" / "expected.txt").read_text().splitlines()
    assert lines == [*expected, "Error: 3 problems found in the spec"]
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    "case",
    [
        "not-utf8", "yaml-syntax-error", "empty-file", "yaml-tags",
        "billion-laughs", "deep-flow-nesting", "deep-block-nesting", "alias-nesting",
    ],
)  # fmt: skip
def test_validate_never_shows_a_traceback(
    case: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(BAD_SPECS)
    assert main(["validate", "--no-cache", case]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_validate_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_schema_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "hubspot-reconciler spec file"
    assert main(["schema", "--project-file"]) == 0
    assert "default_owner" in json.loads(capsys.readouterr().out)["properties"]


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("validate", "schema"):
        assert main([command, "--help"]) == 0
        assert "Example:" in capsys.readouterr().out
