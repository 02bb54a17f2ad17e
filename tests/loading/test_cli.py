"""`reconciler validate` and `reconciler schema` through the real entry point."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from reconciler.cli.base import main
from reconciler.loading.project import load_project

from .conftest import BAD_SPECS, EXAMPLES, REFERENCE, SMALL, SMALL_VARS


def _example_count() -> int:
    return len(
        load_project(EXAMPLES, reference_time=REFERENCE, use_cache=False, variables=SMALL_VARS)
        .records
    )


def test_validate_examples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES, copy, ignore=shutil.ignore_patterns(".reconciler"))
    assert main(["validate", *SMALL, str(copy)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"OK: {_example_count()} records in {copy} (")
    assert main(["validate", *SMALL, "--no-cache", str(copy)]) == 0


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


def test_validate_takes_project_as_an_option_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES, copy, ignore=shutil.ignore_patterns(".reconciler"))
    assert main(["validate", *SMALL, "--project", str(copy)]) == 0
    assert capsys.readouterr().out.startswith(f"OK: {_example_count()} records in {copy} (")
    assert main(["validate", *SMALL, "-p", str(copy), str(copy)]) == 0
    capsys.readouterr()
    assert main(["validate", *SMALL, "-p", str(copy), str(tmp_path)]) != 0
    assert "two project folders given" in capsys.readouterr().err


def test_validate_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES, copy, ignore=shutil.ignore_patterns(".reconciler"))
    assert main(["validate", *SMALL, "--json", str(copy)]) == 0
    result = json.loads(capsys.readouterr().out)
    records = load_project(
        EXAMPLES, reference_time=REFERENCE, use_cache=False, variables=SMALL_VARS
    ).records
    by_type = Counter(record.object_type for record in records.values())
    assert result == {
        "format_version": 1, "ok": True, "records": len(records),
        "by_type": dict(sorted(by_type.items())), "problems": [],
    }  # fmt: skip
    monkeypatch.chdir(BAD_SPECS)
    assert main(["validate", "--format", "json", "--no-cache", "many-errors-sorted"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert (result["ok"], result["records"], result["error"]) == (
        False, None, "3 problems found in the spec"
    )  # fmt: skip
    assert result["problems"][1] == {
        "file": "many-errors-sorted/a.yaml", "line": 8, "column": 5, "path": "meetings.a.titl",
        "message": "unknown field 'titl'; did you mean 'title'?",
    }  # fmt: skip
    assert main(["validate", "--json", "no-such-folder"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert (result["ok"], result["problems"]) == (False, [])
    assert result["error"] == "project folder 'no-such-folder' does not exist"


def test_validate_github_annotations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(BAD_SPECS)
    assert main(["validate", "--format", "github", "--no-cache", "many-errors-sorted"]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "::error file=many-errors-sorted/a.yaml,line=5,col=20,title=reconciler validate::"
        "meetings.z.location_type: 'moon' is not a valid location type; use one of ADDRESS, "
        "CUSTOM, PHONE, VCE",
        "::error file=many-errors-sorted/a.yaml,line=8,col=5,title=reconciler validate::"
        "meetings.a.titl: unknown field 'titl'; did you mean 'title'?",
        "::error file=many-errors-sorted/b.yaml,line=3,col=16,title=reconciler validate::"
        "calls.c.timestamp: 'yesterday 25:00': '25:00' is not a valid time of day",
    ]
    assert captured.err == "Error: 3 problems found in the spec\n"
    # Commas, colons and percent signs in a file name cannot break the annotation.
    odd = tmp_path / "a,b:c%"
    odd.mkdir()
    (odd / "x.yaml").write_text("calls: [1]\n")
    assert main(["validate", "--format", "github", str(odd)]) == 1
    line = capsys.readouterr().out.splitlines()[0]
    assert line == (
        f"::error file={tmp_path}/a%2Cb%3Ac%25/x.yaml,line=1,col=8,title=reconciler validate"
        "::calls: expected a mapping, got a list"
    )


def test_validate_refuses_contradicting_formats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--json", "--format", "github"]) != 0
    assert "contradict" in capsys.readouterr().err
